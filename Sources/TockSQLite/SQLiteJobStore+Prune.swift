import Foundation
import GRDB
import TockCore

/// Retention: what a prune deletes and how it reads it (see also ``pruneInBatches(condition:arguments:)``).
extension SQLiteJobStore {
    public func prune(keepPerJob: Int, olderThan: Date) async throws -> Int {
        let condition = """
            job_id BETWEEN ? AND ? AND state NOT IN ('running', 'scheduled') AND (scheduled_at < ? OR id IN (
                SELECT id FROM (
                    SELECT id, ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY scheduled_at DESC, id DESC) AS n
                    FROM execution WHERE job_id BETWEEN ? AND ?
                ) WHERE n > ?
            ))
            """
        // A range of jobs at a time, each read short: one read over the whole table (seconds at 1,000,000 rows)
        // held back the log's checkpoints while it lasted, and the commit after it copied the backlog in one go
        // (a write of the API waited ~65 ms for it). The jobs with executions are those of `job_latest_execution`.
        let jobIDs = try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT job_id FROM job_latest_execution ORDER BY job_id")
        }
        var deleted = 0
        for start in stride(from: 0, to: jobIDs.count, by: Self.pruneJobsPerRead) {
            let (first, last) = (jobIDs[start], jobIDs[min(start + Self.pruneJobsPerRead, jobIDs.count) - 1])
            // In short transactions, not one: a million rows in one would hold the writer (the scheduler's writes,
            // the API's) for seconds.
            deleted += try await pruneInBatches(
                condition: condition,
                arguments: [first, last, olderThan.timeIntervalSince1970, first, last, keepPerJob])
        }
        try await write { db in try Self.pruneDeliveries(db) }
        return deleted
    }

    /// Jobs whose executions one read of a prune selects.
    static let pruneJobsPerRead = 1_000
}
