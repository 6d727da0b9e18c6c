#if Postgres
    import Foundation
    import PostgresNIO
    import TockCore

    /// A preferred node per job, so that a burst is spread over the nodes instead of going to whichever node's claim
    /// commits first (that node would win every slot of the burst): rendezvous hashing of (job, node) over the live
    /// nodes, read at every heartbeat. A node claims its preferred jobs' slots at once and the others'
    /// ``fallbackDelay`` later, when their preferred node has normally won them; if that node died or is slow, the
    /// fallback claim takes them, still ahead of the instant. Correctness never depends on it (the unique index does).
    extension PostgresSlotCoordinator {
        /// How long a node waits before claiming slots of jobs another live node prefers (within the lookahead).
        static let fallbackDelay: Duration = .milliseconds(100)

        /// Reads the live nodes (after a good renewal).
        func refreshLiveNodes() async {
            do {
                let rows = try await store.run(
                    "SELECT node_id FROM node WHERE state = 'alive' AND lease_until > clock_timestamp() ORDER BY node_id"
                )
                let nodes = try rows.map { try $0.decode(UUID.self) }
                setLiveNodes(nodes)
            } catch {
                logger.debug("could not read the live nodes", metadata: ["error": "\(error)"])
            }
        }

        /// Whether this node is the preferred claimer of `jobID` among `nodes` (all of them when it is alone).
        static func prefers(_ jobID: String, me: UUID, among nodes: [UUID]) -> Bool {
            guard nodes.count > 1, nodes.contains(me) else { return true }
            var best = me
            var bestScore: UInt64 = 0
            for node in nodes {
                let score = rendezvousScore(jobID, node)
                if score > bestScore || (score == bestScore && node.uuidString < best.uuidString) {
                    best = node
                    bestScore = score
                }
            }
            return best == me
        }

        /// FNV-1a (64 bits) of the job id and the node id: stable across processes and builds.
        static func rendezvousScore(_ jobID: String, _ node: UUID) -> UInt64 {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in Array(jobID.utf8) + [0] + Array(node.uuidString.utf8) {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            return hash
        }
    }
#endif
