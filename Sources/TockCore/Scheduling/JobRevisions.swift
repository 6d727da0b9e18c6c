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

    /// The revisions of these jobs, in order (one lock for all).
    func revisions(of jobIDs: some Sequence<String>) -> [Int] {
        revisions.withLock { revisions in jobIDs.map { revisions[$0] ?? 0 } }
    }

    var version: Int { counter.load(ordering: .acquiring) }

    /// The ids whose catalog part changed, in order: the change that made catalog version `first + n + 1` is
    /// `ids[n]`. The oldest are dropped past ``changeLogCapacity``.
    private struct ChangeLog {
        var first = 0
        var ids: [String] = []
    }
    private let log = Mutex(ChangeLog())
    static let changeLogCapacity = 20_000

    /// Job `jobID` was added, changed or removed, or paused or resumed (``JobTable`` says so on every change).
    func catalogChanged(_ jobID: String) {
        log.withLock { log in
            log.ids.append(jobID)
            if log.ids.count > Self.changeLogCapacity {
                let dropped = log.ids.count - Self.changeLogCapacity / 2
                log.ids.removeFirst(dropped)
                log.first += dropped
            }
            // Moved under the lock: the version and the log agree.
            catalogCounter.add(1, ordering: .releasing)
        }
    }

    /// The jobs changed since catalog version `version` (each once, in no order), and the version that brings a
    /// reader to; `nil` when the log no longer goes back that far.
    func catalogChanges(since version: Int) -> (version: Int, ids: Set<String>)? {
        log.withLock { log in
            let now = log.first + log.ids.count
            guard version >= log.first, version <= now else { return nil }
            return (now, Set(log.ids[(version - log.first)...]))
        }
    }

    /// Moves on every ``catalogChanged(_:)``, and only then: not when runs start or end.
    var catalogVersion: Int { catalogCounter.load(ordering: .acquiring) }
}
