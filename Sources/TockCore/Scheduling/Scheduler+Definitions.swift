import Foundation
import Logging

/// What a cluster needs of the scheduler's jobs: the digest of each jobs.d job (published by the node, recorded on
/// each execution) and the mismatches the cluster found, shown on each job and counted in a metric.
struct ClusterDefinitions: Sendable {
    /// Digests computed, with the job they were computed of (the job table's box: a reference, not a 536-byte copy
    /// per job that ran): recomputed only when the job changes.
    var digests: [String: (job: JobTable.Box, digest: String)] = [:]
    /// Job id → how the live nodes disagree.
    var mismatches: [String: DefinitionMismatch] = [:]
}

extension Scheduler {
    /// The digest of a job's definition, kept while the job stays the same.
    func definitionDigest(of job: Job) -> String {
        if let known = cluster.digests[job.id], known.job.job == job { return known.digest }
        let digest = job.definitionDigest(defaultTimeZone: definitionTimeZone)
        let box = jobs.box(job.id).flatMap { $0.job == job ? $0 : nil } ?? JobTable.Box(job)
        cluster.digests[job.id] = (box, digest)
        return digest
    }

    /// The default zone as a job's definition names it (see ``SchedulerConfiguration/defaultTimeZoneName``).
    nonisolated var definitionTimeZone: String {
        if let name = configuration.defaultTimeZoneName { return name }
        let identifier = configuration.defaultTimeZone.identifier
        return identifier == "GMT" ? "UTC" : identifier
    }

    /// The digest of every job from jobs.d, by id (API jobs live in the shared store and cannot differ).
    public func fileJobDigests() -> [String: String] {
        var digests: [String: String] = [:]
        for job in jobs.values where job.source != .api { digests[job.id] = definitionDigest(of: job) }
        // Forget the jobs that are gone.
        if cluster.digests.count > jobs.count { cluster.digests = cluster.digests.filter { jobs[$0.key] != nil } }
        return digests
    }

    /// Sets the jobs whose definitions differ between the cluster's live nodes (as the coordinator found them):
    /// the jobs whose mismatch changed get a new revision (their renders are stale), the metric follows, and each
    /// new or changed mismatch is logged as a warning. With `logAll`, every current mismatch is logged (after this
    /// node reloaded its jobs). Returns the mismatches that are new or changed.
    @discardableResult
    public func setDefinitionMismatches(_ list: [DefinitionMismatch], logAll: Bool = false) -> [DefinitionMismatch] {
        let incoming = Dictionary(list.map { ($0.jobID, $0) }, uniquingKeysWith: { first, _ in first })
        var updated: [DefinitionMismatch] = []
        for (id, mismatch) in incoming where cluster.mismatches[id] != mismatch {
            updated.append(mismatch)
            noteChanged(id)
            configuration.metrics.definitionMismatch(id, true)
        }
        for id in cluster.mismatches.keys where incoming[id] == nil {
            noteChanged(id)
            configuration.metrics.definitionMismatch(id, false)
            logger.notice("the nodes agree on the job's definition again", metadata: ["job.id": "\(id)"])
        }
        cluster.mismatches = incoming
        for mismatch in (logAll ? list : updated).sorted(by: { $0.jobID < $1.jobID }) {
            logger.warning(
                "the job's definition differs between the cluster's nodes; each run uses its claimer's",
                metadata: ["job.id": "\(mismatch.jobID)", "digests": "\(mismatch.summary)"])
        }
        return updated
    }

    /// The mismatches set last (see ``setDefinitionMismatches(_:logAll:)``), by job id.
    public func definitionMismatches() -> [DefinitionMismatch] {
        cluster.mismatches.values.sorted { $0.jobID < $1.jobID }
    }
}
