import Foundation
import GRDB
import Logging
import Synchronization
import Testing
import TockCore
import TockJSON
import TockSQLite
import TockTesting

/// The shared store contract against a real SQLite file, plus what only a file can show.
struct SQLiteJobStoreTests {
    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tock-\(UUID()).sqlite").path
    }

    @Test(arguments: JobStoreContract.checks.map(\.0))
    func contract(_ name: String) async throws {
        let path = Self.temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let check = try #require(JobStoreContract.checks.first { $0.0 == name }?.1)
        try await check(try SQLiteJobStore(path: path))
    }

    @Test func contract_skipsCorruptRows() async throws {
        let path = Self.temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let database = try DatabaseQueue(path: path)
        let logged = LoggedErrors()
        let logger = Logger(label: "test") { _ in logged }
        try await JobStoreContract.skipsCorruptRows(try SQLiteJobStore(path: path, logger: logger)) { row in
            try await database.write { db in
                switch row {
                case .execution(let id):
                    try db.execute(sql: "UPDATE execution SET trigger = 'earthquake' WHERE id = ?", arguments: [id])
                case .auditEntries(let jobID):
                    try db.execute(sql: "UPDATE audit_log SET event = 'exploded' WHERE job_id = ?", arguments: [jobID])
                case .apiJob(let id):
                    try db.execute(
                        sql: "UPDATE api_job SET definition = '{\"schedule\": ' WHERE id = ?", arguments: [id])
                }
                #expect(db.changesCount > 0, "\(row) was not found")
            }
        }
        let rows = Set(logged.entries.map { "\($0["store.table"] ?? "?") \($0["store.row"] ?? "?")" })
        #expect(rows.count == 4, "two executions, an audit entry and an API job: \(rows)")
        #expect(rows.contains("api_job bad"))
    }

    /// Keeps the metadata of every error logged.
    final class LoggedErrors: LogHandler, Sendable {
        private let logged = Mutex<[Logger.Metadata]>([])
        var entries: [Logger.Metadata] { logged.withLock { $0 } }

        func log(event: LogEvent) {
            guard event.level == .error else { return }
            logged.withLock { $0.append(event.metadata ?? [:]) }
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { nil }
            set {}
        }
        var metadata: Logger.Metadata {
            get { [:] }
            set {}
        }
        var logLevel: Logger.Level {
            get { .info }
            set {}
        }
    }

    @Test func apiJobTimes_areTheCallersNotTheClock() async throws {
        let path = Self.temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try SQLiteJobStore(path: path)
        let definition = APIJobDefinition(id: "j", body: .object([("schedule", "@daily")]))
        try await store.saveAPIJob(definition, at: Date(timeIntervalSince1970: 100))
        try await store.saveAPIJob(definition, at: Date(timeIntervalSince1970: 250.5))
        let times = try await DatabaseQueue(path: path).read { db in
            try Row.fetchOne(db, sql: "SELECT created_at, updated_at FROM api_job WHERE id = 'j'")
                .map { [$0["created_at"], $0["updated_at"]] as [Double] }
        }
        #expect(times == [100, 250.5])
    }

    @Test func reopeningTheFile_keepsEverything_andMigratesOnce() async throws {
        let path = Self.temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let record = ExecutionRecord(
            jobID: "a", state: .succeeded, trigger: .manual, scheduledAt: Date(timeIntervalSince1970: 10), host: "h")
        do {
            let store = try SQLiteJobStore(path: path)
            try await store.save(record)
            try await store.setPaused(true, jobID: "a")
        }
        let reopened = try SQLiteJobStore(path: path)
        #expect(try await reopened.execution(id: record.id) == record)
        #expect(try await reopened.state(ofJob: "a").paused)
    }

    @Test func columnsInAnotherOrder_areReadByName() async throws {
        let path = Self.temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try SQLiteJobStore(path: path)
        var record = ExecutionRecord(
            jobID: "a", state: .failed, trigger: .retry, scheduledAt: Date(timeIntervalSince1970: 10), host: "h")
        record.startedAt = Date(timeIntervalSince1970: 11)
        record.endedAt = Date(timeIntervalSince1970: 12.5)
        record.pid = 42
        record.attempt = 3
        record.exitCode = 7
        record.message = "m"
        record.stdout = Array("out".utf8)
        record.stderr = Array("err".utf8)
        record.stdoutBytes = 3
        record.stderrBytes = 4
        try await store.save(record)
        try await store.append(
            AuditEntry(jobID: "a", jobName: "A", event: .paused, user: "u", createdAt: record.scheduledAt))
        try await store.setPaused(true, jobID: "a")
        // A table rebuilt with its columns in another order (as a later migration may do): `SELECT *` read by
        // position would misread every row.
        try await DatabaseQueue(path: path).write { db in
            try db.execute(
                sql: """
                    CREATE TABLE execution_new (
                        definition_digest TEXT, stderr_bytes INTEGER NOT NULL, stdout_bytes INTEGER NOT NULL, stderr BLOB NOT NULL,
                        stdout BLOB NOT NULL, message TEXT, signal INTEGER, exit_code INTEGER, attempt INTEGER NOT NULL,
                        pid INTEGER, host TEXT NOT NULL, ended_at REAL, started_at REAL, scheduled_at REAL NOT NULL,
                        trigger TEXT NOT NULL, state TEXT NOT NULL, job_id TEXT NOT NULL, id TEXT PRIMARY KEY NOT NULL
                    ) STRICT;
                    INSERT INTO execution_new SELECT definition_digest, stderr_bytes, stdout_bytes, stderr, stdout, message, signal,
                        exit_code, attempt, pid, host, ended_at, started_at, scheduled_at, trigger, state, job_id, id
                        FROM execution;
                    DROP TABLE execution;
                    ALTER TABLE execution_new RENAME TO execution;
                    CREATE TABLE audit_log_new (
                        address TEXT, description TEXT NOT NULL, created_at REAL NOT NULL, user TEXT NOT NULL, event TEXT NOT NULL,
                        job_name TEXT NOT NULL, job_id TEXT NOT NULL, id INTEGER PRIMARY KEY AUTOINCREMENT
                    ) STRICT;
                    INSERT INTO audit_log_new SELECT address, description, created_at, user, event, job_name, job_id,
                        id FROM audit_log;
                    DROP TABLE audit_log;
                    ALTER TABLE audit_log_new RENAME TO audit_log;
                    CREATE TABLE job_state_new (
                        last_scheduled_at REAL, paused INTEGER NOT NULL DEFAULT 0, job_id TEXT PRIMARY KEY NOT NULL
                    ) STRICT;
                    INSERT INTO job_state_new SELECT last_scheduled_at, paused, job_id FROM job_state;
                    DROP TABLE job_state;
                    ALTER TABLE job_state_new RENAME TO job_state;
                    """)
        }
        let reopened = try SQLiteJobStore(path: path)
        #expect(try await reopened.execution(id: record.id) == record)
        #expect(try await reopened.executions(matching: ExecutionQuery(includeOutput: true)) == [record])
        var withoutOutput = record
        (withoutOutput.stdout, withoutOutput.stderr) = ([], [])
        #expect(try await reopened.recentExecutions(jobIDs: ["a"], perJob: 5) == ["a": [withoutOutput]])
        #expect(try await reopened.auditLog(limit: 5).map(\.event) == [.paused])
        #expect(try await reopened.auditLog(limit: 5).first?.jobName == "A")
        #expect(try await reopened.allStates()["a"] == JobRuntimeState(paused: true, lastScheduledAt: nil))
    }

    @Test func inMemoryFake_passesTheSameContract() async throws {
        for (_, check) in JobStoreContract.checks { try await check(InMemoryJobStore()) }
    }
}
