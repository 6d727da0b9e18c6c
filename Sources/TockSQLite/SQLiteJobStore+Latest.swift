import Foundation
import GRDB
import TockCore

/// `job_latest_execution`: each job's newest execution (by scheduled instant, then id), kept in step with
/// `execution` by every write of this store (a save, the recovery of interrupted runs, pruning).
///
/// Why: a job list counts the jobs whose last result is a failure. Without this table that is one indexed read per
/// job (100,000 of them at the scale of issue 18, ~0.2 s); with it, one read of the failing ones by an index on the
/// state.
extension SQLiteJobStore {
    static let latestMigrationName = "v5: each job's newest execution, for job lists"

    /// Creates the table and fills it from the executions already stored: one index seek per job (the jobs are found
    /// by skipping through `execution_job_time`, not by reading every row).
    static func migrateLatest(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE job_latest_execution (
                    job_id TEXT PRIMARY KEY NOT NULL,
                    execution_id TEXT NOT NULL,
                    state TEXT NOT NULL,
                    scheduled_at REAL NOT NULL
                ) STRICT;
                CREATE INDEX job_latest_execution_state ON job_latest_execution(state);
                WITH RECURSIVE jobs(job_id) AS (
                    SELECT MIN(job_id) FROM execution
                    UNION ALL
                    SELECT (SELECT MIN(job_id) FROM execution WHERE job_id > jobs.job_id) FROM jobs
                    WHERE jobs.job_id IS NOT NULL
                )
                INSERT INTO job_latest_execution (job_id, execution_id, state, scheduled_at)
                SELECT e.job_id, e.id, e.state, e.scheduled_at FROM jobs JOIN execution e ON e.rowid = (
                    SELECT rowid FROM execution WHERE job_id = jobs.job_id ORDER BY scheduled_at DESC, id DESC LIMIT 1)
                WHERE jobs.job_id IS NOT NULL;
                """)
    }

    /// Makes `e` its job's newest execution unless a newer one is known (run for every execution saved).
    static let noteLatestSQL = """
        INSERT INTO job_latest_execution (job_id, execution_id, state, scheduled_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(job_id) DO UPDATE SET execution_id = excluded.execution_id, state = excluded.state,
        scheduled_at = excluded.scheduled_at
        WHERE (excluded.scheduled_at, excluded.execution_id)
            >= (job_latest_execution.scheduled_at, job_latest_execution.execution_id)
        """

    /// After executions of these jobs were deleted: each job's row is read again from `execution` if its newest
    /// execution went.
    static func repairLatest(jobIDs: some Sequence<String>, _ db: Database) throws {
        let gone = try db.cachedStatement(
            sql: """
                DELETE FROM job_latest_execution WHERE job_id = ?
                AND NOT EXISTS (SELECT 1 FROM execution WHERE id = job_latest_execution.execution_id)
                """)
        let refill = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO job_latest_execution (job_id, execution_id, state, scheduled_at)
                SELECT job_id, id, state, scheduled_at FROM execution WHERE job_id = ?
                ORDER BY scheduled_at DESC, id DESC LIMIT 1
                """)
        for id in jobIDs {
            try gone.execute(arguments: [id])
            if db.changesCount > 0 { try refill.execute(arguments: [id]) }
        }
    }

    public func jobsWithNewestExecution(in states: Set<ExecutionState>) async throws -> Set<String> {
        guard !states.isEmpty else { return [] }
        let placeholders = Array(repeating: "?", count: states.count).joined(separator: ", ")
        let arguments = StatementArguments(states.map(\.rawValue).sorted())
        return try await pool.read { db in
            Set(
                try String.fetchAll(
                    db.cachedStatement(
                        sql: "SELECT job_id FROM job_latest_execution WHERE state IN (\(placeholders))"),
                    arguments: arguments))
        }
    }

    /// Rows deleted per transaction when pruning: each transaction stays short (a few milliseconds; 1,000 rows, with
    /// the repair of up to 1,000 jobs' newest execution, took up to ~0.3 s on a loaded machine), so that the
    /// scheduler's writes and the API's never wait long behind a prune of a million rows.
    static let pruneBatch = 250

    /// Deletes, in short transactions of ``pruneBatch`` rows, the executions `condition` selects (read first, as
    /// rowids, by a reader that blocks no writer). A row that became `running` or `scheduled` since is kept.
    func pruneInBatches(condition: String, arguments: StatementArguments) async throws -> Int {
        let rowids = try await pool.read { db in
            try Int64.fetchAll(db, sql: "SELECT rowid FROM execution WHERE \(condition)", arguments: arguments)
        }
        var deleted = 0
        var start = 0
        while start < rowids.count {
            let batch = Array(rowids[start..<min(start + Self.pruneBatch, rowids.count)])
            start += batch.count
            let list = "(SELECT value FROM json_each(?))"
            let json = "[" + batch.map(String.init).joined(separator: ",") + "]"
            deleted += try await write { db in
                let finished = "rowid IN \(list) AND state NOT IN ('running', 'scheduled')"
                let jobs = try String.fetchAll(
                    db, sql: "SELECT DISTINCT job_id FROM execution WHERE \(finished)", arguments: [json])
                try db.execute(
                    sql:
                        "DELETE FROM execution_output WHERE execution_id IN (SELECT id FROM execution WHERE \(finished))",
                    arguments: [json])
                try db.execute(sql: "DELETE FROM execution WHERE \(finished)", arguments: [json])
                let count = db.changesCount
                try Self.repairLatest(jobIDs: jobs, db)
                return count
            }
            await Task.yield()
        }
        return deleted
    }
}
