import Foundation

/// Persistence for what the daemon must not forget: executions with their output, the runtime state of jobs
/// (paused, last scheduled instant), the audit log, and jobs created through the API.
///
/// TockCore owns this protocol; stores (SQLite, PostgreSQL) implement it and pass the shared contract suite in
/// TockTesting. Every method is atomic. The requirements are the minimum a store must implement; the
/// conveniences in the extension below (`save(_:)` of one execution, `executions(jobID:limit:)`,
/// `state(ofJob:)`, `setLastScheduled(_:jobID:)`, `auditLog(limit:)`) are built on them.
///
/// A store never reads the clock: every time it writes is passed in.
///
/// - Important: A row a store cannot read back as a value — an execution with an unknown state or trigger, an audit
///   entry with an unknown event, a stored API job whose definition is not a JSON object; written by something
///   else, or damaged — is left out of every result, with an error logged that names the table and the row. It
///   never fails the read and is never turned into a guess: one bad row must not stop the scheduler's start-up
///   reads, a job list or the executions page. A page of executions reads on past such a row, so that a page
///   shorter than its `limit` still means there is no more. (`JobStoreContract.skipsCorruptRows` checks this.)
public protocol JobStore: Sendable {
    /// Marks executions left `running` or `scheduled` by a daemon that died as `interrupted`; returns them.
    func recoverInterruptedExecutions(at date: Date) async throws -> [ExecutionRecord]

    /// Inserts or replaces several executions in one transaction.
    ///
    /// Saving the execution of a scheduled instant (trigger `schedule` or `catchup`, first written as `scheduled`,
    /// `running`, `skipped` or `missed`; see `lastScheduledInstants`) also advances its job's
    /// last scheduled instant to that instant, in the same transaction: after a crash at any moment, an instant
    /// that has a row is never fired again.
    func save(_ executions: [ExecutionRecord]) async throws
    /// One execution; without its output (stdout and stderr empty, their byte counts kept) unless asked: a record's
    /// output can be 2 × `max_output`, and most readers only want its state.
    func execution(id: String, includeOutput: Bool) async throws -> ExecutionRecord?
    /// Up to `limit` bytes of one stream of an execution's stored output (what was kept, the dropped-bytes marker
    /// included), from byte `offset`: empty at or past its end, `nil` when there is no such execution.
    ///
    /// For readers that must not hold a whole output at once (the API's output endpoint reads 1 MiB at a time): a
    /// store keeps large output outside the execution's row, in pieces, and reads only the pieces asked for. The
    /// default implementation reads the whole record.
    func output(ofExecution id: String, stream: OutputChunk.Stream, from offset: Int, limit: Int) async throws
        -> [UInt8]?

    /// A page of executions matching the query, newest first (scheduled instant, then id, descending).
    func executions(matching query: ExecutionQuery) async throws -> [ExecutionRecord]
    /// The newest `perJob` executions of each job (without output), for job lists.
    func recentExecutions(jobIDs: [String], perJob: Int) async throws -> [String: [ExecutionRecord]]
    /// The ids of the jobs whose newest execution (by scheduled instant, then id; any trigger) is in one of
    /// `states`: the jobs a job list counts as failing, read without reading every job's executions (a store keeps
    /// each job's newest execution as it writes them).
    func jobsWithNewestExecution(in states: Set<ExecutionState>) async throws -> Set<String>

    func setPaused(_ paused: Bool, jobID: String) async throws
    /// Remembers, for each job, the latest instant the scheduler has dealt with (fired, skipped or missed), in one
    /// transaction; never moves backwards.
    func setLastScheduled(_ dates: [String: Date]) async throws
    /// Runtime state of every job that has any.
    func allStates() async throws -> [String: JobRuntimeState]

    func append(_ entry: AuditEntry) async throws
    /// Audit entries matching the query, newest first.
    func auditLog(matching query: AuditQuery) async throws -> [AuditEntry]

    /// Jobs created through the API, as their definitions.
    func apiJobs() async throws -> [APIJobDefinition]
    /// Inserts or replaces a job created through the API, at `date` (its creation time if it is new, its update time
    /// in any case).
    func saveAPIJob(_ definition: APIJobDefinition, at date: Date) async throws
    /// Deletes one; false if there was none.
    func deleteAPIJob(id: String) async throws -> Bool

    /// Every dependency edge's cursor (see ``DependencyCursor``): what each dependent has consumed of each upstream.
    func dependencyCursors() async throws -> [DependencyCursor]
    /// Creates a dependent's run and moves the cursors of the edges it consumed, in one transaction, or does nothing.
    ///
    /// Compare-and-set: every cursor given must come after the edge's stored one (``DependencyCursor/isAfter(_:)``;
    /// an edge with none always can). If one does not — another process or node has consumed that success
    /// already — nothing is written and the answer is `false`. This is what makes a dependent run exactly once per
    /// satisfaction, across a crash or several daemons on one store.
    func consumeDependencies(_ cursors: [DependencyCursor], saving execution: ExecutionRecord) async throws -> Bool

    /// The manual run of this job recorded with this idempotency key (see ``saveManualRun(_:idempotencyKey:since:)``)
    /// at or after `since`, if its execution still exists.
    func manualRun(jobID: String, idempotencyKey key: String, since: Date) async throws -> String?
    /// Records a manual run (as ``save(_:)``) with a client's idempotency key, unless an execution of the same job was
    /// recorded with that key at or after `since` and still exists: then nothing is written and its id is returned.
    ///
    /// One transaction; keys are unique per job, so two requests racing with one key record one execution, across
    /// processes (and nodes) sharing the store. A key older than `since` (by the run's scheduled instant) is free again.
    func saveManualRun(_ execution: ExecutionRecord, idempotencyKey key: String, since: Date) async throws -> String?

    /// Deletes executions beyond the newest `keepPerJob` of each job and those scheduled before `olderThan`.
    /// Returns how many were deleted.
    func prune(keepPerJob: Int, olderThan: Date) async throws -> Int
}

extension JobStore {
    public func output(ofExecution id: String, stream: OutputChunk.Stream, from offset: Int, limit: Int) async throws
        -> [UInt8]?
    {
        guard let record = try await execution(id: id, includeOutput: true) else { return nil }
        let bytes = stream == .stdout ? record.stdout : record.stderr
        let start = min(max(0, offset), bytes.count)
        return Array(bytes[start..<(start + min(max(0, limit), bytes.count - start))])
    }

    /// One execution with its output.
    public func execution(id: String) async throws -> ExecutionRecord? {
        try await execution(id: id, includeOutput: true)
    }

    /// Inserts or replaces an execution: `save([execution])`, with the same rule on a scheduled instant.
    public func save(_ execution: ExecutionRecord) async throws {
        try await save([execution])
    }

    /// Executions with their output, newest first (by scheduled instant), optionally of one job.
    public func executions(jobID: String?, limit: Int) async throws -> [ExecutionRecord] {
        try await executions(matching: ExecutionQuery(jobID: jobID, limit: limit, includeOutput: true))
    }

    /// The runtime state of one job (the default state if it has none). Reads every job's: for tests and tools.
    public func state(ofJob id: String) async throws -> JobRuntimeState {
        try await allStates()[id] ?? JobRuntimeState()
    }

    /// Remembers the latest instant the scheduler has dealt with for a job; never moves backwards.
    public func setLastScheduled(_ date: Date, jobID: String) async throws {
        try await setLastScheduled([jobID: date])
    }

    /// The newest `limit` audit entries.
    public func auditLog(limit: Int) async throws -> [AuditEntry] {
        try await auditLog(matching: AuditQuery(limit: limit))
    }
}

extension Collection<ExecutionRecord> {
    /// Per job, the latest instant among these executions that marks the instant as dealt with (see
    /// `JobStore.save(_:)`): what a store advances the job's last scheduled instant to.
    public var lastScheduledInstants: [String: Date] {
        var latest: [String: Date] = [:]
        for e in self where e.trigger == .schedule || e.trigger == .catchup {
            switch e.state {
            case .scheduled, .running, .skipped, .missed:
                if e.scheduledAt > latest[e.jobID] ?? .distantPast { latest[e.jobID] = e.scheduledAt }
            default: continue
            }
        }
        return latest
    }
}

/// A failure of a store that is not about the request: the API answers 503 for it.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// The store cannot write now (disk full, read-only, I/O error, locked); the daemon retries its own writes.
    case unavailable(String)

    public var description: String {
        switch self {
        case .unavailable(let reason): "the store cannot write right now: \(reason)"
        }
    }
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

/// One line of the audit log (SPEC §5): who did what to which job, from where — or, for the security events
/// (logins, users, tokens), to which account (`jobID` empty, `jobName` the account).
public struct AuditEntry: Sendable, Hashable, Codable {
    public enum Event: String, Sendable, Hashable, Codable, CaseIterable {
        case added, modified, deleted, paused, resumed
        case customRun = "custom_run"
        case stopped
        case login
        case loginFailed = "login_failed"
        case logout
        case userAdded = "user_added"
        case userModified = "user_modified"
        case tokenCreated = "token_created"
        case tokenRevoked = "token_revoked"
        case setupCompleted = "setup_completed"

        /// Events about accounts rather than jobs: shown to admins only.
        public var isSecurity: Bool {
            switch self {
            case .added, .modified, .deleted, .paused, .resumed, .customRun, .stopped: false
            default: true
            }
        }
    }

    public var id: Int64?
    public var jobID: String
    public var jobName: String
    public var event: Event
    /// The actor: `alice`, `token:deploy-ci`, `local`.
    public var user: String
    public var createdAt: Date
    public var description: String
    /// The client's address (from a trusted proxy's `X-Forwarded-For` behind one); nil for the daemon's own acts
    /// and the CLI.
    public var address: String?

    public init(
        id: Int64? = nil, jobID: String, jobName: String, event: Event, user: String, createdAt: Date,
        description: String = "", address: String? = nil
    ) {
        self.id = id
        self.jobID = jobID
        self.jobName = jobName
        self.event = event
        self.user = user
        self.createdAt = createdAt
        self.description = description
        self.address = address
    }
}

/// Who acts on the catalog, for the audit log: a name (`alice`, `token:ci`, `local`) and the client's address.
public struct Actor: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var name: String
    public var address: String?

    public init(_ name: String, address: String? = nil) {
        self.name = name
        self.address = address
    }

    public init(stringLiteral value: String) { self.init(value) }

    public var description: String { name }
}
