import CronKit
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Tock's heart: keeps every enabled job's next fire time and sleeps until the earliest — no polling tick, no
/// CPU while idle — then starts due runs through the runner, applying each job's policies and recording every
/// outcome in the store.
///
/// Policies (SPEC §3, §4): `overlap` (`skip` records a `skipped` execution, `allow`, `queue`, `replace` stops
/// the running one), `catchup` after downtime or a stall (`skip` records each missed instant as `missed`,
/// bounded; `latest`; `all`, bounded by `catchup_window`), `jitter`, `@reboot`, `@every`, per-job `timezone`,
/// `enabled`, pause/resume, run now, and the global `maxConcurrentRuns` (waiting runs are `scheduled`).
///
/// Time comes from a ``WallClock``; a fire instant is never used twice (each job's next instant is computed after
/// the last one it dealt with), so a wall-clock step backwards delays runs rather than repeating them, and a step
/// forwards turns the skipped instants into missed ones.
public actor Scheduler: Service {
    let store: any JobStore
    /// Decides which node runs each scheduled instant (``LocalSlotCoordinator`` alone on a store).
    let coordinator: any SlotCoordinator
    /// Manual runs, stops and live tails across the nodes of a shared store (``LocalClusterControl`` alone on one).
    public nonisolated let control: any ClusterControl
    let runner: any JobRunner
    let clock: any WallClock
    let configuration: SchedulerConfiguration
    let logger: Logger

    /// The jobs, which are paused, and the last instant each has dealt with.
    var jobs: JobTable
    /// Every scheduled job's next instant.
    var agenda = Agenda()
    /// Every run between being due and ending.
    var runs: RunQueue
    /// `after`: the graph, the edges' cursors, the upstreams' latest successes (see `Scheduler+Dependencies`).
    var dependencies = DependencyBook()
    /// Due instants whose claim could not be made (the shared store was unreachable), tried again.
    var unclaimed = UnclaimedSlots()
    /// Instants claimed before they are due (several nodes), until they fire.
    var ahead = ClaimsAhead()
    /// jobs.d digests and the cluster's definition mismatches (see `Scheduler+Cluster`).
    var cluster = ClusterDefinitions()
    /// When the scheduler next looks for dead nodes' runs to retry (`Scheduler+Retries.swift`).
    var nextRetryCheck: Date?
    /// Versions for readers of jobs (the API keeps rendered jobs until they move).
    nonisolated let revisions = JobRevisions()
    /// Records and instants not yet written, and the retry after a failed write.
    nonisolated let writes = PendingWrites()
    /// The output of running executions, for live tails.
    public nonisolated let liveOutput: LiveOutputHub
    /// The loop's wake-up and flags.
    nonisolated let signals = LoopSignals()
    /// The runs in progress, for the fence to stop without the loop.
    nonisolated let runControls = RunningControls()
    /// The catalog while start-up schedules every job (see ``catalogDuringStart``).
    nonisolated let startCatalog = Mutex<CatalogSnapshot?>(nil)

    public init(
        jobs: [Job], store: any JobStore, runner: any JobRunner, clock: any WallClock = SystemWallClock(),
        configuration: SchedulerConfiguration = SchedulerConfiguration(), logger: Logger,
        jitterFraction: @escaping @Sendable () -> Double = { Double.random(in: 0...1) },
        coordinator: (any SlotCoordinator)? = nil, control: (any ClusterControl)? = nil
    ) {
        self.store = store
        self.coordinator = coordinator ?? LocalSlotCoordinator(store: store)
        self.control = control ?? LocalClusterControl(store: store)
        self.runner = runner
        self.clock = clock
        var configuration = configuration
        configuration.jitterFraction = jitterFraction
        self.configuration = configuration
        self.logger = logger
        runs = RunQueue(maxConcurrentRuns: configuration.maxConcurrentRuns)
        liveOutput = LiveOutputHub(now: { clock.now })
        self.jobs = JobTable(revisions: revisions)
        for job in jobs { self.jobs[job.id] = job }
        let revisions = self.revisions
        configuration.notifications?.onHealthChange { revisions.noteChanged($0) }
    }

    /// The longest the loop sleeps: its heartbeat (`tock_scheduler_heartbeat_timestamp_seconds`) is never older.
    static let heartbeatInterval: TimeInterval = 10

    // MARK: - Control

    /// Errors of the control methods, for the API to turn into statuses.
    public enum ControlError: Error, Equatable, CustomStringConvertible {
        case unknownJob(String)
        case alreadyRunning(jobID: String, executionID: String)
        /// Overlap `skip` across nodes: the job has a run pending or running on another node.
        case alreadyRunningElsewhere(jobID: String, executionID: String, node: String)
        case shuttingDown
        case fileManaged(String)

        public var description: String {
            switch self {
            case .unknownJob(let id): "no job '\(id)'"
            case .alreadyRunning(let id, let execution):
                "job '\(id)' is already running (execution \(execution)) and its overlap policy does not allow another run"
            case .alreadyRunningElsewhere(let id, let execution, let node):
                "job '\(id)' is already running on node \(node) (execution \(execution)) and its overlap policy does not allow "
                    + "another run"
            case .shuttingDown: "the scheduler is shutting down"
            case .fileManaged(let id): "job '\(id)' is defined in a job file; change the file instead"
            }
        }
    }

    /// Starts a run of a job now and returns its execution id at once (its `scheduled` row is written first, so
    /// the id can be read at once).
    ///
    /// The job's overlap policy applies: with `skip` (the default) a run while another is running is refused with
    /// ``ControlError/alreadyRunning(jobID:executionID:)`` unless `force` is set. Audit entries are
    /// ``JobCatalog``'s business. See ``runNow(jobID:force:idempotencyKey:)`` for a client's retries.
    public func runNow(jobID: String, force: Bool = false) async throws -> String {
        try await runNow(jobID: jobID, force: force, idempotencyKey: nil).executionID
    }

    /// Pauses a job: its instants pass without running until it is resumed.
    public func pause(jobID: String) async throws {
        guard jobs[jobID] != nil else { throw ControlError.unknownJob(jobID) }
        // Stored first: a pause the store could not keep would be lost at the next start.
        try await store.setPaused(true, jobID: jobID)
        markPaused(jobID)
    }

    /// Resumes a paused job from its next instant after now.
    public func resume(jobID: String) async throws {
        guard jobs[jobID] != nil else { throw ControlError.unknownJob(jobID) }
        try await store.setPaused(false, jobID: jobID)
        markResumed(jobID)
    }

    /// What ``stop(executionID:)`` did.
    public enum StopResult: Sendable, Equatable {
        /// The run was running: SIGTERM to its process group, SIGKILL after its grace.
        case stopped(jobID: String)
        /// The run was still waiting (jitter, queue, a free slot): recorded as stopped before it started.
        case cancelledBeforeStart(jobID: String)
        /// No such run is running or waiting here.
        case notHere
    }

    /// Stops a running execution, or cancels one waiting to start.
    @discardableResult
    public func stop(executionID: String) async -> StopResult {
        if let run = runs.running[executionID] {
            run.control.stop()
            return .stopped(jobID: run.jobID)
        }
        for var pending in runs.removePending(executionID) {
            pending.record.state = .stopped
            pending.record.endedAt = clock.now
            pending.record.message = "stopped before it started"
            await persist(pending.record)
            return .cancelledBeforeStart(jobID: pending.job.id)
        }
        return .notHere
    }

    /// Replaces the jobs that came from files (a jobs.d reload): new and changed jobs are (re)scheduled from now,
    /// removed jobs are unscheduled (their history is kept; a running execution finishes). Jobs created through
    /// the API are left alone; a file job with the id of one is ignored (and logged).
    public func replaceJobs(_ newJobs: [Job]) {
        // Where each id's definition is in `newJobs` (the last one wins): positions, not copies, and the jobs
        // read in place (by index, in their boxes). At 100,000 jobs a reload of one changed file held the actor
        // ~0.3 s growing a dictionary of `Job` values, copying every job out to compare it and hashing each id six
        // times; now four.
        var incoming: [String: Int] = [:]
        incoming.reserveCapacity(newJobs.count)
        for n in newJobs.indices { incoming[newJobs[n].id] = n }
        var removed: [String] = []
        for (id, box) in jobs.boxes where box.job.source != .api && incoming[id] == nil { removed.append(id) }
        for id in removed {
            noteDependencyChange(old: jobs[id], new: nil)
            unschedule(id)
            logger.info("job removed", metadata: ["job.id": "\(id)"])
        }
        for n in newJobs.indices where incoming[newJobs[n].id] == n {
            let id = newJobs[n].id
            let kept = jobs.box(id)
            if let kept, kept.job.source == .api, newJobs[n].source != .api {
                logger.error(
                    "a job file defines a job whose id belongs to a job created through the API; ignored",
                    metadata: ["job.id": "\(id)"])
                continue
            }
            if let kept, kept.job == newJobs[n] { continue }
            let job = newJobs[n]
            let isNew = kept == nil
            noteDependencyChange(old: jobs[id], new: job)
            jobs[id] = job
            noteChanged(id)
            if signals.started {
                prepareSchedule(job)
                reschedule(id, after: max(clock.now, jobs.lastScheduled[id] ?? .distantPast))
            }
            logger.info(isNew ? "job added" : "job changed", metadata: ["job.id": "\(id)"])
        }
        configuration.metrics.jobCount(jobs.count)
        rebuildDependencyGraphIfStale()
        changed()
        wake()
    }

    /// Adds or replaces one job created through the API, scheduled from now. A file job of that id is not
    /// replaced: ``ControlError/fileManaged(_:)``.
    public func upsertJob(_ job: Job) throws(ControlError) {
        if let existing = jobs[job.id], existing.source != .api { throw .fileManaged(job.id) }
        noteDependencyChange(old: jobs[job.id], new: job)
        jobs[job.id] = job
        if signals.started {
            prepareSchedule(job)
            reschedule(job.id, after: max(clock.now, jobs.lastScheduled[job.id] ?? .distantPast))
        }
        configuration.metrics.jobCount(jobs.count)
        noteChanged(job.id)
        rebuildDependencyGraphIfStale()
        wake()
    }

    /// Removes a job (its history is kept; a running execution finishes). Returns it, or `nil` if unknown.
    @discardableResult
    public func removeJob(id: String) -> Job? {
        guard let job = jobs[id] else { return nil }
        noteDependencyChange(old: job, new: nil)
        unschedule(id)
        configuration.metrics.jobCount(jobs.count)
        rebuildDependencyGraphIfStale()
        wake()
        return job
    }

    func unschedule(_ id: String) {
        jobs[id] = nil
        agenda.remove(id)
        noteChanged(id)
        configuration.notifications?.untrack(jobID: id)
    }

    /// Tells the health timers (`start_grace`, `max_age`) about the job as it is now.
    func trackHealth(_ jobID: String) {
        guard let planner = configuration.notifications, let job = jobs[jobID] else { return }
        planner.track(job, schedule: agenda.schedule(of: jobID), paused: jobs.paused.contains(jobID), at: clock.now)
    }

    /// What a reader of jobs sees of one job right now.
    public struct JobStatus: Sendable {
        public var job: Job
        /// `nil` when paused, disabled, `@reboot`, or never firing again.
        public var nextFireTime: Date?
        public var paused: Bool
        public var runningExecutionIDs: [String]
        /// Alerts open on the job (`late`, `overdue`, `down` of `max_age`): with its executions, its health.
        public var alerts: [JobAlert]
        /// Moves whenever anything above (or the job's recorded executions) changes: a reader may keep what it
        /// rendered of the job while the revision stays.
        public var revision: Int
        /// `after`, the derived `downstream`, and each dependency's state.
        public var dependencies = DependencyStatus()
        /// How the live nodes of a cluster disagree on this jobs.d job's definition; `nil` when they agree.
        public var definitionMismatch: DefinitionMismatch?

        public init(
            job: Job, nextFireTime: Date? = nil, paused: Bool = false, runningExecutionIDs: [String] = [],
            alerts: [JobAlert] = [], revision: Int = 0
        ) {
            self.job = job
            self.alerts = alerts
            self.nextFireTime = nextFireTime
            self.paused = paused
            self.runningExecutionIDs = runningExecutionIDs
            self.revision = revision
        }
    }

    /// One job's status, or `nil` if unknown.
    public func status(of id: String) -> JobStatus? {
        guard let job = jobs[id] else { return nil }
        rebuildDependencyGraphIfStale()
        return status(job)
    }

    /// The jobs of these ids that exist.
    public func jobs(withIDs ids: some Sequence<String>) -> [String: Job] {
        var found: [String: Job] = [:]
        for id in ids { if let job = jobs[id] { found[id] = job } }
        return found
    }

    /// Every job's status, by id.
    public func allStatuses() -> [JobStatus] {
        // First: a graph rebuilt now moves the revisions of the jobs it touches.
        rebuildDependencyGraphIfStale()
        return Array(jobs.values.map(status))
    }

    func status(_ job: Job) -> JobStatus {
        let isPaused = jobs.paused.contains(job.id)
        var status = JobStatus(
            job: job, nextFireTime: isPaused ? nil : agenda.nextFire(of: job.id), paused: isPaused,
            runningExecutionIDs: Array(runningIDs(of: job.id)),
            alerts: configuration.notifications?.openAlerts(of: job.id) ?? [],
            revision: revisions.revision(of: job.id))
        status.dependencies = dependencyStatus(of: job)
        status.definitionMismatch = cluster.mismatches[job.id]
        return status
    }

    /// Changes whenever anything ``allStatuses()`` reports may have changed.
    public nonisolated var version: Int { revisions.version }

    nonisolated func changed() { revisions.changed() }

    func runningIDs(of jobID: String) -> Set<String> { runs.runningIDs(of: jobID) }

    /// Records that something a reader sees of this job changed.
    func noteChanged(_ jobID: String) { revisions.noteChanged(jobID) }

    /// The next fire time of every scheduled job.
    public func nextFireTimes() -> [String: Date] { agenda.nextFire }

    /// Ids of the executions running now.
    public func runningExecutionIDs() -> [String] { Array(runs.running.keys) }

    public var jobCount: Int { jobs.count }

    /// Why this node must not run anything now (it lost its lease on a shared store), or `nil`: `/healthz` is
    /// unhealthy while it is set.
    public nonisolated var fencedReason: String? { coordinator.fencedReason }

    nonisolated func wake() { signals.wake.signal() }

    /// Whether start-up (recovery, catch-up) is done.
    var started: Bool { signals.started }
}
