import Foundation
import GRDB
import TockCore
import TockJSON

extension SQLiteJobStore {
    /// Named, append-only migrations: a released one is never edited.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: executions, job state, audit log, api jobs") { db in
            try db.execute(
                sql: """
                    CREATE TABLE execution (
                        id TEXT PRIMARY KEY NOT NULL,
                        job_id TEXT NOT NULL,
                        state TEXT NOT NULL,
                        trigger TEXT NOT NULL,
                        scheduled_at REAL NOT NULL,
                        started_at REAL,
                        ended_at REAL,
                        host TEXT NOT NULL,
                        pid INTEGER,
                        attempt INTEGER NOT NULL,
                        exit_code INTEGER,
                        signal INTEGER,
                        message TEXT,
                        stdout BLOB NOT NULL,
                        stderr BLOB NOT NULL,
                        stdout_bytes INTEGER NOT NULL,
                        stderr_bytes INTEGER NOT NULL
                    ) STRICT;
                    CREATE INDEX execution_by_time ON execution(scheduled_at DESC, id);
                    CREATE INDEX execution_by_job_time ON execution(job_id, scheduled_at DESC, id);
                    CREATE INDEX execution_by_state ON execution(state);
                    CREATE TABLE job_state (
                        job_id TEXT PRIMARY KEY NOT NULL,
                        paused INTEGER NOT NULL DEFAULT 0,
                        last_scheduled_at REAL
                    ) STRICT;
                    CREATE TABLE audit_log (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        job_id TEXT NOT NULL,
                        job_name TEXT NOT NULL,
                        event TEXT NOT NULL,
                        user TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        description TEXT NOT NULL
                    ) STRICT;
                    CREATE INDEX audit_log_by_time ON audit_log(created_at DESC);
                    CREATE TABLE api_job (
                        id TEXT PRIMARY KEY NOT NULL,
                        definition TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL
                    ) STRICT;
                    """)
        }
        migrator.registerMigration("v2: execution indexes for pages by time, job and state") { db in
            try db.execute(
                sql: """
                    DROP INDEX execution_by_time;
                    DROP INDEX execution_by_job_time;
                    DROP INDEX execution_by_state;
                    CREATE INDEX execution_time ON execution(scheduled_at, id);
                    CREATE INDEX execution_job_time ON execution(job_id, scheduled_at, id);
                    CREATE INDEX execution_state_time ON execution(state, scheduled_at, id);
                    CREATE INDEX audit_log_job_time ON audit_log(job_id, created_at);
                    """)
        }
        migrator.registerMigration("v3: users, api tokens, sessions; the audit log's client address") { db in
            try db.execute(
                sql: """
                    ALTER TABLE audit_log ADD COLUMN address TEXT;
                    CREATE TABLE user_account (
                        name TEXT PRIMARY KEY NOT NULL,
                        role TEXT NOT NULL,
                        tags TEXT,
                        password_hash TEXT NOT NULL,
                        disabled INTEGER NOT NULL DEFAULT 0,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL
                    ) STRICT;
                    CREATE TABLE api_token (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL,
                        token_hash TEXT NOT NULL UNIQUE,
                        role TEXT NOT NULL,
                        tags TEXT,
                        created_by TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        expires_at REAL,
                        last_used_at REAL,
                        last_used_address TEXT,
                        revoked_at REAL
                    ) STRICT;
                    CREATE UNIQUE INDEX api_token_live_name ON api_token(name) WHERE revoked_at IS NULL;
                    CREATE TABLE user_session (
                        id_hash TEXT PRIMARY KEY NOT NULL,
                        user_name TEXT NOT NULL REFERENCES user_account(name) ON DELETE CASCADE,
                        created_at REAL NOT NULL,
                        last_seen_at REAL NOT NULL,
                        expires_at REAL NOT NULL,
                        address TEXT
                    ) STRICT;
                    CREATE INDEX user_session_user ON user_session(user_name);
                    """)
        }
        migrator.registerMigration(outputMigrationName, migrate: migrateOutputToPieces)
        registerOutboxMigrations(&migrator)
        registerAlertMigrations(&migrator)
        registerDependencyMigrations(&migrator)
        migrator.registerMigration(latestMigrationName, migrate: migrateLatest)
        registerIdempotencyMigrations(&migrator)
        registerClusterViewMigrations(&migrator)
        return migrator
    }
}
