import CronKit
import Foundation
import Logging
import TockCore
import TockHTTP

/// Everything `tock serve` needs, from (lowest to highest precedence) defaults, a TOML config file, environment
/// variables (`TOCK_LISTEN`, `TOCK_DATABASE`, `TOCK_JOBS_DIR`, `TOCK_DATA_DIR`, `TOCK_WEB_DIR`, `TOCK_LOG_FORMAT`,
/// `TOCK_LOG_LEVEL`) and flags. Which file: see ``configurationFile(explicit:environment:systemFile:)``.
public struct TockConfiguration: Sendable, Equatable {
    public var listen = "127.0.0.1:8888"
    public var jobsDirectory = "./jobs.d"
    public var dataDirectory = "./tock-data"
    /// `sqlite:PATH` or `postgres://…`; `nil`: `sqlite:<data dir>/tock.sqlite`.
    public var database: String?
    public var timezone = "UTC"
    public var maxConcurrentRuns = 64
    public var shutdownGrace: Duration = .seconds(30)
    public var retentionPerJob = 1000
    public var retentionAge: Duration = .seconds(90 * 86_400)
    /// How often jobs.d is checked for changes (SIGHUP reloads at once).
    public var reloadInterval: Duration = .seconds(2)
    /// The web UI's files, served at `/` (to serve a UI of your own); `nil`: the UI compiled into the binary.
    public var webDirectory: String?
    /// Host names the server answers to besides loopback names, IP literals and this machine's name (`"*"`: any).
    public var allowedHosts: [String] = []
    /// The address users reach the server at behind a reverse proxy (`https://cron.example.com`).
    public var publicURL: String?
    /// `auto` (open on a loopback listener of a daemon not running as root while no user or token exists;
    /// otherwise required), `required`, or `off` (`--insecure-no-auth`).
    public var auth = "auto"
    /// Proxies (addresses or CIDR blocks) whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    public var trustedProxies: [String] = []
    /// `false`: jobs live in jobs.d only; the API cannot create, change or delete them.
    public var apiJobs = true
    /// On a daemon running as root, the users an API job may run as (it must name one).
    public var apiJobUsers: [String] = []
    /// Whether `/metrics` answers without credentials.
    public var publicMetrics = false
    /// Set by `--insecure-no-auth` (with `auth = "off"`): the only way to serve without authentication beyond
    /// loopback.
    public var insecureNoAuth = false
    /// With a PostgreSQL store: this daemon's name among the nodes (unique; recorded on each execution as `host`);
    /// `nil`: the host name.
    public var nodeName: String?
    /// With a PostgreSQL store: how long a node's lease lasts without renewal (renewed every `lease_ttl` / 12; a
    /// node stops its runs at `lease_ttl` × 3/4 without a renewal, and is declared dead at `lease_ttl`).
    public var leaseTTL: Duration = .seconds(60)
    /// How the log is written (`log_format`, `TOCK_LOG_FORMAT`, `--log-format`).
    public var logFormat: LogFormat = .text
    /// The lowest level logged (`log_level`, `TOCK_LOG_LEVEL`, `--log-level`; re-read from the file on SIGHUP).
    public var logLevel: Logger.Level = .info
    /// `[notifications]` and `[notifier.NAME]`: where notifications go (secrets only here, never in the store).
    public var notifications = NotificationSettings()

    public init() {}

    public var databaseURL: String {
        database ?? "sqlite:\((dataDirectory as NSString).appendingPathComponent("tock.sqlite"))"
    }

    /// A problem in the configuration, with where it is.
    public struct Problem: Error, CustomStringConvertible, Equatable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    static let keys: Set<String> = [
        "listen", "jobs_dir", "data_dir", "database", "timezone", "max_concurrent_runs", "shutdown_grace",
        "retention_per_job", "retention_age", "reload_interval", "web_dir", "allowed_hosts", "public_url",
        "auth", "trusted_proxies", "api_jobs", "api_job_users", "public_metrics", "node_name", "lease_ttl",
        "log_format", "log_level",
        "notifications", "notifier",
    ]

    /// Applies a TOML config file.
    public mutating func apply(fileAt path: String) throws(Problem) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Problem("\(path): cannot read the configuration file")
        }
        let table: DefinitionValue
        do { table = try DefinitionValue.parse(text) } catch {
            throw Problem("\(path):\(error.line): \(error.message)")
        }
        for key in table.keys.sorted() where !Self.keys.contains(key) {
            throw Problem("\(path): unknown key '\(key)' (known: \(Self.keys.sorted().joined(separator: ", ")))")
        }
        func string(_ key: String) throws(Problem) -> String? {
            guard let value = table[key] else { return nil }
            guard let text = value.string else { throw Problem("\(path): \(key) must be a string") }
            return text
        }
        func int(_ key: String) throws(Problem) -> Int? {
            guard let value = table[key] else { return nil }
            guard let number = value.int, number > 0 else {
                throw Problem("\(path): \(key) must be a positive integer")
            }
            return number
        }
        func duration(_ key: String) throws(Problem) -> Duration? {
            guard let text = try string(key) else { return nil }
            do { return try Duration(parsing: text) } catch { throw Problem("\(path): \(key): \(error)") }
        }
        if let v = try string("listen") { listen = v }
        if let v = try string("jobs_dir") { jobsDirectory = v }
        if let v = try string("data_dir") { dataDirectory = v }
        if let v = try string("database") { database = v }
        if let v = try string("timezone") { timezone = v }
        if let v = try int("max_concurrent_runs") { maxConcurrentRuns = v }
        if let v = try int("retention_per_job") { retentionPerJob = v }
        if let v = try duration("shutdown_grace") { shutdownGrace = v }
        if let v = try duration("retention_age") { retentionAge = v }
        if let v = try duration("reload_interval") { reloadInterval = v }
        if let v = try string("web_dir") { webDirectory = v }
        if let v = try string("public_url") { publicURL = v }
        if let v = try string("node_name") { nodeName = v }
        if let v = try duration("lease_ttl") { leaseTTL = v }
        do throws(Problem) {
            if let v = try string("log_format") { logFormat = try LogFormat(parsing: v) }
            if let v = try string("log_level") { logLevel = try Self.logLevel(parsing: v) }
        } catch { throw error.description.hasPrefix(path) ? error : Problem("\(path): \(error)") }
        func strings(_ key: String, example: String) throws(Problem) -> [String]? {
            guard let value = table[key] else { return nil }
            guard let items = value.array?.compactMap(\.string), items.count == value.array?.count else {
                throw Problem("\(path): \(key) must be an array of strings, e.g. [\"\(example)\"]")
            }
            return items
        }
        func bool(_ key: String) throws(Problem) -> Bool? {
            guard let value = table[key] else { return nil }
            guard let flag = value.bool else { throw Problem("\(path): \(key) must be true or false") }
            return flag
        }
        if let v = try strings("allowed_hosts", example: "cron.example.com") { allowedHosts = v }
        if let v = try string("auth") { auth = v }
        if let v = try strings("trusted_proxies", example: "127.0.0.1") { trustedProxies = v }
        if let v = try bool("api_jobs") { apiJobs = v }
        if let v = try strings("api_job_users", example: "www-data") { apiJobUsers = v }
        if let v = try bool("public_metrics") { publicMetrics = v }
        try applyNotifications(table, path: path)
    }

    /// Applies the `TOCK_*` environment variables.
    public mutating func apply(environment: [String: String]) {
        if let v = environment["TOCK_LISTEN"] { listen = v }
        if let v = environment["TOCK_DATABASE"] { database = v }
        if let v = environment["TOCK_JOBS_DIR"] { jobsDirectory = v }
        if let v = environment["TOCK_DATA_DIR"] { dataDirectory = v }
        if let v = environment["TOCK_WEB_DIR"] { webDirectory = v }
        if let v = environment["TOCK_NODE_NAME"] { nodeName = v }
        if let v = environment["TOCK_LOG_FORMAT"], let format = LogFormat(rawValue: v) { logFormat = format }
        if let v = environment["TOCK_LOG_LEVEL"], let level = Logger.Level(rawValue: v) { logLevel = level }
    }

    /// A log level by name, with a message naming the choices.
    public static func logLevel(parsing name: String) throws(Problem) -> Logger.Level {
        guard let level = Logger.Level(rawValue: name) else {
            throw Problem(
                "log_level: '\(name)' is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return level
    }

    /// Checks values that can be checked before starting.
    public func validate() throws(Problem) {
        if TimeZone(identifier: timezone) == nil { throw Problem("timezone: unknown time zone '\(timezone)'") }
        _ = try listenAddress()
        guard ["auto", "required", "off"].contains(auth) else {
            throw Problem("auth: '\(auth)' is not one of auto, required, off")
        }
        if auth == "off", let host = try? listenAddress().host, !Self.isLoopback(host: host), !insecureNoAuth {
            throw Problem(
                "auth: 'off' on a listener that is not loopback (\(listen)) needs --insecure-no-auth on the command line"
            )
        }
        for proxy in trustedProxies where AddressRange(proxy) == nil {
            throw Problem("trusted_proxies: '\(proxy)' is not an IP address or a CIDR block such as 10.0.0.0/8")
        }
        if let publicURL {
            guard let url = URL(string: publicURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw Problem("public_url: '\(publicURL)' is not an http:// or https:// URL")
            }
        }
    }

    /// Whether a listen host reaches only this machine.
    public static func isLoopback(host: String) -> Bool {
        let name = host.lowercased()
        if name == "localhost" || name == "::1" { return true }
        return AddressRange("127.0.0.0/8")!.contains(name)
    }

    /// `listen` as host and port (`[::1]:8888` for IPv6; port 0 picks a free port, logged at start).
    public func listenAddress() throws(Problem) -> (host: String, port: Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw Problem("listen: '\(listen)' is not HOST:PORT")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw Problem("listen: '\(listen)' has no host (write 0.0.0.0:PORT for all)") }
        return (host, port)
    }
}
