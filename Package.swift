// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Tock",
    products: [
        .executable(name: "tock", targets: ["TockCLI"]),
        .library(name: "CronKit", targets: ["CronKit"]),
        .library(name: "TockCore", targets: ["TockCore"]),
    ],
    // `Postgres`: the PostgreSQL store and cluster mode (postgres-nio). Off by default, so that a plain `swift build`
    // compiles none of it; the release build and CI add `--traits Postgres`.
    traits: [
        .trait(name: "Postgres", description: "The PostgreSQL store and several nodes on one database"),
        .default(enabledTraits: []),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Pinned to 0.6.x: TockCore imports TOMLKit's C layer (CTOML), which TOMLKit does not export, and works around
        // the leaks of its Swift API (ARCHITECTURE.md, "Job files"); a minor release may change either.
        .package(url: "https://github.com/LebJe/TOMLKit", .upToNextMinor(from: "0.6.0")),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // SHA-256 for API tokens and session ids (stored only as hashes); HMAC-SHA256 for signed webhooks.
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // bcrypt for UI passwords (only its HummingbirdBcrypt product is built).
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        // The PostgreSQL store (trait `Postgres` only).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // Pure schedule math: parse cron, compute fire times, describe. Foundation only, never reads the clock.
        .target(name: "CronKit"),
        // The process spawner: vfork + exec into a new session with a clean signal mask (see ProcessJobRunner).
        .target(name: "CTockSpawn"),
        // JSON as a value (RFC 8259 reader and writer, key order kept): the API's bodies and stored API jobs.
        .target(name: "TockJSON"),
        .target(
            name: "TockCore",
            dependencies: [
                "CronKit", "CTockSpawn", "TockJSON", "TOMLKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ]
        ),
        // The REST API (ndscheduler-compatible) over TockCore's protocols; never names a concrete store.
        .target(
            name: "TockHTTP",
            dependencies: [
                "CronKit", "TockCore", "TockJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The OpenAPI document, edited by hand as JSON and compiled into the binary (`PackageResources`).
            resources: [.embedInCode("openapi.json")],
            // The files of web/, compiled into the binary (`EmbeddedWebUI`).
            plugins: ["EmbedWebUI"]
        ),
        // TLS for TockClient on the system's OpenSSL (libssl3; building needs libssl-dev): no BoringSSL in `tock`.
        .target(name: "CTockTLS", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        // A small HTTP client of the API (the CLI's `jobs` and `executions`, end-to-end tests), http:// or https://.
        .target(name: "TockClient", dependencies: ["TockJSON", "CTockTLS"]),
        // The SQLite store (GRDB on the system libsqlite3).
        .target(
            name: "TockSQLite",
            dependencies: [
                "TockCore", "TockJSON", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The PostgreSQL store and cluster coordination; its sources are `#if Postgres`, so that without the trait it
        // is an empty module and postgres-nio is not built.
        .target(
            name: "TockPostgres",
            dependencies: [
                "TockCore", "TockJSON", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["Postgres"])),
            ]
        ),
        // Composition root: configuration -> ServiceGroup. Only this module knows which store is in use.
        .target(
            name: "TockApp",
            dependencies: [
                "TockCore", "TockSQLite", "TockPostgres", "TockHTTP", "CronKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // Test support: a manual clock, a recording runner, the store contract suite.
        .target(name: "TockTesting", dependencies: ["TockCore", "TockJSON"]),
        .executableTarget(
            name: "TockCLI",
            dependencies: [
                "CronKit",
                "TockCore",
                "TockApp",
                "TockClient",
                "TockJSON",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // The commit the binary is built from, for `tock --version` (`BuildInfo`).
            plugins: ["EmbedBuildInfo"]
        ),
        // Build-time code generation by scripts/embed: prebuild commands, so they run on every build.
        .plugin(name: "EmbedWebUI", capability: .buildTool()),
        .plugin(name: "EmbedBuildInfo", capability: .buildTool()),
        // Tock as a library: a daemon with a job kind of its own.
        .executableTarget(
            name: "DiskCheckExample",
            dependencies: [
                "TockApp", "TockCore", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Examples/DiskCheck",
            exclude: ["jobs.d"]
        ),
        .executableTarget(name: "CronBenchmark", dependencies: ["CronKit"], path: "Benchmarks/CronBenchmark"),
        .executableTarget(name: "RunnerBenchmark", dependencies: ["TockCore"], path: "Benchmarks/RunnerBenchmark"),
        .executableTarget(
            name: "SchedulerBenchmark",
            dependencies: ["CronKit", "TockCore", "TockSQLite", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/SchedulerBenchmark"
        ),
        .testTarget(name: "CronKitTests", dependencies: ["CronKit"]),
        .testTarget(name: "TockJSONTests", dependencies: ["TockJSON"]),
        // CrontabCorpus: crontab files read by path (their bytes matter: CR, NUL, no final newline).
        .testTarget(
            name: "TockCoreTests",
            dependencies: ["CronKit", "TockCore", "TockTesting", .product(name: "Logging", package: "swift-log")],
            exclude: ["CrontabCorpus"]),
        .testTarget(
            name: "TockSQLiteTests",
            dependencies: [
                "TockCore", "TockJSON", "TockSQLite", "TockTesting", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Runs against the PostgreSQL server named by TOCK_TEST_DATABASE (scripts/test-postgres starts one); with
        // the trait off it holds no test.
        .testTarget(
            name: "TockPostgresTests",
            dependencies: [
                "CronKit", "TockCore", "TockJSON", "TockPostgres", "TockTesting", "TockSQLite", "TockApp",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["Postgres"])),
            ]),
        .testTarget(
            name: "TockHTTPTests",
            dependencies: [
                "TockHTTP", "TockCore", "TockJSON", "TockSQLite", "TockTesting", "CronKit",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "TockCLITests",
            dependencies: [
                "CronKit", "TockCore", "TockJSON", "TockSQLite", "TockTesting", "TockClient", "TockApp",
                .product(name: "Logging", package: "swift-log"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)

// Upcoming language features on in every Swift target (as Hummingbird does): `any` spelled out for existentials, and
// members visible only from modules a file imports (no transitive leaks).
for target in package.targets where !["CTockSpawn", "CTockTLS"].contains(target.name) && target.type != .plugin {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility"),
        ]
}
