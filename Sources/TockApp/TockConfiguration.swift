import CronKit
import Foundation
import TockCore

/// Everything `tock serve` needs, from (lowest to highest precedence) defaults, a TOML config file, environment
/// variables (`TOCK_LISTEN`, `TOCK_DATABASE`, `TOCK_JOBS_DIR`, `TOCK_DATA_DIR`) and flags.
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
    /// The web UI's files, served at `/` (replace them to serve a UI of your own); `nil`: `./web` if it exists,
    /// else `share/tock/web` beside the executable's directory.
    public var webDirectory: String?
    /// Host names the server answers to besides loopback names, IP literals and this machine's name (`"*"`: any).
    public var allowedHosts: [String] = []
    /// The address users reach the server at behind a reverse proxy (`https://cron.example.com`).
    public var publicURL: String?
    /// `[notifications]` and `[notifier.NAME]`: where notifications go (secrets only here, never in the store).
    public var notifications = NotificationSettings()

    public init() {}

    /// The web UI directory in use, or `nil` when there is none (the API is served anyway).
    public var resolvedWebDirectory: String? {
        if let webDirectory { return webDirectory }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let installed = executable.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("share/tock/web").path
        for candidate in ["./web", installed] where FileManager.default.fileExists(atPath: candidate + "/index.html") {
            return candidate
        }
        return nil
    }

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
        if let value = table["allowed_hosts"] {
            guard let items = value.array?.compactMap(\.string), items.count == value.array?.count else {
                throw Problem("\(path): allowed_hosts must be an array of host names, e.g. [\"cron.example.com\"]")
            }
            allowedHosts = items
        }
        try applyNotifications(table, path: path)
    }

    /// Applies the `TOCK_*` environment variables.
    public mutating func apply(environment: [String: String]) {
        if let v = environment["TOCK_LISTEN"] { listen = v }
        if let v = environment["TOCK_DATABASE"] { database = v }
        if let v = environment["TOCK_JOBS_DIR"] { jobsDirectory = v }
        if let v = environment["TOCK_DATA_DIR"] { dataDirectory = v }
        if let v = environment["TOCK_WEB_DIR"] { webDirectory = v }
    }

    /// Checks values that can be checked before starting.
    public func validate() throws(Problem) {
        if TimeZone(identifier: timezone) == nil { throw Problem("timezone: unknown time zone '\(timezone)'") }
        _ = try listenAddress()
        if let publicURL {
            guard let url = URL(string: publicURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw Problem("public_url: '\(publicURL)' is not an http:// or https:// URL")
            }
        }
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
