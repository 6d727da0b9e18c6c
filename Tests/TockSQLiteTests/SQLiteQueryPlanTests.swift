import Foundation
import GRDB
import Testing

@testable import TockSQLite

/// Queries that must stay on an index at 10,000,000 executions whatever `ANALYZE` has concluded (issue 18).
@Suite struct SQLiteQueryPlanTests {
    /// Statistics as `PRAGMA optimize` leaves them on a store of 10,000,000 finished runs in two states.
    static func storeWithSkewedStatistics() throws -> (DatabaseQueue, String) {
        let path = SQLiteJobStoreTests.temporaryPath()
        _ = try SQLiteJobStore(path: path)
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "ANALYZE")
            try db.execute(sql: "DELETE FROM sqlite_stat1 WHERE tbl = 'execution'")
            try db.execute(
                sql: """
                    INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
                    ('execution', 'execution_state_time', '10000000 5000000 1 1'),
                    ('execution', 'execution_job_time', '10000000 100 1 1'),
                    ('execution', 'execution_time', '10000000 1 1')
                    """)
            try db.execute(sql: "ANALYZE sqlite_schema")
        }
        return (queue, path)
    }

    static func plan(_ queue: DatabaseQueue, _ sql: String) throws -> String {
        try queue.read { db in
            let arguments: StatementArguments = sql.contains("?") ? [0.0] : []
            return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map {
                $0["detail"] as String
            }
            .joined(separator: "; ")
        }
    }

    @Test func recovery_readsThePendingRunsThroughTheStateIndex_evenWhenStatisticsSayScan() throws {
        let (queue, path) = try Self.storeWithSkewedStatistics()
        defer {
            for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        // Without the index named, these statistics make SQLite read the whole table: the test can fail.
        let unhinted = try Self.plan(
            queue, "SELECT * FROM execution WHERE state IN ('running', 'scheduled')")
        #expect(unhinted.contains("SCAN execution"), "\(unhinted)")
        let select = try Self.plan(queue, SQLiteJobStore.pendingExecutionsSQL)
        #expect(select.contains("USING INDEX execution_state_time"), "\(select)")
        let update = try Self.plan(queue, SQLiteJobStore.interruptPendingSQL)
        #expect(update.contains("USING INDEX execution_state_time"), "\(update)")
    }
}
