#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import Synchronization
    import Testing
    import TockCore
    import TockJSON
    import TockPostgres
    import TockTesting

    /// The shared store contract against a real PostgreSQL server, and what only PostgreSQL has: access rows shared by
    /// nodes, migrations under a lock.
    @Suite(.timeLimit(.minutes(2)))
    struct PostgresJobStoreTests {
        @Test(arguments: JobStoreContract.checks.map(\.0))
        func contract(_ name: String) async throws {
            let database = try await PostgresTestDatabase.make()
            let check = try #require(JobStoreContract.checks.first { $0.0 == name }?.1)
            try await database.withStore { store in try await check(store) }
        }

        @Test func contract_skipsCorruptRows() async throws {
            let database = try await PostgresTestDatabase.make()
            let logged = LoggedErrors()
            let logger = Logger(label: "test") { _ in logged }
            try await database.withStore(logger: logger) { store in
                try await JobStoreContract.skipsCorruptRows(store) { row in
                    let changed: [PostgresRow]
                    switch row {
                    case .execution(let id):
                        changed = try await database.execute(
                            "UPDATE execution SET trigger = 'earthquake' WHERE id = \(id) RETURNING id")
                    case .auditEntries(let jobID):
                        changed = try await database.execute(
                            "UPDATE audit_log SET event = 'exploded' WHERE job_id = \(jobID) RETURNING id")
                    case .apiJob(let id):
                        changed = try await database.execute(
                            "UPDATE api_job SET definition = '{\"schedule\": ' WHERE id = \(id) RETURNING id")
                    }
                    #expect(!changed.isEmpty, "\(row) was not found")
                }
            }
            let rows = Set(logged.entries.map { "\($0["store.table"] ?? "?") \($0["store.row"] ?? "?")" })
            #expect(rows.count == 4, "two executions, an audit entry and an API job: \(rows)")
            #expect(rows.contains("api_job bad"))
        }

        /// Two nodes starting at once on a new database: the migrations run once (under the advisory lock), both work.
        @Test func migrations_fromTwoStoresAtOnce_runOnce() async throws {
            let database = try await PostgresTestDatabase.make()
            try await database.withStore(node: "a") { a in
                try await database.withStore(node: "b") { b in
                    async let first = a.allStates()
                    async let second = b.allStates()
                    _ = try await (first, second)
                }
            }
            // v1, v2 (output in pieces), notify-1 (the outbox), health-1 (open alerts), deps-1 (cursors), control-1
            // (manual runs' keys), control-2 (control from any node), clusterview-1 (digests, node clocks), harness-1
            // (retries elsewhere): each once.
            let applied = try await database.execute("SELECT name FROM tock_migration ORDER BY applied_at, name")
            let names = try applied.map { try $0.decode(String.self) }
            #expect(
                names.count == 9
                    && names.map { $0.prefix(3) }.sorted() == [
                        "clu", "con", "con", "dep", "har", "hea", "not", "v1:", "v2:",
                    ],
                "\(names)")
        }

        @Test func access_usersTokensAndSessions_roundTrip() async throws {
            let database = try await PostgresTestDatabase.make()
            let t0 = Date(timeIntervalSince1970: 1_767_225_600)
            try await database.withStore { store in
                #expect(try await store.hasCredentials() == false)
                let ann = TockUser(
                    name: "ann", role: .operator, tags: ["ops", "db"], passwordHash: "$2b$12$x", createdAt: t0)
                try await store.addUser(ann)
                await #expect(throws: AccessProblem.self) { try await store.addUser(ann) }
                #expect(try await store.hasCredentials())
                #expect(try await store.user(named: "ann") == ann)
                #expect(try await store.users().map(\.name) == ["ann"])

                let session = UserSession(
                    hash: "s1", userName: "ann", createdAt: t0, lastSeenAt: t0, expiresAt: t0.addingTimeInterval(600),
                    address: "127.0.0.1")
                try await store.addSession(session)
                #expect(try await store.session(hash: "s1")?.0 == session)
                #expect(try await store.session(hash: "s1")?.1 == ann)
                try await store.touchSession(hash: "s1", at: t0.addingTimeInterval(5))
                #expect(try await store.session(hash: "s1")?.0.lastSeenAt == t0.addingTimeInterval(5))
                // A new password ends the sessions.
                var changed = ann
                changed.passwordHash = "$2b$12$y"
                #expect(try await store.updateUser(changed))
                #expect(try await store.session(hash: "s1") == nil)
                #expect(
                    try await store.updateUser(TockUser(name: "nobody", role: .admin, passwordHash: "x", createdAt: t0))
                        == false)
                try await store.addSession(session)
                #expect(try await store.pruneSessions(now: t0.addingTimeInterval(601)) == 1)
                try await store.addSession(session)
                try await store.deleteSession(hash: "s1")
                #expect(try await store.session(hash: "s1") == nil)

                let token = APIToken(
                    id: "tock_abcdefg", name: "ci", hash: "h1", role: .viewer, tags: ["x"], createdBy: "ann",
                    createdAt: t0,
                    expiresAt: t0.addingTimeInterval(86_400))
                try await store.addToken(token)
                await #expect(throws: AccessProblem.self) {
                    try await store.addToken(
                        APIToken(
                            id: "tock_other00", name: "ci", hash: "h2", role: .admin, createdBy: "ann", createdAt: t0))
                }
                #expect(try await store.token(hash: "h1") == token)
                try await store.touchToken(id: token.id, at: t0.addingTimeInterval(9), address: "10.0.0.1")
                #expect(try await store.token(hash: "h1")?.lastUsedAddress == "10.0.0.1")
                let revoked = try await store.revokeToken("ci", at: t0.addingTimeInterval(10))
                #expect(revoked?.id == token.id && revoked?.revokedAt == t0.addingTimeInterval(10))
                #expect(try await store.token(hash: "h1") == nil)
                #expect(try await store.revokeToken("ci", at: t0) == nil)
                // The name is free again once revoked.
                try await store.addToken(
                    APIToken(id: "tock_second0", name: "ci", hash: "h3", role: .admin, createdBy: "ann", createdAt: t0))
                #expect(try await store.tokens().map(\.id) == ["tock_abcdefg", "tock_second0"])
            }
        }

        @Test func anUnreachableServer_isUnavailable() async throws {
            var configuration = PostgresClient.Configuration(
                host: "127.0.0.1", port: 1, username: "nobody", password: nil, database: "none", tls: .disable)
            configuration.options.connectTimeout = .seconds(1)
            let client = PostgresClient(configuration: configuration, backgroundLogger: PostgresTestDatabase.logger)
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                let store = PostgresJobStore(
                    client: client, nodeName: "n", requestTimeout: .seconds(1), logger: PostgresTestDatabase.logger)
                let started = ContinuousClock.now
                await #expect(throws: StoreError.self) { try await store.allStates() }
                #expect(ContinuousClock.now - started < .seconds(5), "a caller hears within the request timeout")
            }
        }

        /// Keeps the metadata of every error logged.
        final class LoggedErrors: LogHandler, Sendable {
            private let logged = Mutex<[Logger.Metadata]>([])
            var entries: [Logger.Metadata] { logged.withLock { $0 } }

            func log(event: LogEvent) {
                guard event.level == .error else { return }
                logged.withLock { $0.append(event.metadata ?? [:]) }
            }

            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { nil }
                set {}
            }
            var metadata: Logger.Metadata {
                get { [:] }
                set {}
            }
            var logLevel: Logger.Level {
                get { .trace }
                set {}
            }
        }
    }
#endif
