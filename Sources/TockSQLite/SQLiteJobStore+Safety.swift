import Foundation
import GRDB

extension SQLiteJobStore {
    /// A database written by a newer Tock: it has migrations this Tock does not know, so its tables may not be
    /// what this Tock reads and writes. It is refused instead of opened.
    public struct NewerDatabaseError: Error, CustomStringConvertible {
        public let path: String
        /// The migrations this Tock does not know.
        public let unknownMigrations: [String]

        public var description: String {
            "\(path) was written by a newer version of Tock (it has migrations this one does not know: "
                + unknownMigrations.joined(separator: "; ")
                + "); run that version or a later one, or restore a backup made by this version (tock restore)"
        }
    }

    /// Throws ``NewerDatabaseError`` when the database has applied migrations this Tock does not know.
    static func refuseNewerDatabase(_ reader: some DatabaseReader, path: String) throws {
        let applied = try reader.read { db in try migrator.appliedIdentifiers(db) }
        let unknown = applied.subtracting(migrator.migrations).sorted()
        if !unknown.isEmpty { throw NewerDatabaseError(path: path, unknownMigrations: unknown) }
    }

    /// Creates an empty file readable and writable by its owner only, unless something exists at `path` (an
    /// empty file is a valid empty SQLite database).
    static func createPrivateFile(_ path: String) {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        if fd >= 0 { close(fd) }
    }
}
