import Foundation

/// The scheduler's jobs by id.
///
/// Jobs are boxed: a dictionary's buckets then hold one reference each instead of a 536-byte `Job`. At 100,000
/// jobs (262,144 buckets) that is ~6 MB of buckets instead of ~145 MB.
struct JobTable {
    final class Box: Sendable {
        let job: Job
        init(_ job: Job) { self.job = job }
    }

    private var storage: [String: Box] = [:]
    /// Told of every change to the jobs or to which are paused (readers keep an index of jobs until it moves).
    let revisions: JobRevisions
    /// Paused jobs: their instants pass without running.
    private(set) var paused: Set<String> = []

    mutating func pause(_ id: String) {
        paused.insert(id)
        revisions.catalogChanged(id)
    }

    mutating func resume(_ id: String) {
        paused.remove(id)
        revisions.catalogChanged(id)
    }
    /// Per job, the last instant the scheduler dealt with (fired, skipped or missed).
    var lastScheduled: [String: Date] = [:]

    /// The box holding the job (shared by whoever keeps it, instead of a copy of the job).
    func box(_ id: String) -> Box? { storage[id] }

    subscript(id: String) -> Job? {
        get { storage[id]?.job }
        set {
            storage[id] = newValue.map(Box.init)
            revisions.catalogChanged(id)
        }
    }

    init(revisions: JobRevisions) { self.revisions = revisions }

    var ids: [String] { Array(storage.keys) }
    /// The jobs' boxes by id (shared with the table until either changes: no job is copied).
    var boxes: [String: Box] { storage }
    /// The jobs, read in place: a loop over them copies one job at a time, not all of them first (an array of
    /// 100,000 jobs is ~54 MB, made at every start and heartbeat by the loops that used one).
    var values: LazyMapSequence<Dictionary<String, Box>.Values, Job> { storage.values.lazy.map(\.job) }

    /// Each job's `after`, for the jobs that have one (read in place: no job is copied).
    var upstreams: [String: [String]] {
        var edges: [String: [String]] = [:]
        for (id, box) in storage where !box.job.after.isEmpty { edges[id] = box.job.after }
        return edges
    }

    /// How many jobs satisfy `predicate`, without copying them out.
    func count(where predicate: (borrowing Job) -> Bool) -> Int {
        storage.values.count { predicate($0.job) }
    }
    var count: Int { storage.count }
}
