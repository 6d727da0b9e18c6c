#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import TockCore

    /// The tables of control across nodes (see ``PostgresClusterControl``), and manual runs' idempotency keys.
    ///
    /// - `job_change`: one row per change of shared job state — a pause or resume, an API job created, replaced or
    ///   deleted — written in the change's transaction, under a transaction advisory lock so that sequence numbers are
    ///   committed in order (a reader that has seen number n has seen every number before it). Other nodes read what
    ///   follows the last number they applied, when `NOTIFY tock_control` wakes them and every few seconds.
    /// - `control_request`: a stop asked of the node holding a run, or a request that it publish a run's live output.
    /// - `live_output`: the pieces a node publishes of a followed run's output, numbered; trimmed to the newest MiB
    ///   per stream, deleted a minute after the run ends.
    /// - `manual_run_key`: as on SQLite (`SQLiteJobStore+Idempotency.swift`).
    extension PostgresJobStore {
        /// The channel every node listens on: `jobs` (read the change log), `stop <node>` and `follow <node>` (a
        /// request for that incarnation).
        public static let controlChannel = "tock_control"

        /// The key of the transaction advisory lock that orders `job_change` numbers.
        static let jobChangeLockKey: Int64 = 0x746F_636B_6368_6E67  // "tockchng"

        static let idempotencyMigration = Migration(
            name: "control-1: idempotency keys of manual runs",
            statements: [
                """
                CREATE TABLE manual_run_key (
                    job_id text NOT NULL,
                    key text NOT NULL,
                    execution_id text NOT NULL,
                    created_at timestamptz NOT NULL,
                    PRIMARY KEY (job_id, key)
                )
                """
            ])

        static let controlMigration = Migration(
            name: "control-2: job change log, control requests, published live output",
            statements: [
                """
                CREATE TABLE job_change (
                    sequence bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    job_id text NOT NULL,
                    node_id uuid,
                    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
                )
                """,
                """
                CREATE TABLE control_request (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    kind text NOT NULL CHECK (kind IN ('stop', 'follow')),
                    execution_id text NOT NULL,
                    target_node uuid NOT NULL,
                    requested_by text NOT NULL,
                    requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                    expires_at timestamptz NOT NULL,
                    handled_at timestamptz,
                    result text
                )
                """,
                "CREATE INDEX control_request_target ON control_request (target_node, kind, expires_at)",
                "CREATE UNIQUE INDEX control_request_follow ON control_request (execution_id) WHERE kind = 'follow'",
                """
                CREATE TABLE live_output (
                    execution_id text NOT NULL,
                    sequence bigint NOT NULL,
                    stream text NOT NULL CHECK (stream IN ('stdout', 'stderr', 'end')),
                    start_offset bigint NOT NULL,
                    bytes bytea NOT NULL,
                    published_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                    PRIMARY KEY (execution_id, sequence)
                )
                """,
            ])

        /// Records that a job's shared state changed (in the caller's transaction) and wakes the other nodes at commit.
        static func logJobChange(
            _ jobID: String, node: UUID, _ connection: PostgresConnection, logger: Logger
        ) async throws {
            try await connection.query("SELECT pg_advisory_xact_lock(\(jobChangeLockKey))", logger: logger)
            try await connection.query(
                "INSERT INTO job_change (job_id, node_id) VALUES (\(jobID), \(node))", logger: logger)
            try await connection.query("SELECT pg_notify(\(controlChannel), 'jobs')", logger: logger)
        }

        // MARK: - Idempotency keys

        public func manualRun(jobID: String, idempotencyKey key: String, since: Date) async throws -> String? {
            let rows = try await run(
                """
                SELECT k.execution_id FROM manual_run_key k JOIN execution e ON e.id = k.execution_id
                WHERE k.job_id = \(jobID) AND k.key = \(key) AND k.created_at >= \(since)
                """)
            return try rows.first?.decode(String.self)
        }

        public func saveManualRun(_ execution: ExecutionRecord, idempotencyKey key: String, since: Date) async throws
            -> String?
        {
            let node = nodeID
            let pieceSize = outputPieceSize
            return try await transaction { connection in
                try await Self.insertManualRun(
                    execution, idempotencyKey: key, since: since, node: node, pieceSize: pieceSize, connection,
                    logger: self.logger)
            }
        }

        /// The idempotency key's row and then the execution's, in the caller's transaction; or the id of the run the
        /// key already recorded (nothing written). Two transactions racing with one key: the second's insert waits for
        /// the first's commit, then finds its row.
        static func insertManualRun(
            _ execution: ExecutionRecord, idempotencyKey key: String, since: Date, node: UUID, pieceSize: Int,
            _ connection: PostgresConnection, logger: Logger
        ) async throws -> String? {
            // The job's keys past the window, and this key if its execution is gone: free again.
            try await connection.query(
                """
                DELETE FROM manual_run_key k WHERE k.job_id = \(execution.jobID) AND (k.created_at < \(since)
                    OR (k.key = \(key) AND NOT EXISTS (SELECT 1 FROM execution e WHERE e.id = k.execution_id)))
                """, logger: logger)
            let inserted = try await connection.query(
                """
                INSERT INTO manual_run_key (job_id, key, execution_id, created_at)
                VALUES (\(execution.jobID), \(key), \(execution.id), \(execution.scheduledAt))
                ON CONFLICT (job_id, key) DO NOTHING RETURNING 1
                """, logger: logger
            ).collect()
            guard !inserted.isEmpty else {
                let rows = try await connection.query(
                    "SELECT execution_id FROM manual_run_key WHERE job_id = \(execution.jobID) AND key = \(key)",
                    logger: logger
                ).collect()
                return try rows.first?.decode(String.self) ?? execution.id
            }
            try await upsert([execution], node: node, pieceSize: pieceSize, connection, logger: logger)
            return nil
        }
    }
#endif
