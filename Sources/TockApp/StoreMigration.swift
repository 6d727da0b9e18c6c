#if Postgres
    import Foundation
    import Logging
    import TockPostgres
    import TockSQLite

    /// `tock migrate-store`: copies an SQLite database (one daemon's history) into PostgreSQL (a cluster's store),
    /// table by table in batches by `rowid` (memory stays bounded whatever the size: at most one batch of rows, and
    /// output pieces a few at a time), then counts both sides.
    ///
    /// Copied: executions with their output and definition digests, job state (pauses, each job's last instant: the
    /// cursor that keeps a cluster from running an instant again), API jobs, the audit log (with its ids, which order
    /// it), users and API tokens (hashes as stored), notification deliveries (outbox and log), open job alerts and
    /// dependency cursors. Not copied: UI sessions (users log in again) and SQLite's own index tables.
    ///
    /// Each batch is one transaction and every insert leaves an existing key alone, so a copy that failed half-way
    /// (the network, a full disk) is completed by running it again with `force`: nothing is duplicated or
    /// overwritten.
    public struct StoreMigration: Sendable {
        /// A column's type in PostgreSQL (SQLite keeps times as seconds and booleans as integers).
        enum Kind: Sendable { case text, integer, int32, double, bool, time, bytes }

        struct Table: Sendable {
            let name: String
            /// (SQLite expression, PostgreSQL column, kind).
            let columns: [(source: String, target: String, kind: Kind)]
            var identity: String? = nil
            /// Rows per batch (output pieces are up to a MiB each: a few at a time).
            var batch: Int? = nil
        }

        static func columns(_ list: String, _ kind: Kind = .text) -> [(source: String, target: String, kind: Kind)] {
            list.split(separator: ",").map { name in
                let name = name.trimmingCharacters(in: .whitespaces)
                return (name, name, kind)
            }
        }

        /// In dependency order (executions before their output, accounts before tokens).
        static let tables: [Table] = [
            Table(
                name: "execution",
                columns: columns("id, job_id, state, trigger") + columns("scheduled_at, started_at, ended_at", .time)
                    + columns("host") + columns("pid", .int32) + columns("attempt", .integer)
                    + columns("exit_code, signal", .int32) + columns("message") + columns("stdout, stderr", .bytes)
                    + columns("stdout_bytes, stderr_bytes", .integer) + columns("definition_digest")),
            Table(
                name: "execution_output",
                columns: columns("execution_id, stream") + columns("position", .integer) + columns("bytes", .bytes),
                batch: 4),
            Table(
                name: "job_state",
                columns: columns("job_id") + columns("paused", .bool) + columns("last_scheduled_at", .time)),
            Table(name: "api_job", columns: columns("id, definition") + columns("created_at, updated_at", .time)),
            Table(
                name: "audit_log",
                columns: columns("id", .integer) + columns("job_id, job_name, event")
                    + [("user", "user_name", .text)] + columns("created_at", .time) + columns("description, address"),
                identity: "id"),
            Table(
                name: "user_account",
                columns: columns("name, role, tags, password_hash") + columns("disabled", .bool)
                    + columns("created_at, updated_at", .time)),
            Table(
                name: "api_token",
                columns: columns("id, name, token_hash, role, tags, created_by")
                    + columns("created_at, expires_at", .time)
                    + columns("last_used_at", .time) + columns("last_used_address") + columns("revoked_at", .time)),
            Table(
                name: "notification_delivery",
                columns: columns("id, event_id, event_type, job_id, execution_id, channel, target, options, state")
                    + columns("attempts", .int32) + columns("next_attempt_at, last_attempt_at", .time)
                    + columns("last_status", .int32) + columns("last_error, response_excerpt")
                    + columns("payload", .bytes) + columns("created_at, delivered_at", .time)),
            Table(
                name: "job_alert",
                columns: columns("job_id, kind") + columns("since", .time) + columns("detail")
                    + columns("alerted", .bool) + columns("event_id")),
            Table(
                name: "dependency_cursor",
                columns: columns("job_id, upstream_id") + columns("consumed_ended_at", .double)
                    + columns("consumed_execution_id")),
        ]

        /// What a copy did, per table: rows in the source, rows written (new), rows in the target after.
        public struct TableReport: Sendable, Hashable {
            public let table: String
            public let source: Int
            public let written: Int
            public let target: Int
        }

        public struct Failure: Error, CustomStringConvertible {
            public let description: String
            init(_ description: String) { self.description = description }
        }

        let source: SQLiteExport
        let target: PostgresJobStore
        let batchSize: Int
        let logger: Logger

        public init(source: SQLiteExport, target: PostgresJobStore, batchSize: Int = 500, logger: Logger) {
            self.source = source
            self.target = target
            self.batchSize = max(1, batchSize)
            self.logger = logger
        }

        /// Copies every table; `progress` is called after each table. Without `force`, refuses a target that already
        /// holds executions, audit entries or API jobs (another cluster's history must not be mixed in by mistake).
        /// Verifies, per table, that the target holds at least as many rows as the source (exactly as many when it
        /// was empty) and throws otherwise.
        public func run(force: Bool, progress: @Sendable (TableReport) -> Void = { _ in }) async throws
            -> [TableReport]
        {
            if !force {
                for table in ["execution", "audit_log", "api_job"] {
                    let count = try await target.count(of: table)
                    if count > 0 {
                        throw Failure(
                            "the target database already holds \(count) rows of \(table): it is not empty. Use --force "
                                + "to copy into it anyway (rows whose keys are already there are left as they are), "
                                + "e.g. to complete a copy that stopped half-way")
                    }
                }
            }
            var reports: [TableReport] = []
            for table in Self.tables {
                let before = try await target.count(of: table.name)
                let written = try await copy(table)
                if let identity = table.identity { try await target.advanceIdentity(of: table.name, column: identity) }
                let report = TableReport(
                    table: table.name, source: try source.count(of: table.name), written: written,
                    target: try await target.count(of: table.name))
                let expected = before == 0 ? report.source : max(report.source, before)
                guard report.target >= expected, before > 0 || report.target == report.source else {
                    throw Failure(
                        "\(table.name): the source has \(report.source) rows and the target \(report.target) after the "
                            + "copy (\(before) before); the copy is incomplete")
                }
                progress(report)
                reports.append(report)
            }
            return reports
        }

        private func copy(_ table: Table) async throws -> Int {
            let limit = table.batch.map { min($0, batchSize) } ?? batchSize
            var cursor: Int64 = 0
            var written = 0
            while true {
                let rows = try source.rows(
                    of: table.name, columns: table.columns.map(\.source), after: cursor, limit: limit)
                guard let last = rows.last else { return written }
                let values = try rows.map { row in
                    try zip(row.values, table.columns).map { value, column in
                        try Self.convert(value, to: column.kind, table: table.name, column: column.target)
                    }
                }
                written += try await target.importRows(
                    into: table.name, columns: table.columns.map(\.target), rows: values,
                    overridingIdentity: table.identity != nil)
                cursor = last.rowid
            }
        }

        static func convert(_ value: SQLiteExport.Value, to kind: Kind, table: String, column: String) throws
            -> PostgresJobStore.ImportedValue
        {
            switch (value, kind) {
            case (.null, _): return .null
            case (.text(let text), .text): return .text(text)
            case (.integer(let number), .integer): return .integer(number)
            case (.integer(let number), .int32):
                guard let small = Int32(exactly: number) else { break }
                return .int32(small)
            case (.integer(let number), .double): return .double(Double(number))
            case (.real(let number), .double): return .double(number)
            case (.integer(let number), .bool): return .bool(number != 0)
            case (.real(let seconds), .time): return .time(Date(timeIntervalSince1970: seconds))
            case (.integer(let seconds), .time): return .time(Date(timeIntervalSince1970: Double(seconds)))
            case (.blob(let bytes), .bytes): return .bytes(bytes)
            case (.text(let text), .bytes): return .bytes(Array(text.utf8))
            default: break
            }
            throw Failure("\(table).\(column): \(value) cannot be stored as \(kind)")
        }
    }
#endif
