#if Postgres
    import Logging
    import PostgresNIO

    extension PostgresJobStore {
        /// One named, append-only migration: a released one is never edited. Each statement is sent on its own (the
        /// extended protocol takes one statement per query).
        struct Migration: Sendable {
            let name: String
            let statements: [String]
        }

        /// The key of the advisory lock under which migrations run: two nodes starting at once on a new database must
        /// not both create the tables (mixed with the schema's name: one lock per schema).
        static let migrationLockKey: Int64 = 0x746F_636B_6D69_6772  // "tockmigr"

        static let migrations: [Migration] = [
            Migration(
                name:
                    "v1: executions with slots and nodes, job state, audit log, api jobs, users, tokens, sessions, nodes",
                statements: [
                    """
                    CREATE TABLE execution (
                        id text PRIMARY KEY,
                        job_id text NOT NULL,
                        state text NOT NULL,
                        trigger text NOT NULL,
                        scheduled_at timestamptz NOT NULL,
                        started_at timestamptz,
                        ended_at timestamptz,
                        host text NOT NULL,
                        pid integer,
                        attempt bigint NOT NULL,
                        exit_code integer,
                        signal integer,
                        message text,
                        stdout bytea NOT NULL,
                        stderr bytea NOT NULL,
                        stdout_bytes bigint NOT NULL,
                        stderr_bytes bigint NOT NULL,
                        slot_at timestamptz,
                        node_id uuid,
                        claimed_at timestamptz
                    )
                    """,
                    // The fence of "exactly once per scheduled instant": one row per (job, instant), whatever its fate.
                    "CREATE UNIQUE INDEX execution_slot ON execution (job_id, slot_at) WHERE slot_at IS NOT NULL",
                    "CREATE INDEX execution_time ON execution (scheduled_at, id)",
                    "CREATE INDEX execution_job_time ON execution (job_id, scheduled_at, id)",
                    "CREATE INDEX execution_state_time ON execution (state, scheduled_at, id)",
                    "CREATE INDEX execution_node_pending ON execution (node_id) WHERE state IN ('running', 'scheduled')",
                    """
                    CREATE TABLE job_state (
                        job_id text PRIMARY KEY,
                        paused boolean NOT NULL DEFAULT false,
                        last_scheduled_at timestamptz
                    )
                    """,
                    """
                    CREATE TABLE audit_log (
                        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                        job_id text NOT NULL,
                        job_name text NOT NULL,
                        event text NOT NULL,
                        user_name text NOT NULL,
                        created_at timestamptz NOT NULL,
                        description text NOT NULL,
                        address text
                    )
                    """,
                    "CREATE INDEX audit_log_time ON audit_log (created_at, id)",
                    "CREATE INDEX audit_log_job_time ON audit_log (job_id, created_at)",
                    """
                    CREATE TABLE api_job (
                        id text PRIMARY KEY,
                        definition text NOT NULL,
                        created_at timestamptz NOT NULL,
                        updated_at timestamptz NOT NULL
                    )
                    """,
                    """
                    CREATE TABLE user_account (
                        name text PRIMARY KEY,
                        role text NOT NULL,
                        tags text,
                        password_hash text NOT NULL,
                        disabled boolean NOT NULL DEFAULT false,
                        created_at timestamptz NOT NULL,
                        updated_at timestamptz NOT NULL
                    )
                    """,
                    """
                    CREATE TABLE api_token (
                        id text PRIMARY KEY,
                        name text NOT NULL,
                        token_hash text NOT NULL UNIQUE,
                        role text NOT NULL,
                        tags text,
                        created_by text NOT NULL,
                        created_at timestamptz NOT NULL,
                        expires_at timestamptz,
                        last_used_at timestamptz,
                        last_used_address text,
                        revoked_at timestamptz
                    )
                    """,
                    "CREATE UNIQUE INDEX api_token_live_name ON api_token (name) WHERE revoked_at IS NULL",
                    """
                    CREATE TABLE user_session (
                        id_hash text PRIMARY KEY,
                        user_name text NOT NULL REFERENCES user_account (name) ON DELETE CASCADE,
                        created_at timestamptz NOT NULL,
                        last_seen_at timestamptz NOT NULL,
                        expires_at timestamptz NOT NULL,
                        address text
                    )
                    """,
                    "CREATE INDEX user_session_user ON user_session (user_name)",
                    // One row per daemon start (an incarnation); its lease is timed by the database clock.
                    """
                    CREATE TABLE node (
                        node_id uuid PRIMARY KEY,
                        name text NOT NULL,
                        pid integer NOT NULL,
                        state text NOT NULL,
                        started_at timestamptz NOT NULL,
                        renewed_at timestamptz NOT NULL,
                        lease_until timestamptz NOT NULL,
                        died_at timestamptz,
                        reaped_by uuid,
                        message text
                    )
                    """,
                    "CREATE INDEX node_alive ON node (state, lease_until)",
                    "CREATE INDEX node_name ON node (name)",
                ]),
            outputMigration,
            outboxMigration,
            alertMigration,
            dependencyMigration,
            idempotencyMigration,
            controlMigration,
            clusterViewMigration,
            retryMigration,
        ]

        /// Applies the migrations not yet applied, in one transaction under an advisory lock.
        func migrate() async throws {
            try await client.withTransaction(logger: logger) { connection in
                // One lock per schema (the key mixed with the schema's name): nodes sharing a schema wait for each
                // other; stores on other schemas of the same server (the test suites') do not.
                try await connection.query(
                    "SELECT pg_advisory_xact_lock(\(Self.migrationLockKey) # hashtext(current_schema())::bigint)",
                    logger: logger)
                try await connection.query(
                    """
                    CREATE TABLE IF NOT EXISTS tock_migration (
                        name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())
                    """, logger: logger)
                var applied: Set<String> = []
                for try await name in try await connection.query("SELECT name FROM tock_migration", logger: logger)
                    .decode(String.self)
                {
                    applied.insert(name)
                }
                for migration in Self.migrations where !applied.contains(migration.name) {
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO tock_migration (name) VALUES (\(migration.name))", logger: logger)
                    logger.info("applied a store migration", metadata: ["migration": "\(migration.name)"])
                }
            }
        }
    }
#endif
