#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import Synchronization
    import TockCore
    import TockJSON

    /// The shared store of several nodes: PostgreSQL through postgres-nio, bound parameters only, named migrations
    /// applied under an advisory lock at first use.
    ///
    /// The client (`PostgresClient`, a pool) must be running: the daemon puts it in its `ServiceGroup` before the
    /// scheduler; a tool calls ``runClientInBackground()``. Every row this store inserts carries the node (daemon
    /// incarnation) that wrote it; ``PostgresSlotCoordinator`` registers that node and decides which node runs each
    /// scheduled instant (the unique index on `(job_id, slot_at)`).
    ///
    /// Times are `timestamptz` (microseconds). Columns are always named and read by position in that order.
    public final class PostgresJobStore: JobStore, Sendable {
        public let client: PostgresClient
        let logger: Logger
        /// This daemon's name in the cluster (recorded as each execution's `host`).
        public let nodeName: String
        /// How long a request may wait for a connection and an answer before it fails as unavailable.
        public let requestTimeout: Duration
        /// Bytes of output per stored piece (see `PostgresJobStore+Output.swift`).
        let outputPieceSize: Int
        private let currentNode: Mutex<UUID>
        private let migrated = Mutex(false)
        /// Serialises first uses (the advisory lock serialises nodes).
        private let migrationLock = AsyncLock()

        /// A store over `client` (which the caller runs).
        ///
        /// - Parameters:
        ///   - nodeName: This daemon's name in the cluster; names must be unique among the nodes.
        ///   - requestTimeout: How long a request may wait for a connection and an answer.
        ///   - outputPieceSize: Bytes of output per stored piece (1 MiB; tests use small ones to cross boundaries).
        public init(
            client: PostgresClient, nodeName: String, requestTimeout: Duration = .seconds(10),
            outputPieceSize: Int = defaultOutputPieceSize, logger: Logger
        ) {
            self.requestTimeout = requestTimeout
            self.outputPieceSize = max(1, outputPieceSize)
            self.client = client
            self.nodeName = nodeName
            self.logger = logger
            currentNode = Mutex(UUID())
        }

        /// A client for a database URL: small pool, the session settings a node needs (a partitioned node must not
        /// hold locks: `idle_in_transaction_session_timeout`), `application_name` naming the node.
        public static func makeClient(url: PostgresDatabaseURL, nodeName: String, logger: Logger) -> PostgresClient {
            let tls: PostgresClient.Configuration.TLS =
                switch url.tls {
                case .disable: .disable
                case .prefer: .prefer(.makeClientConfiguration())
                case .require: .require(.makeClientConfiguration())
                }
            var configuration =
                if let socket = url.unixSocketPath {
                    PostgresClient.Configuration(
                        unixSocketPath: socket, username: url.user, password: url.password, database: url.database)
                } else {
                    PostgresClient.Configuration(
                        host: url.host, port: url.port, username: url.user, password: url.password,
                        database: url.database,
                        tls: tls)
                }
            configuration.options.maximumConnections = 8
            configuration.options.connectTimeout = .seconds(5)
            configuration.options.keepAliveBehavior = .init(frequency: .seconds(10))
            configuration.options.additionalStartupParameters = [
                ("application_name", "tock \(nodeName)"), ("idle_in_transaction_session_timeout", "10s"),
                ("TimeZone", "UTC"),
            ]
            return PostgresClient(configuration: configuration, backgroundLogger: logger)
        }

        /// The incarnation rows are written for now (changes when a fenced node registers again).
        public var nodeID: UUID {
            get { currentNode.withLock { $0 } }
            set { currentNode.withLock { $0 = newValue } }
        }

        /// Runs the client in an unstructured task for the rest of the process: for one-shot tools (`tock users`),
        /// which have no `ServiceGroup`. The daemon runs the client as a service instead.
        public func runClientInBackground() {
            let client = self.client
            Task.detached { await client.run() }
        }

        /// Migrates at first use (and again after a failed attempt), in the caller's task so that a caller's
        /// timeout reaches it; concurrent first users wait for one migration.
        func ready() async throws {
            guard !migrated.withLock({ $0 }) else { return }
            try await migrationLock.withLock {
                guard !self.migrated.withLock({ $0 }) else { return }
                do { try await self.migrate() } catch { throw Self.storeError(error) }
                self.migrated.withLock { $0 = true }
            }
        }

        /// Runs one statement (after migrations), with connection failures made ``StoreError/unavailable(_:)``.
        @discardableResult
        func run(_ query: PostgresQuery) async throws -> [PostgresRow] {
            try await bounded {
                try await self.ready()
                do { return try await self.client.query(query, logger: self.logger).collect() } catch {
                    throw Self.storeError(error)
                }
            }
        }

        /// Runs `body` in one transaction (after migrations).
        func transaction<T: Sendable>(
            _ body: @escaping @Sendable (PostgresConnection) async throws -> T
        ) async throws -> T {
            try await bounded {
                try await self.ready()
                do {
                    return try await self.client.withTransaction(logger: self.logger) { connection in
                        try await body(connection)
                    }
                } catch let error as PostgresTransactionError {
                    throw Self.storeError(error.closureError ?? error.commitError ?? error.beginError ?? error)
                } catch {
                    throw Self.storeError(error)
                }
            }
        }

        /// Fails as unavailable after ``requestTimeout``: the pool keeps trying to reach an unreachable server for a
        /// minute, and neither a waiting lease nor a query on a silent connection ends at cancellation, so the caller
        /// (the API, a claim, a heartbeat) is answered by whichever comes first and the work is left to finish.
        private func bounded<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
            let timeout = requestTimeout
            return try await withCheckedThrowingContinuation { continuation in
                let first = FirstResult(continuation)
                let work = Task {
                    do { first.resume(.success(try await body())) } catch { first.resume(.failure(error)) }
                }
                first.onResume = Task {
                    try await Task.sleep(for: timeout)
                    work.cancel()
                    first.resume(.failure(StoreError.unavailable("PostgreSQL did not answer within \(timeout)")))
                }
            }
        }

        /// A failure to reach the server is ``StoreError/unavailable(_:)`` (the API answers 503, the daemon retries):
        /// whatever is not an answer of the server (connection, pool, timeout) or is one about the connection or the
        /// server's state (SQLSTATE classes 08, 53, 57); anything else is passed on.
        static func storeError(_ error: any Error) -> any Error {
            if error is StoreError || error is AccessProblem || error is PostgresDecodingError
                || error is DependencyConsumedElsewhere
            {
                return error
            }
            if let error = error as? PSQLError {
                if error.code == .server {
                    let state = error.serverInfo?[.sqlState] ?? ""
                    guard ["08", "53", "57"].contains(String(state.prefix(2))) else { return error }
                    return StoreError.unavailable("PostgreSQL: \(error.serverInfo?[.message] ?? state)")
                }
                return StoreError.unavailable("PostgreSQL: \(error.code)")
            }
            return StoreError.unavailable("PostgreSQL: \(error)")
        }

        // MARK: - Executions

        public func recoverInterruptedExecutions(at date: Date) async throws -> [ExecutionRecord] {
            try await transaction { connection in
                try await self.recoverOrphans(connection, at: date, message: Self.recoveredMessage)
            }
        }

        static let recoveredMessage = "the daemon stopped while this execution was pending or running"

        /// Marks `interrupted` the running and scheduled executions that belong to no live node: no node (written
        /// without one), an incarnation that never registered or is no longer `alive`. Returns them as they were; with
        /// `planning`, inserts the deliveries it makes of each as marked.
        func recoverOrphans(
            _ connection: PostgresConnection, at date: Date, message: String,
            planning: (@Sendable (ExecutionRecord) -> [NotificationDelivery])? = nil
        ) async throws -> [ExecutionRecord] {
            let rows = try await connection.query(
                """
                SELECT \(unescaped: Self.executionColumns) FROM execution e
                WHERE e.state IN ('running', 'scheduled') AND (e.node_id IS NULL OR NOT EXISTS (
                    SELECT 1 FROM node n WHERE n.node_id = e.node_id AND n.state = 'alive'))
                ORDER BY id FOR UPDATE
                """, logger: logger
            ).collect()
            let orphans = readable(rows, table: "execution") { try Self.execution(from: $0) }
            try await markInterrupted(orphans.map(\.id), at: date, message: message, connection)
            if let planning {
                try await Self.enqueueInterrupted(
                    orphans, at: date, message: message, planning: planning, connection, logger: logger)
            }
            return orphans
        }

        /// Marks these executions `interrupted` (their end and message kept if they have one).
        func markInterrupted(
            _ ids: [String], at date: Date, message: String, _ connection: PostgresConnection
        ) async throws {
            guard !ids.isEmpty else { return }
            try await connection.query(
                """
                UPDATE execution SET state = 'interrupted', ended_at = COALESCE(ended_at, \(date)),
                    message = COALESCE(message, \(message))
                WHERE id = ANY(\(ids)::text[]) AND state IN ('running', 'scheduled')
                """, logger: logger)
        }

        public func save(_ executions: [ExecutionRecord]) async throws {
            guard !executions.isEmpty else { return }
            let node = nodeID
            let pieceSize = outputPieceSize
            try await transaction { connection in
                try await Self.upsert(executions, node: node, pieceSize: pieceSize, connection, logger: self.logger)
                // The row of a scheduled instant and "this instant was dealt with" in one transaction (JobStore.save).
                try await Self.advanceLastScheduled(executions.lastScheduledInstants, connection, logger: self.logger)
            }
        }

        /// Inserts executions with their output, or updates them by id. A row some node recorded `interrupted` (its
        /// daemon was declared dead) is not overwritten by a late outcome of the run it names, unless that too says
        /// `interrupted`; nor is its output.
        static func upsert(
            _ executions: [ExecutionRecord], node: UUID, pieceSize: Int, _ connection: PostgresConnection,
            logger: Logger
        ) async throws {
            var written: [ExecutionRecord] = []
            for e in executions where try await upsert(e, node: node, connection, logger: logger) {
                written.append(e)
            }
            try await writeOutput(of: written, pieceSize: pieceSize, connection, logger: logger)
        }

        /// One execution's row (its output aside); whether it was written.
        private static func upsert(
            _ e: ExecutionRecord, node: UUID, _ connection: PostgresConnection, logger: Logger
        ) async throws -> Bool {
            try await !connection.query(
                """
                INSERT INTO execution (id, job_id, state, trigger, scheduled_at, started_at, ended_at, host, pid, attempt,
                    exit_code, signal, message, stdout, stderr, stdout_bytes, stderr_bytes, node_id, definition_digest)
                VALUES (\(e.id), \(e.jobID), \(e.state.rawValue), \(e.trigger.rawValue), \(e.scheduledAt), \(e.startedAt),
                    \(e.endedAt), \(e.host), \(e.pid), \(e.attempt), \(e.exitCode), \(e.signal), \(e.message),
                    ''::bytea, ''::bytea, \(e.stdoutBytes), \(e.stderrBytes), \(node), \(e.definitionDigest))
                ON CONFLICT (id) DO UPDATE SET job_id = excluded.job_id, state = excluded.state, trigger = excluded.trigger,
                    scheduled_at = excluded.scheduled_at, started_at = excluded.started_at, ended_at = excluded.ended_at,
                    host = excluded.host, pid = excluded.pid, attempt = excluded.attempt, exit_code = excluded.exit_code,
                    signal = excluded.signal, message = excluded.message, stdout_bytes = excluded.stdout_bytes,
                    stderr_bytes = excluded.stderr_bytes,
                    definition_digest = excluded.definition_digest
                WHERE execution.state <> 'interrupted' OR excluded.state = 'interrupted'
                RETURNING 1
                """, logger: logger
            ).collect().isEmpty
        }

        static func advanceLastScheduled(
            _ dates: [String: Date], _ connection: PostgresConnection, logger: Logger
        ) async throws {
            guard !dates.isEmpty else { return }
            let ids = dates.keys.sorted()
            let times = ids.map { dates[$0]! }
            try await connection.query(
                """
                INSERT INTO job_state (job_id, last_scheduled_at)
                SELECT id, at FROM unnest(\(ids)::text[], \(times)::timestamptz[]) AS t(id, at) ORDER BY id
                ON CONFLICT (job_id) DO UPDATE SET last_scheduled_at =
                    GREATEST(COALESCE(job_state.last_scheduled_at, excluded.last_scheduled_at), excluded.last_scheduled_at)
                """, logger: logger)
        }

        /// Every column of an execution, named, in the order ``execution(from:)`` reads them.
        static let executionColumns = """
            id, job_id, state, trigger, scheduled_at, started_at, ended_at, host, pid, attempt, exit_code, signal, message,
            stdout, stderr, stdout_bytes, stderr_bytes, definition_digest
            """

        /// ``executionColumns`` with empty output in place of the output, for lists.
        static let columnsWithoutOutput = """
            id, job_id, state, trigger, scheduled_at, started_at, ended_at, host, pid, attempt, exit_code, signal, message,
            NULL::bytea AS stdout, NULL::bytea AS stderr, stdout_bytes, stderr_bytes, definition_digest
            """

        public func execution(id: String, includeOutput: Bool) async throws -> ExecutionRecord? {
            let rows = try await run("SELECT \(unescaped: Self.columnsWithoutOutput) FROM execution WHERE id = \(id)")
            var found = readable(rows, table: "execution") { try Self.execution(from: $0) }
            if includeOutput { try await attachOutput(&found) }
            return found.first
        }

        public func executions(matching query: ExecutionQuery) async throws -> [ExecutionRecord] {
            var page = try await executionPage(
                columns: Self.columnsWithoutOutput, jobID: query.jobID, jobIDs: query.jobIDs.map { $0.sorted() },
                state: query.state?.rawValue, from: query.from, to: query.to, after: query.after, limit: query.limit)
            if query.includeOutput { try await attachOutput(&page) }
            return page
        }

        /// Up to `limit` executions, newest first, after `after`. A row that cannot be read is left out and the page
        /// reads on past it, so that a page shorter than `limit` still means there is no more.
        func executionPage(
            columns: String, jobID: String?, jobIDs: [String]?, state: String?, from: Date?, to: Date?,
            after: ExecutionCursor?, limit: Int
        ) async throws -> [ExecutionRecord] {
            var page: [ExecutionRecord] = []
            var after = after
            while page.count < limit {
                let wanted = limit - page.count
                // NULL parameters switch a condition off, so that one statement (one plan) serves every filter.
                let rows = try await run(
                    """
                    SELECT \(unescaped: columns) FROM execution
                    WHERE (\(jobID)::text IS NULL OR job_id = \(jobID))
                    AND (\(jobIDs)::text[] IS NULL OR job_id = ANY(\(jobIDs)::text[]))
                    AND (\(state)::text IS NULL OR state = \(state))
                    AND (\(from)::timestamptz IS NULL OR scheduled_at >= \(from))
                    AND (\(to)::timestamptz IS NULL OR scheduled_at <= \(to))
                    AND (\(after?.scheduledAt)::timestamptz IS NULL OR (scheduled_at, id) < (\(after?.scheduledAt), \(after?.id)))
                    ORDER BY scheduled_at DESC, id DESC LIMIT \(wanted)
                    """)
                guard let last = rows.last else { break }
                page += readable(rows, table: "execution") { try Self.execution(from: $0) }
                let cells = last.makeRandomAccess()
                guard rows.count == wanted, page.count < limit,
                    let scheduledAt = try? cells[4].decode(Date.self), let id = try? cells[0].decode(String.self)
                else { break }
                after = ExecutionCursor(scheduledAt: scheduledAt, id: id)
            }
            return page
        }

        public func recentExecutions(jobIDs: [String], perJob: Int) async throws -> [String: [ExecutionRecord]] {
            var result: [String: [ExecutionRecord]] = [:]
            for id in jobIDs {
                let executions = try await executionPage(
                    columns: Self.columnsWithoutOutput, jobID: id, jobIDs: nil, state: nil, from: nil, to: nil,
                    after: nil,
                    limit: perJob)
                if !executions.isEmpty { result[id] = executions }
            }
            return result
        }

        public func prune(keepPerJob: Int, olderThan: Date) async throws -> Int {
            try await transaction { connection in
                let deleted = try await self.pruneExecutions(keepPerJob: keepPerJob, olderThan: olderThan, connection)
                try await Self.pruneDeliveries(connection, logger: self.logger)
                return deleted
            }
        }

        /// Deletes executions beyond the retention (their output with them: `ON DELETE CASCADE`); returns how many.
        private func pruneExecutions(
            keepPerJob: Int, olderThan: Date, _ connection: PostgresConnection
        ) async throws -> Int {
            let rows = try await connection.query(
                """
                WITH gone AS (
                    DELETE FROM execution WHERE state NOT IN ('running', 'scheduled') AND (scheduled_at < \(olderThan)
                    OR id IN (
                        SELECT id FROM (
                            SELECT id, row_number() OVER (PARTITION BY job_id ORDER BY scheduled_at DESC, id DESC) AS n
                            FROM execution
                        ) ranked WHERE n > \(keepPerJob)
                    ))
                    RETURNING 1
                ) SELECT count(*) FROM gone
                """, logger: logger
            ).collect()
            return try rows.first.map { try $0.decode(Int.self) } ?? 0
        }
    }
#endif
