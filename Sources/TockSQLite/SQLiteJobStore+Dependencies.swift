import Foundation
import GRDB
import TockCore

extension SQLiteJobStore {
    static let dependencyMigrationName = "deps-1: dependency edges consumed"

    /// One row per edge (dependent, upstream): the upstream success the dependent's run was last created from.
    static func registerDependencyMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration(dependencyMigrationName) { db in
            try db.execute(
                sql: """
                    CREATE TABLE dependency_cursor (
                        job_id TEXT NOT NULL,
                        upstream_id TEXT NOT NULL,
                        consumed_ended_at REAL NOT NULL,
                        consumed_execution_id TEXT NOT NULL,
                        PRIMARY KEY (job_id, upstream_id)
                    ) STRICT;
                    """)
        }
    }

    public func dependencyCursors() async throws -> [DependencyCursor] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT job_id, upstream_id, consumed_ended_at, consumed_execution_id FROM dependency_cursor
                    ORDER BY job_id, upstream_id
                    """
            ).map { row in
                DependencyCursor(
                    jobID: row["job_id"], upstreamID: row["upstream_id"],
                    endedAt: Date(timeIntervalSince1970: row["consumed_ended_at"]),
                    executionID: row["consumed_execution_id"])
            }
        }
    }

    public func consumeDependencies(_ cursors: [DependencyCursor], saving execution: ExecutionRecord) async throws
        -> Bool
    {
        let pieceSize = outputPieceSize
        do {
            return try await write { db in
                // Compare-and-set per edge: the upsert changes a row only when the new cursor comes after the stored
                // one; an edge it did not change was consumed by someone else, and the whole transaction is undone.
                let advance = try db.cachedStatement(
                    sql: """
                        INSERT INTO dependency_cursor (job_id, upstream_id, consumed_ended_at, consumed_execution_id)
                        VALUES (?, ?, ?, ?)
                        ON CONFLICT(job_id, upstream_id) DO UPDATE SET
                            consumed_ended_at = excluded.consumed_ended_at,
                            consumed_execution_id = excluded.consumed_execution_id
                        WHERE (excluded.consumed_ended_at, excluded.consumed_execution_id)
                            > (consumed_ended_at, consumed_execution_id)
                        """)
                for cursor in cursors {
                    try advance.execute(arguments: [
                        cursor.jobID, cursor.upstreamID, cursor.endedAt.timeIntervalSince1970, cursor.executionID,
                    ])
                    guard db.changesCount == 1 else { throw ConsumedElsewhere() }
                }
                try Self.insert([execution], pieceSize: pieceSize, db)
                return true
            }
        } catch is ConsumedElsewhere {
            return false
        }
    }
}

/// Thrown inside the transaction to roll it back.
struct ConsumedElsewhere: Error {}
