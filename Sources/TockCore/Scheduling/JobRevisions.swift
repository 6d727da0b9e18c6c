import Synchronization

/// What readers of jobs (the API's kept renders) need to know: a version that moves on every change they would
/// see, and a revision per job that moves when that job's part changes. Readable from any thread.
final class JobRevisions: Sendable {
    private struct Revisions {
        var byJob: [String: Int] = [:]
        /// Every ``noteChanged(_:)``, in order: readers that keep something per job (the job lists' health) bring
        /// only those jobs up to date.
        var log = ChangeLog()
        /// Added to every job's revision: moved when every job changed at once (start-up).
        var epoch = 0
        /// Between ``suspendNotes()`` and ``everythingChanged()``: notes of single jobs are not kept.
        var suspended = false
    }
    private let revisions = Mutex(Revisions())
    private let counter = Atomic<Int>(0)
    private let catalogCounter = Atomic<Int>(0)

    /// Something about this job that readers see changed; `onlyNextInstant` when that is all (what the job lists'
    /// health does not depend on).
    func noteChanged(_ jobID: String, onlyNextInstant: Bool = false) {
        revisions.withLock { revisions in
            if revisions.suspended {
                // The epoch moves every revision at the end; the log keeps what else happened meanwhile (runs,
                // records), so that readers of it need not start again from nothing.
                if !onlyNextInstant { revisions.log.append(jobID) }
                return
            }
            revisions.byJob[jobID, default: 0] &+= 1
            revisions.log.append(jobID)
        }
        changed()
    }

    /// Every job's next instant is about to change (start-up schedules them all): those notes are not kept until
    /// ``everythingChanged()`` (100,000 of them were a dictionary of 6 MB and as many locked updates).
    func suspendNotes() { revisions.withLock { $0.suspended = true } }

    /// Every job changed: each revision moves past any a reader has seen. The log goes on: what moved besides the
    /// next instants was logged meanwhile.
    func everythingChanged() {
        revisions.withLock { revisions in
            revisions.suspended = false
            revisions.epoch &+= 1
        }
        changed()
    }

    /// Something readers see changed (the set of jobs).
    func changed() { counter.add(1, ordering: .releasing) }

    func revision(of jobID: String) -> Int { revisions.withLock { $0.epoch &+ ($0.byJob[jobID] ?? 0) } }

    /// The revisions of these jobs, in order (one lock for all).
    func revisions(of jobIDs: some Sequence<String>) -> [Int] {
        revisions.withLock { revisions in jobIDs.map { revisions.epoch &+ (revisions.byJob[$0] ?? 0) } }
    }

    /// Counts ``noteChanged(_:)`` calls: what ``notedChanges(since:)`` takes.
    var noteVersion: Int { revisions.withLock { $0.log.end } }

    /// The jobs noted changed since note version `version` (each once), and the version that brings a reader to;
    /// `nil` when the log no longer goes back that far.
    func notedChanges(since version: Int) -> (version: Int, ids: Set<String>)? {
        revisions.withLock { $0.log.changes(since: version) }
    }

    var version: Int { counter.load(ordering: .acquiring) }

    private let log = Mutex(ChangeLog())

    /// Job `jobID` was added, changed or removed, or paused or resumed (``JobTable`` says so on every change).
    func catalogChanged(_ jobID: String) {
        log.withLock { log in
            log.append(jobID)
            // Moved under the lock: the version and the log agree.
            catalogCounter.add(1, ordering: .releasing)
        }
    }

    /// The jobs changed since catalog version `version` (each once, in no order), and the version that brings a
    /// reader to; `nil` when the log no longer goes back that far.
    func catalogChanges(since version: Int) -> (version: Int, ids: Set<String>)? {
        log.withLock { $0.changes(since: version) }
    }

    /// Moves on every ``catalogChanged(_:)``, and only then: not when runs start or end.
    var catalogVersion: Int { catalogCounter.load(ordering: .acquiring) }
}

/// Ids in the order they were logged: the change that made version `first + n + 1` is `ids[n]`. The oldest are
/// dropped past ``capacity``.
struct ChangeLog {
    static let capacity = 20_000
    private(set) var first = 0
    private(set) var ids: [String] = []

    /// The version after the last change.
    var end: Int { first + ids.count }

    mutating func append(_ id: String) {
        ids.append(id)
        if ids.count > Self.capacity {
            let dropped = ids.count - Self.capacity / 2
            ids.removeFirst(dropped)
            first += dropped
        }
    }

    /// The ids logged since version `version`, and the version now; `nil` when that is too long ago.
    func changes(since version: Int) -> (version: Int, ids: Set<String>)? {
        guard version >= first, version <= end else { return nil }
        return (end, Set(ids[(version - first)...]))
    }
}
