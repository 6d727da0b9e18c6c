import Foundation
import GRDB
import TockCore

/// An execution's output lives outside its row, in `execution_output`: one row per piece of at most
/// ``SQLiteJobStore/outputPieceSize`` bytes (1 MiB), keyed by execution, stream and the piece's byte position.
///
/// Why: SQLite builds a whole row in one buffer before inserting it (OP_MakeRecord), so a 64 MiB output in the
/// execution's row cost a second 64 MiB at the moment it was written (the daemon peaked at 2.05× `max_output`).
/// Written piece by piece, the extra cost is one piece; read piece by piece, the API's output endpoint never holds
/// more than one either. The execution's own `stdout`/`stderr` columns (migration v1) stay, always empty.
///
/// Positions, not piece numbers, are stored: a reader finds the pieces of any byte range whatever piece size the
/// writer used (the migration's and a store's may differ).
extension SQLiteJobStore {
    static let outputMigrationName = "v4: execution output in pieces, outside the execution row"

    /// Creates `execution_output` and moves every stored output into it (each row's columns are emptied).
    static func migrateOutputToPieces(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE execution_output (
                    execution_id TEXT NOT NULL,
                    stream TEXT NOT NULL CHECK (stream IN ('stdout', 'stderr')),
                    position INTEGER NOT NULL,
                    bytes BLOB NOT NULL,
                    PRIMARY KEY (execution_id, stream, position)
                ) STRICT;
                """)
        let rows = try Row.fetchCursor(
            db, sql: "SELECT id, stdout, stderr FROM execution WHERE length(stdout) > 0 OR length(stderr) > 0")
        while let row = try rows.next() {
            let id: String = try row.decode(atIndex: 0)
            for (index, stream) in [(1, OutputChunk.Stream.stdout), (2, .stderr)] {
                try row.withUnsafeData(atIndex: index) { data in
                    try data?.withUnsafeBytes { bytes in
                        try insertPieces(id: id, stream: stream, bytes, pieceSize: defaultOutputPieceSize, db)
                    }
                }
            }
        }
        try db.execute(
            sql: "UPDATE execution SET stdout = x'', stderr = x'' WHERE length(stdout) > 0 OR length(stderr) > 0")
    }

    public static let defaultOutputPieceSize = 1 << 20

    /// Replaces the stored output of `execution` with its own (none when both streams are empty).
    static func writeOutput(of execution: ExecutionRecord, pieceSize: Int, _ db: Database) throws {
        try db.cachedStatement(sql: "DELETE FROM execution_output WHERE execution_id = ?").execute(arguments: [
            execution.id
        ])
        try execution.stdout.withUnsafeBytes { bytes in
            try insertPieces(id: execution.id, stream: .stdout, bytes, pieceSize: pieceSize, db)
        }
        try execution.stderr.withUnsafeBytes { bytes in
            try insertPieces(id: execution.id, stream: .stderr, bytes, pieceSize: pieceSize, db)
        }
    }

    /// One row per `pieceSize` bytes (the last one shorter), each bound without a copy of its own.
    private static func insertPieces(
        id: String, stream: OutputChunk.Stream, _ bytes: UnsafeRawBufferPointer, pieceSize: Int, _ db: Database
    ) throws {
        guard !bytes.isEmpty else { return }
        let statement = try db.cachedStatement(
            sql: "INSERT INTO execution_output (execution_id, stream, position, bytes) VALUES (?, ?, ?, ?)")
        var position = 0
        while position < bytes.count {
            let end = position + min(max(1, pieceSize), bytes.count - position)
            try statement.execute(arguments: [
                id, stream.rawValue, position, borrowed(UnsafeRawBufferPointer(rebasing: bytes[position..<end])),
            ])
            position = end
        }
    }

    /// Fills in the output of each record (read without it), piece by piece.
    static func attachOutput(_ records: inout [ExecutionRecord], _ db: Database) throws {
        let statement = try db.cachedStatement(
            sql: "SELECT stream, bytes FROM execution_output WHERE execution_id = ? ORDER BY stream, position")
        for index in records.indices {
            let rows = try Row.fetchCursor(statement, arguments: [records[index].id])
            while let row = try rows.next() {
                let stream: String = try row.decode(atIndex: 0)
                try row.withUnsafeData(atIndex: 1) { data in
                    guard let data else { return }
                    if stream == OutputChunk.Stream.stderr.rawValue {
                        records[index].stderr.append(contentsOf: data)
                    } else {
                        records[index].stdout.append(contentsOf: data)
                    }
                }
            }
        }
    }

    /// Bytes `offset..<offset + limit` of a stream's stored output, read from the pieces that hold them only.
    static func readOutput(
        _ db: Database, id: String, stream: OutputChunk.Stream, from offset: Int, limit: Int
    ) throws -> [UInt8]? {
        let start = max(0, offset)
        let (sum, overflow) = start.addingReportingOverflow(max(0, limit))
        let end = overflow ? Int.max : sum
        var bytes: [UInt8] = []
        if end > start {
            // The piece that holds `start` (the last one starting at or before it), and those after it up to `end`.
            let statement = try db.cachedStatement(
                sql: """
                    SELECT position, bytes FROM execution_output
                    WHERE execution_id = ?1 AND stream = ?2 AND position < ?4 AND position >= (
                        SELECT COALESCE(MAX(position), 0) FROM execution_output
                        WHERE execution_id = ?1 AND stream = ?2 AND position <= ?3)
                    ORDER BY position
                    """)
            let rows = try Row.fetchCursor(statement, arguments: [id, stream.rawValue, start, end])
            while let row = try rows.next() {
                let position: Int = try row.decode(atIndex: 0)
                try row.withUnsafeData(atIndex: 1) { data in
                    guard let data else { return }
                    let low = max(start, position) - position
                    let high = min(end - position, data.count)
                    guard low < high else { return }
                    if bytes.isEmpty { bytes.reserveCapacity(min(end - start, data.count * 2)) }
                    data.withUnsafeBytes { bytes.append(contentsOf: $0[low..<high]) }
                }
            }
        }
        guard bytes.isEmpty else { return bytes }
        let exists = try Bool.fetchOne(db, sql: "SELECT 1 FROM execution WHERE id = ?", arguments: [id]) ?? false
        return exists ? [] : nil
    }

    /// `Data` over bytes it does not own, valid only inside the `withUnsafeBytes` that lent them.
    static func borrowed(_ bytes: UnsafeRawBufferPointer) -> Data {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return Data() }
        return Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: bytes.count, deallocator: .none)
    }
}
