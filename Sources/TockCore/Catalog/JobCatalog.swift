import Foundation
import Logging
import TockJSON

/// Administers jobs on behalf of someone: creates, replaces and deletes the jobs kept in the store (those created
/// through the API), pauses and resumes, runs now and stops — and writes the audit log, every entry of it, with
/// the acting user.
///
/// An actor: two administrators creating the same id at once get one job and one conflict. Front ends (the HTTP
/// API, a CLI working on the store) parse requests and map ``Failure`` to their own errors; the rules live here.
public actor JobCatalog {
    public let scheduler: Scheduler
    public let store: any JobStore
    /// Job kinds an embedding package registered (`kind` in definitions).
    public let kinds: Set<String>
    /// The zone written for jobs that name none, in definitions and audit diffs.
    public let defaultTimeZone: String
    /// What jobs created through the API may be.
    public let policy: Policy
    let clock: any WallClock

    public init(
        scheduler: Scheduler, store: any JobStore, kinds: Set<String> = [], defaultTimeZone: String = "UTC",
        policy: Policy = Policy(), clock: any WallClock = SystemWallClock()
    ) {
        self.scheduler = scheduler
        self.store = store
        self.kinds = kinds
        self.defaultTimeZone = defaultTimeZone
        self.policy = policy
        self.clock = clock
    }

    /// Limits on jobs created through the API (server configuration `api_jobs`, `api_job_users`).
    public struct Policy: Sendable, Equatable {
        /// `false`: jobs are kept in files only; creating, replacing and deleting through the API is refused.
        public var apiJobsEnabled: Bool
        /// When set, an API job must name its `user`, one of these. A daemon running as root sets it (empty when
        /// the configuration names none), so "Tock admin" never silently means root.
        public var allowedUsers: Set<String>?

        public init(apiJobsEnabled: Bool = true, allowedUsers: Set<String>? = nil) {
            self.apiJobsEnabled = apiJobsEnabled
            self.allowedUsers = allowedUsers
        }
    }

    /// Why an action was refused.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case unknownJob(String)
        case unknownExecution(String)
        /// The definition cannot become a job; every problem, the most useful first.
        case invalid([APIJobDefinition.Problem])
        case idTaken(String)
        /// A job from a job file: it is changed by editing the file.
        case fileManaged(Job)
        case alreadyRunning(jobID: String, executionID: String)
        /// Overlap `skip` across nodes: the job runs on another node of the shared store.
        case alreadyRunningElsewhere(jobID: String, executionID: String, node: String)
        case notRunning(executionID: String, state: ExecutionState)
        /// The execution is held by a node of the shared store that is not alive: nothing can stop it from here.
        case heldByUnreachableNode(executionID: String, node: String, reason: String)
        case shuttingDown
        /// `api_jobs = false`: jobs are kept in files only.
        case apiJobsDisabled

        public var description: String {
            switch self {
            case .unknownJob(let id): "Job not found: \(id)"
            case .unknownExecution(let id): "Execution not found: \(id)"
            case .invalid(let problems): problems.first?.description ?? "invalid job"
            case .idTaken(let id): "a job with id '\(id)' already exists"
            case .fileManaged(let job):
                "job '\(job.id)' is defined in \(job.location); edit the file instead (run, pause and resume work through the API)"
            case .alreadyRunning(let id, let execution):
                "job '\(id)' is already running (execution \(execution)) and its overlap policy does not allow another run"
            case .alreadyRunningElsewhere(let id, let execution, let node):
                "job '\(id)' is already running on node \(node) (execution \(execution)) and its overlap policy does not "
                    + "allow another run"
            case .notRunning(let id, let state): "execution \(id) is not running (state: \(state.rawValue))"
            case .heldByUnreachableNode(let id, let node, let reason):
                "execution \(id) runs on node \(node), which cannot be reached: \(reason)"
            case .shuttingDown: "the scheduler is shutting down"
            case .apiJobsDisabled:
                "jobs cannot be created, changed or deleted through the API on this server (api_jobs = false): edit jobs.d"
            }
        }
    }

    // MARK: - Jobs kept in the store

    /// Creates a job from a definition; it is scheduled from now.
    @discardableResult
    public func create(_ definition: APIJobDefinition, user: Actor) async throws -> Job {
        let job = try read(definition)
        if await scheduler.status(of: job.id) != nil { throw Failure.idTaken(job.id) }
        try await refuseCycle(job)
        try await store.saveAPIJob(definition, at: clock.now)
        do {
            try await scheduler.upsertJob(job)
        } catch {
            _ = try? await store.deleteAPIJob(id: job.id)
            throw Failure.idTaken(job.id)
        }
        await audit(job, .added, user: user)
        return job
    }

    /// Replaces a job created through the API; returns what changed (none: nothing recorded in the audit log).
    @discardableResult
    public func replace(_ definition: APIJobDefinition, user: Actor) async throws -> [DefinitionChange] {
        guard let current = await scheduler.status(of: definition.id) else {
            throw Failure.unknownJob(definition.id)
        }
        guard current.job.source == .api else { throw Failure.fileManaged(current.job) }
        let job = try read(definition)
        try await refuseCycle(job)
        let changes = Job.changes(
            from: current.job.definition(defaultTimeZone: defaultTimeZone),
            to: job.definition(defaultTimeZone: defaultTimeZone))
        try await store.saveAPIJob(definition, at: clock.now)
        try await scheduler.upsertJob(job)
        if !changes.isEmpty {
            await audit(job, .modified, user: user, description: changes.map(\.auditLine).joined(separator: "\n"))
        }
        return changes
    }

    /// Deletes a job created through the API (its history stays; runs in progress finish). Returns the job as
    /// it was and the runs still going.
    public func delete(id: String, user: Actor) async throws -> (job: Job, running: [String]) {
        guard let current = await scheduler.status(of: id) else { throw Failure.unknownJob(id) }
        guard current.job.source == .api else { throw Failure.fileManaged(current.job) }
        guard policy.apiJobsEnabled else { throw Failure.apiJobsDisabled }
        _ = try await store.deleteAPIJob(id: id)
        await scheduler.removeJob(id: id)
        // The job as it was, in the form a modification is compared on.
        let was = JSONValue.object(current.job.definition(defaultTimeZone: defaultTimeZone))
        await audit(current.job, .deleted, user: user, description: was.jsonString)
        return (current.job, current.runningExecutionIDs.sorted())
    }

    // MARK: - Any job

    /// Pauses or resumes a job; returns whether that changed anything (an unchanged state is not audited).
    @discardableResult
    public func setPaused(_ pause: Bool, jobID: String, user: Actor) async throws -> Bool {
        guard let current = await scheduler.status(of: jobID) else { throw Failure.unknownJob(jobID) }
        guard current.paused != pause else { return false }
        if pause {
            try await scheduler.pause(jobID: jobID)
        } else {
            try await scheduler.resume(jobID: jobID)
        }
        await audit(current.job, pause ? .paused : .resumed, user: user)
        return true
    }

    /// Starts a run now and returns its execution id at once (see ``Scheduler/runNow(jobID:force:)``).
    public func runNow(jobID: String, force: Bool, user: Actor) async throws -> String {
        try await runNow(jobID: jobID, force: force, idempotencyKey: nil, user: user).executionID
    }

    /// Starts a run now, once per idempotency key (see ``Scheduler/runNow(jobID:force:idempotencyKey:)``); a replay
    /// starts nothing and is not audited again.
    public func runNow(
        jobID: String, force: Bool, idempotencyKey: String?, user: Actor
    ) async throws -> Scheduler.ManualRun {
        let run: Scheduler.ManualRun
        do {
            run = try await scheduler.runNow(jobID: jobID, force: force, idempotencyKey: idempotencyKey)
        } catch let error as Scheduler.ControlError {
            throw Self.failure(error)
        }
        if !run.replayed, let job = await scheduler.status(of: jobID)?.job {
            await audit(job, .customRun, user: user, description: run.executionID)
        }
        return run
    }

    /// What ``stop(executionID:user:)`` did.
    public enum StopOutcome: Sendable, Equatable {
        /// Stopped here (SIGTERM sent), or cancelled before it started.
        case stoppedHere
        /// The node running it was asked to stop it; `acknowledged`: it answered that it did.
        case requestedOf(node: String, acknowledged: Bool)
    }

    /// Stops a running execution, or cancels one still waiting to start — on this node, or on the node of a shared
    /// store that holds it.
    @discardableResult
    public func stop(executionID: String, user: Actor) async throws -> StopOutcome {
        switch await scheduler.stop(executionID: executionID) {
        case .stopped(let jobID):
            if let job = await scheduler.status(of: jobID)?.job {
                await audit(job, .stopped, user: user, description: "execution \(executionID)")
            }
            return .stoppedHere
        case .cancelledBeforeStart:
            return .stoppedHere
        case .notHere:
            switch try await scheduler.control.requestStop(executionID: executionID, by: user.name) {
            case .requested(let jobID, let node, let acknowledged):
                if let job = await scheduler.status(of: jobID)?.job {
                    await audit(job, .stopped, user: user, description: "execution \(executionID) on node \(node)")
                }
                return .requestedOf(node: node, acknowledged: acknowledged)
            case .notRunning(let state):
                throw Failure.notRunning(executionID: executionID, state: state)
            case .ownerUnreachable(let node, let reason):
                throw Failure.heldByUnreachableNode(executionID: executionID, node: node, reason: reason)
            case nil:
                break
            }
            guard let record = try await store.execution(id: executionID, includeOutput: false) else {
                throw Failure.unknownExecution(executionID)
            }
            throw Failure.notRunning(executionID: executionID, state: record.state)
        }
    }

    // MARK: -

    func read(_ definition: APIJobDefinition) throws(Failure) -> Job {
        guard policy.apiJobsEnabled else { throw .apiJobsDisabled }
        let (job, problems) = definition.problems(kinds: kinds)
        guard let job, problems.isEmpty else { throw .invalid(problems) }
        // A custom kind runs in the daemon, not as a process: `user` means nothing to it.
        if let allowed = policy.allowedUsers, !job.isCustomKind {
            guard let user = job.user else {
                throw .invalid([
                    .init(
                        field: "user",
                        allowed.isEmpty
                            ? "this daemon runs as root: a job created through the API must name its user, and none is "
                                + "allowed (set api_job_users in the server configuration)"
                            : "this daemon runs as root: name the user the job runs as, one of "
                                + allowed.sorted().joined(separator: ", "))
                ])
            }
            guard allowed.contains(user) else {
                throw .invalid([
                    .init(
                        field: "user",
                        "'\(user)' is not allowed for jobs created through the API (api_job_users: "
                            + (allowed.isEmpty ? "none" : allowed.sorted().joined(separator: ", ")) + ")")
                ])
            }
        }
        return job
    }

    static func failure(_ error: Scheduler.ControlError) -> Failure {
        switch error {
        case .unknownJob(let id): .unknownJob(id)
        case .alreadyRunning(let id, let execution): .alreadyRunning(jobID: id, executionID: execution)
        case .alreadyRunningElsewhere(let id, let execution, let node):
            .alreadyRunningElsewhere(jobID: id, executionID: execution, node: node)
        case .shuttingDown: .shuttingDown
        case .fileManaged(let id): .idTaken(id)
        }
    }

    /// The one place audit entries are made. A failure to write one is logged by the store's caller; the action
    /// itself has happened and is not undone.
    func audit(_ job: Job, _ event: AuditEntry.Event, user: Actor, description: String = "") async {
        let entry = AuditEntry(
            jobID: job.id, jobName: job.name, event: event, user: user.name, createdAt: clock.now,
            description: description, address: user.address)
        do { try await store.append(entry) } catch {
            scheduler.logger.error(
                "could not write an audit entry",
                metadata: ["job.id": "\(job.id)", "event": "\(event.rawValue)", "error": "\(error)"])
        }
    }
}

extension Job {
    var isCustomKind: Bool {
        if case .custom = action { return true }
        return false
    }

    /// Where the job is defined: `jobs.d/x.toml:3`, or "the database" for a job created through the API.
    public var location: String {
        if case .file(let path, let line) = source { return "\(path):\(line)" }
        return "the database"
    }
}
