import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import TockCore
import TockHTTP
import TockSQLite
import UnixSignals

/// The composition root: turns a configuration into running services. Only this module knows which store is in
/// use. A package that embeds Tock calls ``buildServiceGroup(configuration:logger:runner:)`` and runs the group.
///
/// ```swift
/// var configuration = TockConfiguration()
/// configuration.jobsDirectory = "/etc/tock/jobs.d"
/// let app = try TockApplication.buildServiceGroup(configuration: configuration, logger: Logger(label: "tock"))
/// try await app.serviceGroup.run()
/// ```
public enum TockApplication {
    public struct Built: Sendable {
        public let serviceGroup: ServiceGroup
        public let scheduler: Scheduler
        public let store: any JobStore
        /// The REST API, already mounted on the HTTP server of the group.
        public let api: TockAPI
        /// Problems found in jobs.d at start (those files' jobs are not loaded).
        public let jobFileErrors: [JobFileError]
    }

    /// Builds the daemon: store, scheduler, jobs.d watcher and the HTTP server (REST API, metrics), with graceful
    /// shutdown on SIGTERM and SIGINT.
    ///
    /// - Parameter runner: runs attempts; the default runs processes. Pass a ``JobRunner`` of your own to add job
    ///   kinds (see ``KindRoutingJobRunner``).
    /// - Throws: ``TockConfiguration/Problem`` for a configuration that cannot work (bad zone, unreachable data
    ///   directory, unsupported database URL).
    public static func buildServiceGroup(
        configuration: TockConfiguration, logger: Logger, kinds: [any JobKind] = [], runner: (any JobRunner)? = nil,
        version: String? = nil
    ) throws -> Built {
        try configuration.validate()
        let descriptorLimit = raiseDescriptorLimit(logger: logger)
        SystemMemory.returnLargeBuffersWhenFreed()
        SystemMemory.limitArenas()
        let opened = try openStore(configuration, logger: logger)
        let store = opened.store
        let kindNames = Set(kinds.map(\.name))
        // Shared with the watcher: a reload then reads only the files that changed since.
        let jobFiles = JobFileCache()
        // Unchanged files are decoded from the data directory's cache of parsed definitions, not parsed.
        let definitions = JobDefinitionCacheFile(dataDirectory: configuration.dataDirectory)
        let directory = JobDirectory.load(
            configuration.jobsDirectory, kinds: kindNames, cache: jobFiles, definitions: definitions)
        // Also as `FILE:LINE: message` for people reading the log.
        for error in directory.errors {
            logger.error(
                "job file problem \(error)",
                metadata: ["file": "\(error.file)", "line": "\(error.line)", "problem": "\(error.message)"])
        }
        // Parsing a large jobs.d leaves freed heap behind; hand it back rather than keep the peak for good.
        SystemMemory.releaseFreedMemory()
        let registry = PrometheusCollectorRegistry()
        var schedulerConfiguration = SchedulerConfiguration(
            defaultTimeZone: TimeZone(identifier: configuration.timezone) ?? TimeZone(identifier: "UTC")!,
            maxConcurrentRuns: configuration.maxConcurrentRuns, shutdownGrace: configuration.shutdownGrace,
            retentionPerJob: configuration.retentionPerJob, retentionAge: configuration.retentionAge,
            metrics: SchedulerMetrics(factory: PrometheusMetricsFactory(registry: registry)))
        schedulerConfiguration.jobKinds = kindNames
        schedulerConfiguration.defaultTimeZoneName = configuration.timezone
        if let node = opened.nodeName { schedulerConfiguration.host = node }
        let notifications = makeNotifications(
            configuration, scheduling: &schedulerConfiguration, store: store, jobs: directory.jobs,
            metrics: PrometheusMetricsFactory(registry: registry), logger: logger)
        let scheduler = Scheduler(
            jobs: directory.jobs, store: store, runner: runner ?? KindRoutingJobRunner(kinds: kinds),
            configuration: schedulerConfiguration, logger: logger, coordinator: opened.coordinator,
            control: opened.control)
        opened.attach(scheduler)
        let watcher = JobsDirectoryWatcher(
            path: configuration.jobsDirectory, kinds: kindNames, scheduler: scheduler,
            interval: configuration.reloadInterval, logger: logger, cache: jobFiles, definitions: definitions)

        let (host, port) = try configuration.listenAddress()
        let access = accessControl(configuration, store: store, listenHost: host, logger: logger)
        var api = TockAPI(
            scheduler: scheduler, store: store, kinds: kindNames, defaultTimeZone: configuration.timezone,
            requestGuard: RequestGuard(
                allowedHosts: configuration.allowedHosts, publicURL: configuration.publicURL.flatMap(URL.init(string:)),
                listenHost: host),
            access: access,
            jobPolicy: JobCatalog.Policy(
                apiJobsEnabled: configuration.apiJobs,
                allowedUsers: access.settings.runningAsRoot && access.settings.mode != .off
                    ? Set(configuration.apiJobUsers) : nil),
            metricsText: { registry.emitToString() })
        api.notifications = schedulerConfiguration.notifications
        let cluster = opened.clusterView(scheduler, version)
        api.cluster = cluster.view
        // What job lists need is made in the background while the scheduler starts, not by the first request.
        let listed = api
        Task { await listed.prepareJobLists() }
        let (router, _) = api.buildRouter(webDirectory: configuration.webDirectory, logger: logger)
        let server = Application(
            router: router, server: HTTPServerSettings.http1(),
            configuration: .init(
                address: .hostname(host, port: port), serverName: "Tock",
                availableConnectionsDelegate: HTTPServerSettings.connectionLimit(
                    descriptorLimit: descriptorLimit, logger: logger)),
            onServerRunning: { channel in
                let actualPort = channel.localAddress?.port ?? port
                logger.info(
                    "HTTP server listening",
                    metadata: [
                        "address": "\(channel.localAddress?.description ?? "?")", "port": "\(actualPort)",
                    ])
                SystemdNotifier.notify("READY=1")
                Task { await announceAccess(access, configuration: configuration, port: actualPort, logger: logger) }
            },
            logger: logger)
        var groupConfiguration = ServiceGroupConfiguration(
            // Shut down in reverse order: the scheduler first (it lets running jobs finish within the grace), while
            // the HTTP server still answers — run now gets its 503 "shutting down", live tails their end.
            // A shared store's client and coordinator start first and stop last.
            services: opened.services.map { .init(service: $0) } + [
                .init(service: server),
                .init(service: watcher),
                // Shut down after the scheduler: the records of runs ending in its grace still enqueue deliveries.
                .init(service: notifications.map { $0 as any Service } ?? IdleService()),
                .init(service: healthMonitor(schedulerConfiguration, store: store, logger: logger) ?? IdleService()),
                .init(service: cluster.service ?? IdleService()),
                .init(service: MemoryTrimmer()),
                .init(service: scheduler, successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        // A backstop: a client that stopped reading a live tail holds its response open, and the HTTP server's
        // graceful shutdown waits for every response. Past the jobs' grace and 10 s more, the group is cancelled
        // (connections closed), so SIGTERM always ends the daemon.
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownGrace + .seconds(10)
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        let group = ServiceGroup(configuration: groupConfiguration)
        return Built(
            serviceGroup: group, scheduler: scheduler, store: store, api: api, jobFileErrors: directory.errors)
    }

    /// Raises the soft limit on open descriptors to the hard limit: the usual soft limit of 1,024 is soon reached
    /// by a daemon holding client connections, job pipes and pidfds at once.
    /// - Returns: the soft limit now in force.
    @discardableResult
    static func raiseDescriptorLimit(logger: Logger) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        let wanted = min(limit.rlim_max, 1 << 20)
        guard limit.rlim_cur < wanted else { return Int(limit.rlim_cur) }
        let before = limit.rlim_cur
        limit.rlim_cur = wanted
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            logger.warning("could not raise the open-descriptor limit", metadata: ["soft": "\(before)"])
            return Int(before)
        }
        logger.debug("raised the open-descriptor limit", metadata: ["from": "\(before)", "to": "\(wanted)"])
        return Int(wanted)
    }

    /// Authentication as the configuration and the situation ask (see ``AccessControl``).
    static func accessControl(
        _ configuration: TockConfiguration, store: any AccessStore, listenHost: String, logger: Logger
    ) -> AccessControl {
        var settings = AccessControl.Settings()
        settings.mode = AccessControl.Mode(rawValue: configuration.auth) ?? .auto
        settings.loopbackListener = TockConfiguration.isLoopback(host: listenHost)
        settings.runningAsRoot = geteuid() == 0
        settings.trustedProxies = configuration.trustedProxies.compactMap(AddressRange.init)
        settings.setupCodePath = (configuration.dataDirectory as NSString).appendingPathComponent("setup-code")
        settings.alwaysSecureCookies = configuration.publicURL?.lowercased().hasPrefix("https://") ?? false
        settings.publicMetrics = configuration.publicMetrics
        return AccessControl(settings: settings, store: store, logger: logger)
    }

    /// Says at start how the API is protected: a warning when it is not, and when it is locked, how to make the
    /// first admin — the one-time setup URL on a terminal (as Jupyter does), only the code file's path in a log.
    static func announceAccess(
        _ access: AccessControl, configuration: TockConfiguration, port: Int, logger: Logger
    ) async {
        let mode = await access.currentMode()
        switch mode {
        case "off":
            logger.warning(
                "\("authentication is OFF (--insecure-no-auth): anyone who can reach this port can run commands as ")\("this daemon's user")",
                metadata: ["listen": "\(configuration.listen)"])
        case "open":
            logger.info(
                "\("no users or tokens: the API is open to local clients on loopback (audit user 'local'); ")\("it requires authentication as soon as one exists")"
            )
        case "locked":
            guard let code = await access.prepareSetupCode(), let path = access.settings.setupCodePath else { return }
            let host =
                (try? configuration.listenAddress().host).map {
                    TockConfiguration.isLoopback(host: $0) ? $0 : "127.0.0.1"
                } ?? "127.0.0.1"
            let shownHost = host.contains(":") ? "[\(host)]" : host
            let base =
                configuration.publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
                ?? "http://\(shownHost):\(port)"
            logger.notice(
                "\("Tock is locked until it has an admin: open /#/setup with the one-time code in the setup-code ")\("file, or run 'tock users add NAME --role admin' on this machine")",
                metadata: ["setup_code_file": "\(path)"])
            if isatty(STDERR_FILENO) == 1 {
                FileHandle.standardError.write(
                    Data(
                        """

                        To make the first admin, open this one-time URL in a browser:

                            \(base)/#/setup?code=\(code)


                        """.utf8))
            }
        default:
            access.removeSetupCode()
        }
    }

    /// The store of a configuration, for tools that work on it directly (`tock users`, `tock tokens`): access to
    /// the data directory is the authority on the server itself.
    public static func openStoreForTools(
        _ configuration: TockConfiguration
    ) throws(TockConfiguration.Problem) -> any JobStore & AccessStore {
        var logger = Logger(label: "tock")
        logger.logLevel = .error
        let opened = try openStore(configuration, logger: logger)
        opened.startForTools()
        return opened.store
    }
}
