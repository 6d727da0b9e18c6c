import Foundation
import GRDB
import Logging
import TockCore
import TockJSON

/// The embedded store: one SQLite file in WAL mode (GRDB `DatabasePool`: concurrent reads, one writer),
/// with named, append-only migrations.
///
/// Columns are always named (never `SELECT *`) and read by name. A row that cannot be read back (see ``JobStore``)
/// is logged at error level and left out of the result.
public final class SQLiteJobStore: JobStore {
    let pool: DatabasePool
    let logger: Logger
    /// Bytes per row of `execution_output` (see `SQLiteJobStore+Output.swift`).
    let outputPieceSize: Int

    /// Opens (creating if needed) the database at `path` and migrates it.
    ///
    /// - Parameters:
    ///   - path: The database file; `-wal`, `-shm` and `.lock` files are kept next to it.
    ///   - logger: Where rows that cannot be read are reported.
    ///   - outputPieceSize: Bytes of output per stored piece (1 MiB; tests use small ones to cross boundaries).
    public init(
        path: String, logger: Logger = Logger(label: "tock.store"), outputPieceSize: Int = defaultOutputPieceSize
    ) throws {
        self.logger = logger
        self.outputPieceSize = max(1, outputPieceSize)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Readers (up to five) keep 1 MiB of pages each instead of 2: the file's pages are in the kernel's cache
            // anyway, and five full caches were ~10 MB of the daemon's memory at 10,000,000 executions.
            if db.configuration.readonly { try db.execute(sql: "PRAGMA cache_size = -1024") }
        }
        // It holds job output and environment values: owner only (SQLite gives -wal and -shm the same mode).
        Self.createPrivateFile(path)
        pool = try DatabasePool(path: path, configuration: configuration)
        // Two processes opening a new file at once (a daemon and `tock` CLI, two daemons) must not both run the
        // same migration: the migrator's check-then-apply is not atomic across processes.
        try Self.withFileLock(path + ".lock") {
            try Self.refuseNewerDatabase(pool, path: path)
            try Self.migrator.migrate(pool)
        }
    }

    private static func withFileLock<T>(_ lockPath: String, _ body: () throws -> T) throws -> T {
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return try body() }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    public func recoverInterruptedExecutions(at date: Date) async throws -> [ExecutionRecord] {
        try await recoverInterruptedExecutions(at: date, within: { _, _ in })
    }

    /// Recovery, with `also` run in the same transaction (the outbox's deliveries of the interrupted executions).
    func recoverInterruptedExecutions(
        at date: Date, within also: @escaping @Sendable (Database, [ExecutionRecord]) throws -> Void
    ) async throws -> [ExecutionRecord] {
        try await write { db in
            let pending = try self.executions(db.makeStatement(sql: Self.pendingExecutionsSQL))
            try db.execute(sql: Self.interruptPendingSQL, arguments: [date.timeIntervalSince1970])
            // Each job's newest execution mirrors its row (`SQLiteJobStore+Latest.swift`).
            try db.execute(
                sql: "UPDATE job_latest_execution SET state = 'interrupted' WHERE state IN ('running', 'scheduled')")
            try also(db, pending)
            return pending
        }
    }

    /// The executions a stopped daemon left pending or running. Through the state index by name: once `ANALYZE`
    /// (`PRAGMA optimize`) has seen a table of finished runs it counts ~N/2 rows per state and scans all of them
    /// instead — 10,000,000 rows read at every start (~1 s), for the few that are running.
    static let pendingExecutionsSQL =
        "SELECT \(executionColumns) FROM execution INDEXED BY execution_state_time WHERE state IN ('running', 'scheduled')"
    static let interruptPendingSQL = """
        UPDATE execution INDEXED BY execution_state_time SET state = 'interrupted', ended_at = COALESCE(ended_at, ?),
        message = COALESCE(message, 'the daemon stopped while this execution was pending or running')
        WHERE state IN ('running', 'scheduled')
        """

    /// GRDB's synchronous write (from a synchronous function, so overload resolution cannot pick the async one).
    private func writeNow<T>(_ updates: (Database) throws -> T) throws -> T {
        do { return try pool.write(updates) } catch { throw Self.storeError(error) }
    }

    /// GRDB's asynchronous write, with the failures that are about the disk, not the data, made
    /// ``StoreError/unavailable(_:)``.
    func write<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.write(updates) } catch { throw Self.storeError(error) }
    }

    static func storeError(_ error: any Error) -> any Error {
        guard let error = error as? DatabaseError else { return error }
        let code = error.resultCode.primaryResultCode
        let reason: String
        switch code {
        case .SQLITE_FULL: reason = "the disk is full"
        case .SQLITE_IOERR: reason = "disk I/O error"
        case .SQLITE_READONLY: reason = "the database is read-only"
        case .SQLITE_BUSY, .SQLITE_LOCKED: reason = "the database is locked by another process"
        case .SQLITE_CANTOPEN: reason = "the database file cannot be opened"
        default: return error
        }
        return StoreError.unavailable("\(reason) (SQLite error \(code.rawValue))")
    }

    /// A write failure to simulate, for tests of what the daemon does when its store cannot write.
    public enum SimulatedWriteFailure: Sendable {
        /// `PRAGMA max_page_count` at the current size: every write that needs a new page fails with SQLITE_FULL,
        /// exactly as on a full disk.
        case diskFull
        /// `PRAGMA query_only`: every write fails with SQLITE_READONLY.
        case readOnly
    }

    /// Makes the writer connection fail as `failure` says (`nil`: writes work again). For tests.
    public func simulateWriteFailure(_ failure: SimulatedWriteFailure?) throws {
        try pool.writeWithoutTransaction { db in
            try db.execute(
                sql: failure == .diskFull ? "PRAGMA max_page_count = 1" : "PRAGMA max_page_count = 1073741823")
            try db.execute(sql: failure == .readOnly ? "PRAGMA query_only = 1" : "PRAGMA query_only = 0")
        }
    }

    public func save(_ executions: [ExecutionRecord]) async throws {
        let pieceSize = outputPieceSize
        switch executions.count {
        case 0: return
        case 1:
            // Single rows (outcomes, pids) come from many runs at once: the asynchronous write keeps the
            // cooperative threads free while they queue for the writer.
            try await write { db in try Self.insert(executions, pieceSize: pieceSize, db) }
        default:
            // The scheduler's batch of runs about to start, on the path to the processes' start: synchronous on
            // the calling thread, as a short SQLite transaction costs less than the two thread hops of an
            // asynchronous write.
            try writeNow { db in try Self.insert(executions, pieceSize: pieceSize, db) }
        }
    }

    static func insert(_ executions: [ExecutionRecord], pieceSize: Int, _ db: Database) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO execution (id, job_id, state, trigger, scheduled_at, started_at, ended_at,
                host, pid, attempt, exit_code, signal, message, stdout, stderr, stdout_bytes, stderr_bytes,
                definition_digest)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        let latest = try db.cachedStatement(sql: noteLatestSQL)
        for e in executions {
            // The output goes to `execution_output`, piece by piece, each bound without a copy of its own: in the
            // row, SQLite would build the whole row (the output included) in one more buffer the size of the cap.
            try statement.execute(arguments: [
                e.id, e.jobID, e.state.rawValue, e.trigger.rawValue, e.scheduledAt.timeIntervalSince1970,
                e.startedAt?.timeIntervalSince1970, e.endedAt?.timeIntervalSince1970, e.host,
                e.pid.map { Int64($0) }, e.attempt, e.exitCode.map { Int64($0) }, e.signal.map { Int64($0) },
                e.message, Data(), Data(), e.stdoutBytes, e.stderrBytes, e.definitionDigest,
            ])
            try writeOutput(of: e, pieceSize: pieceSize, db)
            try latest.execute(arguments: [e.jobID, e.id, e.state.rawValue, e.scheduledAt.timeIntervalSince1970])
        }
        // The row of a scheduled instant and "this instant was dealt with" in one transaction (JobStore.save).
        let instants = executions.lastScheduledInstants
        guard !instants.isEmpty else { return }
        let advance = try db.cachedStatement(sql: advanceLastScheduledSQL)
        for (id, date) in instants { try advance.execute(arguments: [id, date.timeIntervalSince1970]) }
    }

    private static let advanceLastScheduledSQL = """
        INSERT INTO job_state (job_id, last_scheduled_at) VALUES (?, ?)
        ON CONFLICT(job_id) DO UPDATE SET last_scheduled_at =
        MAX(COALESCE(last_scheduled_at, excluded.last_scheduled_at), excluded.last_scheduled_at)
        """

    public func execution(id: String, includeOutput: Bool) async throws -> ExecutionRecord? {
        let columns = includeOutput ? Self.executionColumns : Self.columnsWithoutOutput
        return try await pool.read { db in
            var found = try self.executions(
                db.cachedStatement(sql: "SELECT \(columns) FROM execution WHERE id = ?"), arguments: [id])
            if includeOutput { try Self.attachOutput(&found, db) }
            return found.first
        }
    }

    public func output(ofExecution id: String, stream: OutputChunk.Stream, from offset: Int, limit: Int) async throws
        -> [UInt8]?
    {
        try await pool.read { db in try Self.readOutput(db, id: id, stream: stream, from: offset, limit: limit) }
    }

    /// Every column of an execution, named: never `SELECT *`, so that a column a migration adds or moves cannot
    /// change what is read.
    static let executionColumns = """
        id, job_id, state, trigger, scheduled_at, started_at, ended_at, host, pid, attempt, exit_code, signal, message,
        stdout, stderr, stdout_bytes, stderr_bytes, definition_digest
        """

    /// ``executionColumns`` with `NULL` in place of the output, for lists.
    static let columnsWithoutOutput = """
        id, job_id, state, trigger, scheduled_at, started_at, ended_at, host, pid, attempt, exit_code, signal, message,
        NULL AS stdout, NULL AS stderr, stdout_bytes, stderr_bytes, definition_digest
        """

    public func executions(matching query: ExecutionQuery) async throws -> [ExecutionRecord] {
        try await pool.read { db in
            var filter = Filter()
            filter.add("job_id = ?", query.jobID)
            if let ids = query.jobIDs {
                filter.add(
                    "job_id IN (SELECT value FROM json_each(?))",
                    JSONValue.array(ids.sorted().map { .string($0) }).jsonString)
            }
            filter.add("state = ?", query.state?.rawValue)
            filter.add("scheduled_at >= ?", query.from?.timeIntervalSince1970)
            filter.add("scheduled_at <= ?", query.to?.timeIntervalSince1970)
            var page = try self.executionPage(
                db, columns: query.includeOutput ? Self.executionColumns : Self.columnsWithoutOutput, filter: filter,
                after: query.after, limit: query.limit)
            if query.includeOutput { try Self.attachOutput(&page, db) }
            return page
        }
    }

    /// Up to `limit` executions that `filter` selects, newest first, after `after`. A row that cannot be read is
    /// left out and the page reads on past it, so that a page shorter than `limit` still means there is no more.
    private func executionPage(
        _ db: Database, columns: String, filter: Filter, after: ExecutionCursor?, limit: Int
    ) throws -> [ExecutionRecord] {
        var page: [ExecutionRecord] = []
        var after = after
        while page.count < limit {
            var conditions = filter
            if let after {
                conditions.add("(scheduled_at, id) < (?, ?)", [after.scheduledAt.timeIntervalSince1970, after.id])
            }
            let wanted = limit - page.count
            let statement = try db.cachedStatement(
                sql: "SELECT \(columns) FROM execution \(conditions.clause) ORDER BY scheduled_at DESC, id DESC LIMIT ?"
            )
            let rows = try Row.fetchAll(statement, arguments: conditions.arguments(then: wanted))
            guard let last = rows.last else { break }
            let positions = try ExecutionColumns(statement.columnNames)
            page += readable(rows) { row throws(CorruptRow) in try Self.execution(from: row, positions) }
            guard rows.count == wanted, page.count < limit,
                let scheduledAt = try? last.decode(Double.self, atIndex: positions.scheduledAt),
                let id = try? last.decode(String.self, atIndex: positions.id)
            else { break }
            after = ExecutionCursor(scheduledAt: Date(timeIntervalSince1970: scheduledAt), id: id)
        }
        return page
    }

    /// A `WHERE` clause built from the conditions that apply.
    struct Filter {
        var conditions: [String] = []
        var values: [(any DatabaseValueConvertible)?] = []

        /// Adds `condition` when `value` is present.
        mutating func add(_ condition: String, _ value: (any DatabaseValueConvertible)?) {
            guard let value else { return }
            add(condition, [value])
        }

        mutating func add(_ condition: String, _ values: [any DatabaseValueConvertible]) {
            conditions.append(condition)
            self.values += values.map { $0 }
        }

        var clause: String { conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ") }

        func arguments(then last: Int) -> StatementArguments { StatementArguments(values + [last]) }
    }

    public func recentExecutions(jobIDs: [String], perJob: Int) async throws -> [String: [ExecutionRecord]] {
        try await pool.read { db in
            var result: [String: [ExecutionRecord]] = [:]
            for id in jobIDs {
                var filter = Filter()
                filter.add("job_id = ?", id)
                let executions = try self.executionPage(
                    db, columns: Self.columnsWithoutOutput, filter: filter, after: nil, limit: perJob)
                if !executions.isEmpty { result[id] = executions }
            }
            return result
        }
    }

    public func auditLog(matching query: AuditQuery) async throws -> [AuditEntry] {
        var filter = Filter()
        filter.add("job_id = ?", query.jobID)
        filter.add("created_at >= ?", query.from?.timeIntervalSince1970)
        if let ids = query.jobIDs {
            filter.add(
                "job_id IN (SELECT value FROM json_each(?))",
                JSONValue.array(ids.sorted().map { .string($0) }).jsonString)
        }
        if !query.includeSecurity {
            let events = AuditEntry.Event.allCases.filter(\.isSecurity).map { "'\($0.rawValue)'" }.joined(
                separator: ", ")
            filter.add("event NOT IN (\(events))", [any DatabaseValueConvertible]())
        }
        filter.add("created_at <= ?", query.to?.timeIntervalSince1970)
        let sql = """
            SELECT id, job_id, job_name, event, user, created_at, description, address FROM audit_log \(filter.clause)
            ORDER BY created_at DESC, id DESC LIMIT ?
            """
        let arguments = filter.arguments(then: max(0, query.limit))
        return try await pool.read { db in
            try self.readable(Row.fetchAll(db, sql: sql, arguments: arguments), Self.auditEntry)
        }
    }

    public func apiJobs() async throws -> [APIJobDefinition] {
        try await pool.read { db in
            try self.readable(Row.fetchAll(db, sql: "SELECT id, definition FROM api_job ORDER BY id"), Self.apiJob)
        }
    }

    public func saveAPIJob(_ definition: APIJobDefinition, at date: Date) async throws {
        let now = date.timeIntervalSince1970
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO api_job (id, definition, created_at, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at
                    """, arguments: [definition.id, definition.storedBody.jsonString, now, now])
        }
    }

    public func deleteAPIJob(id: String) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM api_job WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    public func setPaused(_ paused: Bool, jobID: String) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO job_state (job_id, paused) VALUES (?, ?)
                    ON CONFLICT(job_id) DO UPDATE SET paused = excluded.paused
                    """, arguments: [jobID, paused])
        }
    }

    public func setLastScheduled(_ dates: [String: Date]) async throws {
        guard !dates.isEmpty else { return }
        try writeNow { db in
            let statement = try db.cachedStatement(sql: Self.advanceLastScheduledSQL)
            for (id, date) in dates { try statement.execute(arguments: [id, date.timeIntervalSince1970]) }
        }
    }

    public func allStates() async throws -> [String: JobRuntimeState] {
        try await pool.read { db in
            var states: [String: JobRuntimeState] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT job_id, paused, last_scheduled_at FROM job_state") {
                states[try row.decode(forColumn: "job_id")] = try Self.state(from: row)
            }
            return states
        }
    }

    public func append(_ entry: AuditEntry) async throws {
        try await write { db in
            try db.execute(
                sql:
                    "INSERT INTO audit_log (job_id, job_name, event, user, created_at, description, address) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    entry.jobID, entry.jobName, entry.event.rawValue, entry.user, entry.createdAt.timeIntervalSince1970,
                    entry.description, entry.address,
                ])
        }
    }
}
