import Foundation
import GRDB
import Testing
import TockCore
import TockTesting

@testable import TockSQLite

/// `job_latest_execution` (migration v5): a database written by the release before it is upgraded in place, and the
/// table then follows every write.
@Suite struct SQLiteLatestExecutionTests {
    /// The last migration of the release before v5: a file made by it has executions but no table of newest ones.
    static let previousRelease = "notify-1: notification deliveries (outbox and log)"

    static func record(_ job: String, _ minutes: Int, _ state: ExecutionState) -> ExecutionRecord {
        ExecutionRecord(
            jobID: job, state: state, trigger: .schedule,
            scheduledAt: Date(timeIntervalSince1970: 1_767_225_600 + Double(minutes) * 60), host: "h")
    }

    @Test func upgrade_fillsTheNewestExecutionOfEveryJob_fromADatabaseOfThePreviousRelease() async throws {
        let path = SQLiteJobStoreTests.temporaryPath()
        defer {
            for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        // Jobs whose newest run failed (a, c), succeeded (b), is running (d); two runs of e at the same instant (the
        // greater id is the newer); f's newest is neither first nor last by rowid.
        var written = [
            Self.record("a", 1, .succeeded), Self.record("a", 7, .failed), Self.record("b", 3, .failed),
            Self.record("b", 4, .succeeded), Self.record("c", 2, .timeout), Self.record("d", 1, .failed),
            Self.record("d", 9, .running), Self.record("f", 1, .succeeded), Self.record("f", 8, .failed),
            Self.record("f", 5, .succeeded),
        ]
        let twins = [Self.record("e", 6, .succeeded), Self.record("e", 6, .failed)].sorted { $0.id < $1.id }
        written += twins
        let rows = written
        do {
            let queue = try DatabaseQueue(path: path)
            try SQLiteJobStore.migrator.migrate(queue, upTo: Self.previousRelease)
            #expect(try await queue.read { try $0.tableExists("job_latest_execution") } == false)
            try await queue.write { db in
                for e in rows.shuffled() {
                    try db.execute(
                        sql: """
                            INSERT INTO execution (id, job_id, state, trigger, scheduled_at, host, attempt, stdout,
                            stderr, stdout_bytes, stderr_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, x'', x'', 0, 0)
                            """,
                        arguments: [
                            e.id, e.jobID, e.state.rawValue, e.trigger.rawValue, e.scheduledAt.timeIntervalSince1970,
                            e.host, e.attempt,
                        ])
                }
            }
        }
        let store = try SQLiteJobStore(path: path)
        let expected: Set<String> = twins[1].state == .failed ? ["a", "c", "e", "f"] : ["a", "c", "f"]
        #expect(try await store.jobsWithNewestExecution(in: [.failed, .timeout]) == expected)
        #expect(try await store.jobsWithNewestExecution(in: [.running]) == ["d"])
        // What the table holds is what the executions say, row for row.
        let newest = try await DatabaseQueue(path: path).read { db in
            try Row.fetchAll(db, sql: "SELECT job_id, execution_id FROM job_latest_execution ORDER BY job_id")
                .map { "\($0["job_id"] as String) \($0["execution_id"] as String)" }
        }
        let byJob = Dictionary(grouping: rows, by: \.jobID).mapValues {
            $0.max { ($0.scheduledAt, $0.id) < ($1.scheduledAt, $1.id) }!.id
        }
        #expect(newest == byJob.keys.sorted().map { "\($0) \(byJob[$0]!)" })
        // From then on every write keeps it: a newer success of a, d interrupted by a restart.
        try await store.save(Self.record("a", 10, .succeeded))
        _ = try await store.recoverInterruptedExecutions(at: Date(timeIntervalSince1970: 1_767_300_000))
        #expect(try await store.jobsWithNewestExecution(in: [.failed, .timeout]) == expected.subtracting(["a"]))
        #expect(try await store.jobsWithNewestExecution(in: [.interrupted]) == ["d"])
    }

    @Test func upgrade_ofAnEmptyDatabase() async throws {
        let path = SQLiteJobStoreTests.temporaryPath()
        defer {
            for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        do {
            let queue = try DatabaseQueue(path: path)
            try SQLiteJobStore.migrator.migrate(queue, upTo: Self.previousRelease)
        }
        let store = try SQLiteJobStore(path: path)
        #expect(try await store.jobsWithNewestExecution(in: Set(ExecutionState.allCases)).isEmpty)
    }

    /// Pruning a thousand rows and more goes in several short transactions and takes the same rows as one would.
    @Test func prune_inBatches_deletesWhatTheRulesSay() async throws {
        let path = SQLiteJobStoreTests.temporaryPath()
        defer {
            for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let store = try SQLiteJobStore(path: path)
        var rows: [ExecutionRecord] = []
        for job in 0..<5 {
            for minute in 0..<(SQLiteJobStore.pruneBatch / 2) {
                rows.append(Self.record("j\(job)", minute, minute % 3 == 0 ? .failed : .succeeded))
            }
        }
        rows.append(Self.record("j0", -1, .running))
        try await store.save(rows)
        let deleted = try await store.prune(keepPerJob: 10, olderThan: .distantPast)
        #expect(deleted == 5 * (SQLiteJobStore.pruneBatch / 2 - 10))
        for job in 0..<5 {
            let left = try await store.executions(jobID: "j\(job)", limit: 100)
            #expect(left.count == (job == 0 ? 11 : 10))
        }
        // The newest of each job is still the one counted.
        let lastMinute = SQLiteJobStore.pruneBatch / 2 - 1
        let failing: Set<String> = lastMinute % 3 == 0 ? ["j0", "j1", "j2", "j3", "j4"] : []
        #expect(try await store.jobsWithNewestExecution(in: [.failed]) == failing)
    }
}
