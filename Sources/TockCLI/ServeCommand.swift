import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import TockApp
import TockCore

/// `tock serve`: the daemon.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the daemon: the scheduler over jobs.d, recording every execution.",
        discussion: """
            Settings come from the configuration file — --config, else TOCK_CONFIG, else /etc/tock/tock.toml \
            when it exists, else none — then TOCK_LISTEN, TOCK_DATABASE, TOCK_JOBS_DIR, TOCK_DATA_DIR, \
            TOCK_WEB_DIR, TOCK_LOG_FORMAT and TOCK_LOG_LEVEL, then these flags. SIGTERM/SIGINT: stop firing, let \
            running jobs finish within shutdown_grace, then stop them. SIGHUP: reload jobs.d (also reloaded when \
            its files change) and the file's log_level. SIGUSR1/SIGUSR2: log one level more/less verbosely.
            """
    )

    @Option(help: "A TOML configuration file (default: TOCK_CONFIG, else /etc/tock/tock.toml when it exists).")
    var config: String?

    @Option(help: "HOST:PORT for the HTTP API and UI (default 127.0.0.1:8888).")
    var listen: String?

    @Option(help: "The directory of job files (default ./jobs.d).")
    var jobsDir: String?

    @Option(
        help:
            "sqlite:PATH (default sqlite:<data-dir>/tock.sqlite) or postgres://USER@HOST:PORT/DATABASE (several nodes)."
    )
    var database: String?

    @Option(
        help: "With PostgreSQL: this node's unique name among the nodes (default: $TOCK_NODE_NAME or the host name).")
    var nodeName: String?

    @Option(help: "Where Tock keeps its data (default ./tock-data).")
    var dataDir: String?

    @Option(help: "A directory of web UI files to serve at / instead of the UI built into tock.")
    var webDir: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (default info).")
    var logLevel: String?

    @Option(help: "Log format: text, json or logfmt (default text).")
    var logFormat: String?

    @Flag(help: "Check the configuration and the job files, print what is wrong, and exit (0: all valid).")
    var checkConfig = false

    @Flag(
        help: """
            Serve without authentication (auth = "off"), even beyond loopback: anyone who can reach the port can run             commands as this daemon's user. Warned about at every start.
            """)
    var insecureNoAuth = false

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let file = TockConfiguration.configurationFile(explicit: config, environment: environment)
        var settings: TockConfiguration
        do {
            settings = try TockConfiguration.load(file: file, environment: environment)
            if let listen { settings.listen = listen }
            if let jobsDir { settings.jobsDirectory = jobsDir }
            if let database { settings.database = database }
            if let nodeName { settings.nodeName = nodeName }
            if let dataDir { settings.dataDirectory = dataDir }
            if let webDir { settings.webDirectory = webDir }
            if insecureNoAuth {
                settings.auth = "off"
                settings.insecureNoAuth = true
            }
            if let logFormat { settings.logFormat = try LogFormat(parsing: logFormat) }
            if let logLevel { settings.logLevel = try TockConfiguration.logLevel(parsing: logLevel) }
            try settings.validate()
        } catch {
            FileHandle.standardError.write(Data("tock serve: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if checkConfig { return try Self.check(settings, file: file) }
        let levels = LogFormat.bootstrap(settings.logFormat, level: settings.logLevel)
        let logger = Logger(label: "tock")
        // SIGHUP re-reads the file's log_level, unless a flag or TOCK_LOG_LEVEL set the level.
        let levelIsFixed = logLevel != nil || environment["TOCK_LOG_LEVEL"] != nil
        let levelSignals = await LogLevelSignals(
            control: levels,
            configuredLevel: {
                guard !levelIsFixed, let file else { return nil }
                return try? TockConfiguration.load(file: file, environment: environment).logLevel
            }, logger: logger)
        ProcessJobRunner.becomeSubreaper()
        let app: TockApplication.Built
        do {
            app = try TockApplication.buildServiceGroup(configuration: settings, logger: logger, version: Tock.version)
        } catch {
            FileHandle.standardError.write(Data("tock serve: \(error)\n".utf8))
            throw ExitCode(1)
        }
        logger.info(
            "tock serve starting",
            metadata: [
                "version": "\(Tock.configuration.version)", "config": "\(file ?? "none")",
                "jobs.dir": "\(settings.jobsDirectory)", "database": "\(settings.databaseURLForLogs)",
                "jobs.errors": "\(app.jobFileErrors.count)",
            ])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.serviceGroup.run() }
            group.addTask { try await levelSignals.run() }
            try await group.next()
            group.cancelAll()
        }
        logger.info("tock serve stopped")
    }
}
