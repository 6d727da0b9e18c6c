import Foundation
import Logging
import TockSQLite

/// `tock backup` and `tock restore` for the store a configuration names (SQLite only: a PostgreSQL database is
/// backed up with its own tools).
public enum DatabaseBackup {
    /// The SQLite file of the configuration's database.
    public static func sqlitePath(_ configuration: TockConfiguration) throws(TockConfiguration.Problem) -> String {
        let url = configuration.databaseURL
        guard url.hasPrefix("sqlite:") else {
            throw TockConfiguration.Problem(
                "database: '\(url)' is not sqlite:PATH; back up PostgreSQL with its own tools (pg_dump)")
        }
        return String(url.dropFirst("sqlite:".count))
    }

    /// A consistent copy of the database, made while the daemon runs, as the new file `destination`.
    /// - Returns: a line saying what was copied.
    public static func backup(_ configuration: TockConfiguration, to destination: String) throws -> String {
        let source = try sqlitePath(configuration)
        let summary = try SQLiteBackup.backup(from: source, to: destination)
        return "backed up \(source) to \(destination): \(summary)"
    }

    /// Replaces the database with the backup `file` (the daemon must be stopped); the current database is kept
    /// beside it. - Returns: lines saying what was done.
    public static func restore(_ configuration: TockConfiguration, from file: String) throws -> [String] {
        let database = try sqlitePath(configuration)
        let directory = (database as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let (summary, previous) = try SQLiteBackup.restore(from: file, to: database)
        return [
            "restored \(database) from \(file): \(summary)",
            previous.map { "the previous database is kept as \($0)" } ?? "there was no previous database",
        ]
    }
}

extension TockApplication {
    /// Logs a warning when a data directory made before (or by hand) lets group or others in.
    static func warnIfOthersCanRead(_ directory: String, logger: Logger) {
        var status = stat()
        guard stat(directory, &status) == 0, status.st_mode & 0o077 != 0 else { return }
        logger.warning(
            "the data directory can be read by other users; it holds job output and environment values (chmod 700)",
            metadata: ["path": "\(directory)", "mode": "\(String(status.st_mode & 0o777, radix: 8))"])
    }
}
