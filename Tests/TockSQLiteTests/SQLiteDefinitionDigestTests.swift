import Foundation
import GRDB
import Logging
import Testing
import TockCore
import TockTesting

@testable import TockSQLite

/// `definition_digest` (migration clusterview-1): a database of the release before is upgraded in place (its rows
/// read back with no digest), and a run started by the scheduler records the digest of the definition it ran.
@Suite(.timeLimit(.minutes(1)))
struct SQLiteDefinitionDigestTests {
    /// The last migration before the digest column.
    static let previousRelease = SQLiteJobStore.latestMigrationName

    @Test func upgrade_keepsOldRowsWithoutADigest_andNewRowsKeepTheirs() async throws {
        let path = SQLiteJobStoreTests.temporaryPath()
        defer {
            for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let old = ExecutionRecord(
            jobID: "a", state: .succeeded, trigger: .schedule, scheduledAt: Date(timeIntervalSince1970: 1_767_225_600),
            host: "h")
        do {
            let queue = try DatabaseQueue(path: path)
            try SQLiteJobStore.migrator.migrate(queue, upTo: Self.previousRelease)
            let columns = try await queue.read { db in try db.columns(in: "execution").map(\.name) }
            #expect(!columns.contains("definition_digest"))
            try await queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO execution (id, job_id, state, trigger, scheduled_at, host, attempt, stdout, stderr,
                        stdout_bytes, stderr_bytes) VALUES (?, ?, ?, ?, ?, ?, 1, x'', x'', 0, 0)
                        """,
                    arguments: [old.id, old.jobID, old.state.rawValue, old.trigger.rawValue, 1_767_225_600.0, "h"])
            }
        }
        let store = try SQLiteJobStore(path: path)
        #expect(try await store.execution(id: old.id) == old)
        var new = ExecutionRecord(
            jobID: "a", state: .succeeded, trigger: .manual, scheduledAt: Date(timeIntervalSince1970: 1_767_225_700),
            host: "h")
        new.definitionDigest = String(repeating: "9", count: 64)
        try await store.save(new)
        #expect(try await store.execution(id: new.id)?.definitionDigest == new.definitionDigest)
        #expect(
            try await store.executions(matching: ExecutionQuery(jobID: "a")).map(\.definitionDigest) == [
                new.definitionDigest, nil,
            ])
        let applied = try await DatabaseQueue(path: path).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        }
        #expect(applied.contains("clusterview-1: the definition digest each execution ran with"))
    }

    @Test func aRun_recordsTheDigestOfTheDefinitionItRan_andSkippedInstantsNone() async throws {
        let path = SQLiteJobStoreTests.temporaryPath()
        defer {
            for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let store = try SQLiteJobStore(path: path)
        let parsed = JobDefinitionReader.parse(
            """
            [job.digest]
            schedule = "@yearly"
            command = "true"
            timezone = "Europe/Paris"
            """, file: "jobs.d/jobs.toml")
        let job = try #require(parsed.jobs.first)
        let scheduler = Scheduler(
            jobs: parsed.jobs, store: store, runner: ProcessJobRunner(),
            configuration: SchedulerConfiguration(host: "h"), logger: Logger(label: "test"))
        let loop = Task { try await scheduler.run() }
        defer { loop.cancel() }
        try await eventually("started") { scheduler.hasStarted }
        let expected = job.definitionDigest(defaultTimeZone: "UTC")
        let id = try await scheduler.runNow(jobID: "digest")
        try await eventually("finished") { try await store.execution(id: id)?.state == .succeeded }
        let digest = try #require(try await store.execution(id: id)?.definitionDigest)
        #expect(digest == expected)
        // Already in the row written as the run starts (a crash mid-run still says which definition ran).
        _ = try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "CREATE TABLE seen (digest TEXT)")
            try db.execute(
                sql: """
                    CREATE TRIGGER running_digest AFTER INSERT ON execution WHEN NEW.state = 'running'
                    BEGIN INSERT INTO seen VALUES (NEW.definition_digest); END
                    """)
        }
        let second = try await scheduler.runNow(jobID: "digest")
        try await eventually("second finished") { try await store.execution(id: second)?.state == .succeeded }
        let seen = try await DatabaseQueue(path: path).read { db in
            try String?.fetchAll(db, sql: "SELECT digest FROM seen")
        }
        #expect(!seen.isEmpty && seen.allSatisfy { $0 == expected }, "\(seen)")
        #expect(await scheduler.fileJobDigests() == ["digest": digest])
        // The digest is of the definition: the same job from another file or line has the same one; a change differs.
        var moved = job
        moved.source = .file(path: "jobs.d/other.toml", line: 40)
        #expect(moved.definitionDigest(defaultTimeZone: "UTC") == digest)
        var changed = job
        changed.action = .command("false", shell: "/bin/sh")
        #expect(changed.definitionDigest(defaultTimeZone: "UTC") != digest)
    }
}
