import Foundation
import GRDB
import TockCore

/// Idempotency keys of manual runs (`POST /api/v1/executions/{job_id}` with `Idempotency-Key`): one row per job and
/// key naming the execution it recorded, written in the run's transaction.
///
/// A table of its own rather than a column of `execution`: every save of an execution is `INSERT OR REPLACE`, which
/// would drop a column it does not write. Keys older than the window are deleted as a job's next keyed run is
/// recorded (and a key whose execution was pruned is free), so the table holds about a day of keys per job.
extension SQLiteJobStore {
    static let idempotencyMigrationName = "control-1: idempotency keys of manual runs"

    static func registerIdempotencyMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration(idempotencyMigrationName) { db in
            try db.execute(
                sql: """
                    CREATE TABLE manual_run_key (
                        job_id TEXT NOT NULL,
                        key TEXT NOT NULL,
                        execution_id TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        PRIMARY KEY (job_id, key)
                    ) STRICT;
                    """)
        }
    }

    private static let findManualRunSQL = """
        SELECT k.execution_id FROM manual_run_key k JOIN execution e ON e.id = k.execution_id
        WHERE k.job_id = ? AND k.key = ? AND k.created_at >= ?
        """

    public func manualRun(jobID: String, idempotencyKey key: String, since: Date) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, sql: Self.findManualRunSQL, arguments: [jobID, key, since.timeIntervalSince1970])
        }
    }

    public func saveManualRun(_ execution: ExecutionRecord, idempotencyKey key: String, since: Date) async throws
        -> String?
    {
        let pieceSize = outputPieceSize
        return try await write { db in
            let since = since.timeIntervalSince1970
            if let existing = try String.fetchOne(
                db, sql: Self.findManualRunSQL, arguments: [execution.jobID, key, since])
            {
                return existing
            }
            // The job's keys past the window, and this key if its execution is gone: free again.
            try db.execute(
                sql: """
                    DELETE FROM manual_run_key WHERE job_id = ? AND (created_at < ? OR (key = ? AND NOT EXISTS (
                        SELECT 1 FROM execution e WHERE e.id = manual_run_key.execution_id)))
                    """, arguments: [execution.jobID, since, key])
            try Self.insert([execution], pieceSize: pieceSize, db)
            try db.execute(
                sql: "INSERT INTO manual_run_key (job_id, key, execution_id, created_at) VALUES (?, ?, ?, ?)",
                arguments: [execution.jobID, key, execution.id, execution.scheduledAt.timeIntervalSince1970])
            return nil
        }
    }
}
