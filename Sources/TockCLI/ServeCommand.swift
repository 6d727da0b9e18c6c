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
            Settings come from --config (or TOCK_CONFIG), then TOCK_LISTEN, TOCK_DATABASE, TOCK_JOBS_DIR and \
            TOCK_DATA_DIR, then these flags. SIGTERM/SIGINT: stop firing, let running jobs finish within \
            shutdown_grace, then stop them. SIGHUP: reload jobs.d (also reloaded when its files change).
            """
    )

    @Option(help: "A TOML configuration file.")
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

    @Option(help: "The web UI's directory, served at / (default ./web).")
    var webDir: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Flag(
        help: """
            Serve without authentication (auth = "off"), even beyond loopback: anyone who can reach the port can run             commands as this daemon's user. Warned about at every start.
            """)
    var insecureNoAuth = false

    func run() async throws {
        var settings = TockConfiguration()
        let environment = ProcessInfo.processInfo.environment
        do {
            if let path = config ?? environment["TOCK_CONFIG"] { try settings.apply(fileAt: path) }
            settings.apply(environment: environment)
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
            try settings.validate()
        } catch {
            FileHandle.standardError.write(Data("tock serve: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "tock")
        ProcessJobRunner.becomeSubreaper()
        let app: TockApplication.Built
        do {
            app = try TockApplication.buildServiceGroup(configuration: settings, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("tock serve: \(error)\n".utf8))
            throw ExitCode(1)
        }
        logger.info(
            "tock serve starting",
            metadata: [
                "jobs.dir": "\(settings.jobsDirectory)", "database": "\(settings.databaseURLForLogs)",
                "jobs.errors": "\(app.jobFileErrors.count)",
            ])
        try await app.serviceGroup.run()
        logger.info("tock serve stopped")
    }
}
