#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import TockCore

    /// Dependency cursors (`after`) on PostgreSQL: the table of the SQLite store, moved compare-and-set in the
    /// transaction that creates the dependent's run, so that two nodes never both run it for one satisfaction.
    extension PostgresJobStore {
        /// The cursor's time is kept as the epoch's seconds in a `double precision`, not a `timestamptz`: a
        /// `timestamptz` keeps microseconds, and a cursor made from the same success in memory would then compare
        /// *after* the stored one and be consumed twice.
        static let dependencyMigration = Migration(
            name: "deps-1: dependency edges consumed",
            statements: [
                """
                CREATE TABLE dependency_cursor (
                    job_id text NOT NULL,
                    upstream_id text NOT NULL,
                    consumed_ended_at double precision NOT NULL,
                    consumed_execution_id text NOT NULL,
                    PRIMARY KEY (job_id, upstream_id)
                )
                """
            ])

        public func dependencyCursors() async throws -> [DependencyCursor] {
            try await run(
                """
                SELECT job_id, upstream_id, consumed_ended_at, consumed_execution_id FROM dependency_cursor
                ORDER BY job_id, upstream_id
                """
            ).map { row in
                let (job, upstream, endedAt, execution) = try row.decode((String, String, Double, String).self)
                return DependencyCursor(
                    jobID: job, upstreamID: upstream, endedAt: Date(timeIntervalSince1970: endedAt),
                    executionID: execution)
            }
        }

        public func consumeDependencies(_ cursors: [DependencyCursor], saving execution: ExecutionRecord) async throws
            -> Bool
        {
            let node = nodeID
            let pieceSize = outputPieceSize
            do {
                return try await transaction { connection in
                    for cursor in cursors {
                        let moved = try await connection.query(
                            """
                            INSERT INTO dependency_cursor (job_id, upstream_id, consumed_ended_at, consumed_execution_id)
                            VALUES (\(cursor.jobID), \(cursor.upstreamID), \(cursor.endedAt.timeIntervalSince1970),
                                \(cursor.executionID))
                            ON CONFLICT (job_id, upstream_id) DO UPDATE SET
                                consumed_ended_at = excluded.consumed_ended_at,
                                consumed_execution_id = excluded.consumed_execution_id
                            WHERE (excluded.consumed_ended_at, excluded.consumed_execution_id)
                                > (dependency_cursor.consumed_ended_at, dependency_cursor.consumed_execution_id)
                            RETURNING 1
                            """, logger: self.logger
                        ).collect()
                        // Not moved: another node (or process) consumed this success; the transaction is undone.
                        if moved.isEmpty { throw DependencyConsumedElsewhere() }
                    }
                    try await Self.upsert(
                        [execution], node: node, pieceSize: pieceSize, connection, logger: self.logger)
                    // A gated instant's row and "this instant was dealt with", as `save` writes them.
                    try await Self.advanceLastScheduled(
                        [execution].lastScheduledInstants, connection, logger: self.logger)
                    return true
                }
            } catch is DependencyConsumedElsewhere {
                return false
            }
        }
    }

    /// Thrown inside the transaction to roll it back.
    struct DependencyConsumedElsewhere: Error {}
#endif

#if Postgres
    import TockCore

    extension PostgresJobStore {
        /// Read from `execution` itself (one index scan per job: `DISTINCT ON` over the (job, instant) index). The
        /// SQLite store keeps a table of each job's newest execution for 100,000-job lists; PostgreSQL does not yet.
        public func jobsWithNewestExecution(in states: Set<ExecutionState>) async throws -> Set<String> {
            guard !states.isEmpty else { return [] }
            let wanted = states.map(\.rawValue).sorted()
            let rows = try await run(
                """
                SELECT job_id FROM (
                    SELECT DISTINCT ON (job_id) job_id, state FROM execution ORDER BY job_id, scheduled_at DESC, id DESC
                ) newest WHERE state = ANY(\(wanted)::text[])
                """)
            return Set(try rows.map { try $0.decode(String.self) })
        }
    }
#endif
