import Foundation
import GRDB

/// Reads a Tock SQLite database table by table, in batches by `rowid`, for `tock migrate-store`: values as stored,
/// no model in between (hashes, definitions and output are copied exactly).
public final class SQLiteExport: Sendable {
    /// A stored value.
    public enum Value: Sendable, Hashable {
        case null
        case integer(Int64)
        case real(Double)
        case text(String)
        case blob([UInt8])
    }

    /// A row: its `rowid` (the cursor of the next batch) and the values of the columns asked for, in order.
    public struct Row: Sendable {
        public let rowid: Int64
        public let values: [Value]
    }

    let queue: DatabaseQueue
    public let path: String

    /// Opens `path` for reading, after bringing it to this Tock's schema (as `tock serve` would on start).
    /// - Throws: when it is open in another process (a daemon: stop it first), missing, or from a newer Tock.
    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw SQLiteBackup.Failure("\(path): no such file")
        }
        if let pid = SQLiteBackup.processUsing(path) {
            throw SQLiteBackup.Failure(
                "\(path) is open in process \(pid) (a running tock serve?); stop it first, so that nothing changes "
                    + "while it is copied")
        }
        _ = try SQLiteJobStore(path: path)
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        queue = try DatabaseQueue(path: path, configuration: configuration)
        self.path = path
    }

    /// Up to `limit` rows of `table` after `rowid`, in `rowid` order, with `columns` (names or SQL expressions).
    public func rows(of table: String, columns: [String], after rowid: Int64, limit: Int) throws -> [Row] {
        try queue.read { db in
            let statement = try db.cachedStatement(
                sql:
                    "SELECT rowid, \(columns.joined(separator: ", ")) FROM \(table) WHERE rowid > ? ORDER BY rowid LIMIT ?"
            )
            return try GRDB.Row.fetchAll(statement, arguments: [rowid, limit]).map { row in
                Row(
                    rowid: row[0],
                    values: (1...columns.count).map { index in
                        let value: DatabaseValue = row[index]
                        switch value.storage {
                        case .int64(let number): return .integer(number)
                        case .double(let number): return .real(number)
                        case .string(let text): return .text(text)
                        case .blob(let data): return .blob([UInt8](data))
                        case .null: return .null
                        }
                    })
            }
        }
    }

    /// How many rows `table` holds.
    public func count(of table: String) throws -> Int {
        try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0 }
    }
}
