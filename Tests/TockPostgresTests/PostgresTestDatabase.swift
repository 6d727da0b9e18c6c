#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import Testing
    import TockCore
    import TockPostgres

    /// A schema of its own in the throwaway server named by `TOCK_TEST_DATABASE` (scripts/test-postgres starts one), for
    /// each test: stores made here see only that schema's tables.
    struct PostgresTestDatabase {
        static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

        let url: PostgresDatabaseURL
        let schema: String

        /// A new, empty schema. Fails the test (never skips it) when no server is named: with the trait on, these tests
        /// are the point of the run.
        static func make() async throws -> PostgresTestDatabase {
            let text = try #require(
                ProcessInfo.processInfo.environment["TOCK_TEST_DATABASE"],
                "set TOCK_TEST_DATABASE=postgres://… (scripts/test-postgres starts a throwaway server)")
            let url = try PostgresDatabaseURL(parsing: text)
            let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            let database = PostgresTestDatabase(url: url, schema: schema)
            try await database.withClient(searchPath: "public") { client in
                try await client.query("CREATE SCHEMA \(unescaped: schema)")
            }
            return database
        }

        func configuration(searchPath: String? = nil) -> PostgresClient.Configuration {
            var configuration = PostgresClient.Configuration(
                host: url.host, port: url.port, username: url.user, password: url.password, database: url.database,
                tls: .disable)
            configuration.options.maximumConnections = 8
            configuration.options.additionalStartupParameters = [
                ("search_path", searchPath ?? schema), ("idle_in_transaction_session_timeout", "10s"),
                ("TimeZone", "UTC"),
            ]
            return configuration
        }

        /// Runs `body` with a running client on this schema.
        func withClient<T: Sendable>(
            searchPath: String? = nil, _ body: (PostgresClient) async throws -> T
        ) async throws -> T {
            let client = PostgresClient(
                configuration: configuration(searchPath: searchPath), backgroundLogger: Self.logger)
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                return try await body(client)
            }
        }

        /// Runs `body` with a store (its own client) on this schema, as node `name`.
        func withStore<T: Sendable>(
            node name: String = "test-node", logger: Logger = Self.logger,
            outputPieceSize: Int = PostgresJobStore.defaultOutputPieceSize,
            _ body: (PostgresJobStore) async throws -> T
        ) async throws -> T {
            try await withClient { client in
                try await body(
                    PostgresJobStore(client: client, nodeName: name, outputPieceSize: outputPieceSize, logger: logger))
            }
        }

        /// Runs one statement on this schema.
        func execute(_ query: PostgresQuery) async throws -> [PostgresRow] {
            try await withClient { client in try await client.query(query).collect() }
        }
    }
#endif
