import Foundation
import Logging
import ServiceLifecycle
import TockCore
import TockPostgres
import TockSQLite

extension TockApplication {
    /// A store as the configuration names it, with what it needs running beside the scheduler.
    struct OpenedStore: Sendable {
        let store: any JobStore & AccessStore
        /// `nil`: alone on the store (``LocalSlotCoordinator``).
        let coordinator: (any SlotCoordinator)?
        /// Services to start before the others (and stop after them): a database client, a coordinator.
        let services: [any Service]
        /// The node's name among several, recorded on each execution; `nil`: the host name.
        let nodeName: String?
        /// For a tool without a `ServiceGroup`: starts what the store needs to answer.
        let startForTools: @Sendable () -> Void
        /// The cluster view of the daemon (`GET /api/v1/cluster`) once its scheduler exists (given with the version),
        /// and the service that keeps it (clock offsets, digests), if any.
        var clusterView: @Sendable (Scheduler, String?) -> (view: any ClusterView, service: (any Service)?)
        /// `nil`: alone on the store (``LocalClusterControl``).
        var control: (any ClusterControl)? = nil
        /// Hands the scheduler to what applies other nodes' changes and requests to it.
        var attach: @Sendable (Scheduler) -> Void = { _ in }
    }

    static func openStore(
        _ configuration: TockConfiguration, logger: Logger
    ) throws(TockConfiguration.Problem) -> OpenedStore {
        let url = configuration.databaseURL
        if PostgresDatabaseURL.isPostgres(url) {
            return try openPostgres(configuration, logger: logger)
        }
        guard url.hasPrefix("sqlite:") else {
            throw TockConfiguration.Problem("database: '\(url)' is neither sqlite:PATH nor postgres://…")
        }
        let path = String(url.dropFirst("sqlite:".count))
        let directory = (path as NSString).deletingLastPathComponent
        do {
            if !directory.isEmpty {
                // Job output and environment values live here: owner only (the database file is 0600 too).
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                warnIfOthersCanRead(directory, logger: logger)
            }
            let store = try SQLiteJobStore(path: path, logger: logger)
            let startedAt = Date()
            return OpenedStore(
                store: store, coordinator: nil, services: [], nodeName: nil, startForTools: {},
                clusterView: { scheduler, version in
                    let view = LocalClusterView(
                        store: store, scheduler: scheduler, kind: "sqlite", nodeName: ProcessInfo.processInfo.hostName,
                        startedAt: startedAt, version: version)
                    return (view, nil)
                })
        } catch {
            throw TockConfiguration.Problem("database: cannot open \(path): \(error)")
        }
    }

    /// A `postgres://` store: its client and coordinator run as services; this daemon is one node among several.
    static func openPostgres(
        _ configuration: TockConfiguration, logger: Logger
    ) throws(TockConfiguration.Problem) -> OpenedStore {
        let url: PostgresDatabaseURL
        do { url = try PostgresDatabaseURL(parsing: configuration.databaseURL) } catch {
            throw TockConfiguration.Problem("database: \(error)")
        }
        #if Postgres
            let nodeName = configuration.nodeName ?? ProcessInfo.processInfo.hostName
            guard !nodeName.isEmpty, nodeName.count <= 200 else {
                throw TockConfiguration.Problem("node_name: '\(nodeName)' must be 1 to 200 characters")
            }
            let client = PostgresJobStore.makeClient(url: url, nodeName: nodeName, logger: logger)
            let store = PostgresJobStore(client: client, nodeName: nodeName, logger: logger)
            let coordinator = PostgresSlotCoordinator(store: store, leaseTTL: configuration.leaseTTL, logger: logger)
            let control = PostgresClusterControl(store: store, coordinator: coordinator, logger: logger)
            logger.info("store: PostgreSQL", metadata: ["database": "\(url)", "node": "\(nodeName)"])
            return OpenedStore(
                store: store, coordinator: coordinator, services: [client, coordinator, control], nodeName: nodeName,
                startForTools: { store.runClientInBackground() },
                clusterView: { scheduler, version in
                    let view = PostgresClusterView(
                        store: store, scheduler: scheduler, version: version, interval: coordinator.heartbeat,
                        logger: logger)
                    return (view, view)
                }, control: control,
                attach: { control.attach($0) })
        #else
            throw TockConfiguration.Problem(
                "database: \(url) is PostgreSQL, and this tock was built without it (swift build --traits Postgres)")
        #endif
    }
}

extension TockConfiguration {
    /// The database URL with any password hidden, for logs.
    public var databaseURLForLogs: String {
        (try? PostgresDatabaseURL(parsing: databaseURL))?.description ?? databaseURL
    }
}
