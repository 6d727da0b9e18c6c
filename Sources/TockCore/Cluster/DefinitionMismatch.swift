import Foundation

/// A jobs.d job whose definition differs between the live nodes of a cluster, or that only some of them define.
/// Each slot still runs once, with the definition of the node that claimed it (the execution records its digest).
public struct DefinitionMismatch: Sendable, Hashable, Codable {
    /// What one live node has of the job.
    public struct NodeDigest: Sendable, Hashable, Codable {
        /// The node's name.
        public var node: String
        /// The digest of the node's definition (see ``Job/definitionDigest(defaultTimeZone:)``); `nil`: the node
        /// does not define the job.
        public var digest: String?

        public init(node: String, digest: String?) {
            self.node = node
            self.digest = digest
        }
    }

    public var jobID: String
    /// Every live node, by name.
    public var nodes: [NodeDigest]

    public init(jobID: String, nodes: [NodeDigest]) {
        self.jobID = jobID
        self.nodes = nodes.sorted { $0.node < $1.node }
    }

    /// The mismatches among `digests` (node name → job id → digest; one entry per live node): a job is reported
    /// when two nodes disagree on its digest or when some node does not define it. Sorted by job id.
    public static func find(in digests: [String: [String: String]]) -> [DefinitionMismatch] {
        let nodes = digests.keys.sorted()
        guard nodes.count > 1 else { return [] }
        let jobIDs = Set(digests.values.flatMap(\.keys))
        return jobIDs.sorted().compactMap { jobID in
            let entries = nodes.map { NodeDigest(node: $0, digest: digests[$0]?[jobID]) }
            let distinct = Set(entries.map(\.digest))
            return distinct.count > 1 ? DefinitionMismatch(jobID: jobID, nodes: entries) : nil
        }
    }

    /// One line for a log: `node-a=1f2e3d4c, node-b=(absent)`.
    public var summary: String {
        nodes.map { "\($0.node)=\($0.digest.map { String($0.prefix(12)) } ?? "(absent)")" }.joined(separator: ", ")
    }
}
