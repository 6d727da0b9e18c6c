import Foundation
import Synchronization

/// What job lists read: the catalog (every job, which are paused) while it stays, and the status of a page of jobs.
extension Scheduler {
    /// Moves whenever the set of jobs, a job's definition or a pause changes, and only then (not when runs start
    /// or end): a reader may keep an index of the jobs (sorted, searchable) while it stays.
    public nonisolated var catalogVersion: Int { revisions.catalogVersion }

    /// A job's revision (see ``JobStatus/revision``), without going through the actor: a reader holding a render
    /// of that revision may answer with it.
    public nonisolated func revision(ofJob id: String) -> Int { revisions.revision(of: id) }

    /// Moves on every note of a job changed (a run started or ended, an alert, a definition, a pause): what
    /// ``jobsChanged(since:)`` takes.
    public nonisolated var changeVersion: Int { revisions.noteVersion }

    /// The jobs noted changed since change version `version`, and the version that brings a reader to; `nil` when
    /// that is too long ago to say (a reader then reads every job again).
    public nonisolated func jobsChanged(since version: Int) -> (version: Int, ids: Set<String>)? {
        revisions.notedChanges(since: version)
    }

    /// Whether start-up has read the store (paused jobs, last instants): the catalog is complete from then on.
    public nonisolated var hasStarted: Bool { signals.started }

    /// The id of every job, in no order, with the ``catalogVersion`` they are of (the caller sorts them, off the
    /// scheduler's actor: 100,000 ids).
    public func catalogIDs() -> (version: Int, ids: [String]) {
        (revisions.catalogVersion, jobs.ids)
    }

    /// The jobs added, changed, removed, paused or resumed since catalog version `version`, and the version that
    /// brings a reader to (an index of that version patched with these jobs' statuses is an index of it); `nil` when
    /// that is too long ago to say.
    public nonisolated func catalogChanges(since version: Int) -> (version: Int, ids: Set<String>)? {
        revisions.catalogChanges(since: version)
    }

    /// What a job list's index keeps of a job: less than its ``JobStatus`` (no next instant, runs, alerts or
    /// dependency edges), so that indexing 100,000 jobs costs a few lookups each.
    public struct CatalogEntry: Sendable {
        public var job: Job
        public var paused: Bool
        /// Its dependencies keep it from running (``DependencyStatus/blocked``).
        public var blocked: Bool
        /// ``JobStatus/revision``.
        public var revision: Int
    }

    /// The catalog entry of each of these jobs that exists, in the order given.
    public func catalogEntries(ofIDs ids: some Collection<String>) -> [CatalogEntry] {
        rebuildDependencyGraphIfStale()
        let revisions = revisions.revisions(of: ids)
        var entries: [CatalogEntry] = []
        entries.reserveCapacity(ids.count)
        for (id, revision) in zip(ids, revisions) {
            guard let job = jobs[id] else { continue }
            // Only a job with `after` can be blocked (``dependencyStatus(of:)``).
            let blocked = !job.after.isEmpty && dependencyStatus(of: job).blocked != nil
            entries.append(
                CatalogEntry(job: job, paused: jobs.paused.contains(id), blocked: blocked, revision: revision))
        }
        return entries
    }

    /// The whole catalog as one value, readable off the actor: the jobs' boxes are the table's own (no job is
    /// copied, and the table copies its dictionary only if it changes while a snapshot is held).
    public struct CatalogSnapshot: Sendable {
        /// The ``catalogVersion`` it is of.
        public let version: Int
        /// Every job's id, sorted.
        public let ids: [String]
        let boxes: [String: JobTable.Box]
        let paused: Set<String>
        /// The jobs whose dependencies keep them from running.
        let blocked: Set<String>
        let revisions: JobRevisions

        /// The catalog entry of each of these jobs that exists, in the order given (revisions as of now).
        public func entries(ofIDs ids: some Collection<String>) -> [CatalogEntry] {
            let revisions = revisions.revisions(of: ids)
            var entries: [CatalogEntry] = []
            entries.reserveCapacity(ids.count)
            for (id, revision) in zip(ids, revisions) {
                guard let box = boxes[id] else { continue }
                entries.append(
                    CatalogEntry(
                        job: box.job, paused: paused.contains(id), blocked: blocked.contains(id), revision: revision))
            }
            return entries
        }

        /// Each job in the order of ``ids``, lent (not copied: a copy of each of 100,000 jobs was a third of an
        /// index build), with whether it is paused and blocked.
        public func forEachJob(_ body: (borrowing Job, _ paused: Bool, _ blocked: Bool) -> Void) {
            let checkPaused = !paused.isEmpty
            let checkBlocked = !blocked.isEmpty
            for id in ids {
                guard let box = boxes[id] else { continue }
                body(
                    box.job, checkPaused && paused.contains(id), checkBlocked && blocked.contains(id))
            }
        }
    }

    /// The catalog now, its ids in `sortedIDs` if the caller has them sorted already.
    func catalogSnapshot(sortedIDs: [String]? = nil) -> CatalogSnapshot {
        rebuildDependencyGraphIfStale()
        var blocked: Set<String> = []
        for id in dependencies.graph.upstreams.keys {
            if let job = jobs[id], dependencyStatus(of: job).blocked != nil { blocked.insert(id) }
        }
        return CatalogSnapshot(
            version: revisions.catalogVersion, ids: sortedIDs ?? jobs.ids.sorted(), boxes: jobs.boxes,
            paused: jobs.paused, blocked: blocked, revisions: revisions)
    }

    /// The catalog while start-up schedules every job (which holds the actor for a while at 100,000 jobs; the
    /// catalog does not change meanwhile), so that readers need not wait for it; `nil` before and after.
    public nonisolated var catalogDuringStart: CatalogSnapshot? { startCatalog.withLock { $0 } }

    /// The status of each of these jobs that exists, in the order given.
    public func statuses(ofIDs ids: some Sequence<String>) -> [JobStatus] {
        ids.compactMap { id in jobs[id].map(status) }
    }

    /// How many jobs from files the scheduler has (a reload compares it with what the files define: a file job
    /// ignored because an API job has its id makes them differ).
    public func fileJobCount() -> Int {
        jobs.count { $0.source != .api }
    }

    /// The jobs from files, by the file they come from (what a reload takes for the files that did not change).
    public func fileJobs() -> [String: [Job]] {
        // Grouped and sorted as boxes, then copied out once (sorting the jobs themselves moved 536 bytes a swap).
        var byFile: [String: [JobTable.Box]] = [:]
        for box in jobs.boxes.values {
            if case .file(let path, _) = box.job.source { byFile[path, default: []].append(box) }
        }
        return byFile.mapValues { boxes in boxes.sorted { $0.job.sourceLine < $1.job.sourceLine }.map(\.job) }
    }
}
