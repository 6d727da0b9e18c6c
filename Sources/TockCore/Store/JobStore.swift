import Foundation

/// Persistence for what the daemon must not forget: executions with their output, the runtime state of jobs
/// (paused, last scheduled instant), the audit log, and jobs created through the API.
///
/// TockCore owns this protocol; stores (SQLite, PostgreSQL) implement it and pass the shared contract suite in
/// TockTesting. Every method is atomic.
public protocol JobStore: Sendable {
    /// Marks executions left `running` or `scheduled` by a daemon that died as `interrupted`; returns them.
    func recoverInterruptedExecutions(at date: Date) async throws -> [ExecutionRecord]

    /// Inserts or replaces an execution.
    func save(_ execution: ExecutionRecord) async throws
    /// Inserts or replaces several executions in one transaction.
    func save(_ executions: [ExecutionRecord]) async throws
    func execution(id: String) async throws -> ExecutionRecord?
    /// Executions newest first (by scheduled instant), optionally of one job.
    func executions(jobID: String?, limit: Int) async throws -> [ExecutionRecord]

    /// A page of executions matching the query, newest first (scheduled instant, then id, descending).
    func executions(matching query: ExecutionQuery) async throws -> [ExecutionRecord]
    /// The newest `perJob` executions of each job (without output), for job lists.
    func recentExecutions(jobIDs: [String], perJob: Int) async throws -> [String: [ExecutionRecord]]

    func state(ofJob id: String) async throws -> JobRuntimeState
    func setPaused(_ paused: Bool, jobID: String) async throws
    /// Remembers the latest instant the scheduler has dealt with for a job (fired, skipped or missed); never
    /// moves backwards.
    func setLastScheduled(_ date: Date, jobID: String) async throws
    /// The same for several jobs in one transaction.
    func setLastScheduled(_ dates: [String: Date]) async throws
    /// Runtime state of every job that has any.
    func allStates() async throws -> [String: JobRuntimeState]

    func append(_ entry: AuditEntry) async throws
    func auditLog(limit: Int) async throws -> [AuditEntry]
    /// Audit entries matching the query, newest first.
    func auditLog(matching query: AuditQuery) async throws -> [AuditEntry]

    /// Jobs created through the API, as their definitions.
    func apiJobs() async throws -> [APIJobDefinition]
    /// Inserts or replaces a job created through the API.
    func saveAPIJob(_ definition: APIJobDefinition) async throws
    /// Deletes one; false if there was none.
    func deleteAPIJob(id: String) async throws -> Bool

    /// Deletes executions beyond the newest `keepPerJob` of each job and those scheduled before `olderThan`.
    /// Returns how many were deleted.
    func prune(keepPerJob: Int, olderThan: Date) async throws -> Int
}

/// What the scheduler keeps about a job between runs of the daemon.
public struct JobRuntimeState: Sendable, Hashable, Codable {
    public var paused: Bool
    public var lastScheduledAt: Date?
    public init(paused: Bool = false, lastScheduledAt: Date? = nil) {
        self.paused = paused
        self.lastScheduledAt = lastScheduledAt
    }
}

/// One line of the audit log (SPEC §5).
public struct AuditEntry: Sendable, Hashable, Codable {
    public enum Event: String, Sendable, Hashable, Codable, CaseIterable {
        case added, modified, deleted, paused, resumed
        case customRun = "custom_run"
        case stopped
    }

    public var id: Int64?
    public var jobID: String
    public var jobName: String
    public var event: Event
    public var user: String
    public var createdAt: Date
    public var description: String

    public init(
        id: Int64? = nil, jobID: String, jobName: String, event: Event, user: String, createdAt: Date,
        description: String = ""
    ) {
        self.id = id
        self.jobID = jobID
        self.jobName = jobName
        self.event = event
        self.user = user
        self.createdAt = createdAt
        self.description = description
    }
}
