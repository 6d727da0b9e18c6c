import Synchronization

/// What readers of jobs (the API's kept renders) need to know: a version that moves on every change they would
/// see, and a revision per job that moves when that job's part changes. Readable from any thread.
final class JobRevisions: Sendable {
    private let revisions = Mutex<[String: Int]>([:])
    private let counter = Atomic<Int>(0)
    private let catalogCounter = Atomic<Int>(0)

    /// Something about this job that readers see changed.
    func noteChanged(_ jobID: String) {
        revisions.withLock { $0[jobID, default: 0] &+= 1 }
        changed()
    }

    /// Something readers see changed (the set of jobs).
    func changed() { counter.add(1, ordering: .releasing) }

    func revision(of jobID: String) -> Int { revisions.withLock { $0[jobID] ?? 0 } }

    var version: Int { counter.load(ordering: .acquiring) }

    /// The set of jobs, a job's definition or whether it is paused changed (``JobTable`` says so on every change).
    func catalogChanged() { catalogCounter.add(1, ordering: .releasing) }

    /// Moves on every ``catalogChanged()``, and only then: not when runs start or end.
    var catalogVersion: Int { catalogCounter.load(ordering: .acquiring) }
}
