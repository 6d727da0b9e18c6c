import Foundation

/// A `postgres://` (or `postgresql://`) database URL, read by Tock itself (postgres-nio has no URL parser).
///
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require&host=/socket/dir]`. User,
/// password and database are percent-decoded; the port defaults to 5432, the database to the user's name (as
/// libpq does). A `host` query parameter that is a directory means a Unix socket in it (`.s.PGSQL.PORT`).
///
/// Compiled with or without the `Postgres` trait, so that a build without it can still say what it cannot open.
public struct PostgresDatabaseURL: Sendable, Hashable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, Hashable {
        case disable, prefer, require
    }

    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode
    /// A Unix socket's path, when the URL names a socket directory.
    public var unixSocketPath: String?

    /// The URL with its password hidden, for logs.
    public var description: String {
        "postgres://\(user)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)"
    }

    /// A URL Tock cannot read, with what is wrong.
    public struct Problem: Error, CustomStringConvertible, Equatable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Whether `text` is meant as a PostgreSQL URL (whether or not it is a valid one).
    public static func isPostgres(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    public init(parsing text: String) throws(Problem) {
        guard Self.isPostgres(text), let components = URLComponents(string: text) else {
            throw Problem("'\(Self.redacted(text))' is not a postgres://USER@HOST:PORT/DATABASE URL")
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let socketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        guard let user = components.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw Problem("'\(Self.redacted(text))' names no user (postgres://USER@HOST/DATABASE)")
        }
        let host = components.host ?? ""
        guard !host.isEmpty || socketDirectory != nil else {
            throw Problem("'\(Self.redacted(text))' names no host")
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw Problem("port \(port) is out of range") }
        let path = components.percentEncodedPath.removingPercentEncoding ?? ""
        let database = path.hasPrefix("/") ? String(path.dropFirst()) : path
        guard !database.contains("/") else { throw Problem("'\(database)' is not a database name") }
        let mode = query["sslmode"] ?? "prefer"
        let tls: TLSMode
        switch mode {
        case "disable": tls = .disable
        case "allow", "prefer": tls = .prefer
        case "require", "verify-ca", "verify-full": tls = .require
        default: throw Problem("sslmode '\(mode)' is not one of disable, prefer, require")
        }
        for name in query.keys where !["sslmode", "host", "application_name"].contains(name) {
            throw Problem("unknown URL parameter '\(name)' (known: sslmode, host)")
        }
        self.user = user
        self.password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        self.host = host.isEmpty ? "localhost" : host
        self.port = port
        self.database = database.isEmpty ? user : database
        self.tls = tls
        self.unixSocketPath = socketDirectory.map { ($0 as NSString).appendingPathComponent(".s.PGSQL.\(port)") }
    }

    /// The URL with any password replaced, for error messages.
    static func redacted(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@"), let scheme = text.range(of: "://"),
            let colon = text[scheme.upperBound..<at].firstIndex(of: ":")
        else { return text }
        return String(text[..<text.index(after: colon)]) + "***" + String(text[at...])
    }
}
