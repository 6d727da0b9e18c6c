import Foundation
import GRDB
import TockCore

/// The definition digest each execution ran with, and the counts the cluster page shows of this single node.
extension SQLiteJobStore: ExecutionCounting {
    static func registerClusterViewMigrations(_ migrator: inout DatabaseMigrator) {
        // Existing rows keep NULL: they were recorded before digests were kept.
        migrator.registerMigration("clusterview-1: the definition digest each execution ran with") { db in
            try db.execute(sql: "ALTER TABLE execution ADD COLUMN definition_digest TEXT")
        }
    }

    public func executionCounts(since: Date) async throws -> [String: ExecutionCounts] {
        try await pool.read { db in
            var counts: [String: ExecutionCounts] = [:]
            // Both by the scheduled instant (indexed): a run starts at most a little after it.
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT host, SUM(CASE WHEN scheduled_at >= ? AND started_at IS NOT NULL THEN 1 ELSE 0 END),
                        SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END)
                    FROM execution WHERE scheduled_at >= ? OR state = 'running' GROUP BY host
                    """, arguments: [since.timeIntervalSince1970, since.timeIntervalSince1970])
            for row in rows {
                let host: String = row[0]
                let started: Int? = row[1]
                let running: Int? = row[2]
                counts[host] = ExecutionCounts(startedSince: started ?? 0, running: running ?? 0)
            }
            return counts
        }
    }
}
