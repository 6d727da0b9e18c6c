#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import TockCore

    /// An execution's output lives outside its row, in `execution_output`: one row per piece of at most
    /// ``PostgresJobStore/outputPieceSize`` bytes (1 MiB), keyed by execution, stream and the piece's byte position —
    /// the layout of the SQLite store (`SQLiteJobStore+Output.swift`), for the same reasons: a 64 MiB output is never
    /// one 64 MiB parameter (postgres-nio would encode it into a second buffer of that size), and the API's output
    /// endpoint reads only the pieces of the range it serves. The execution's own `stdout`/`stderr` columns (v1) stay,
    /// always empty. Pieces go with their execution (`ON DELETE CASCADE`).
    extension PostgresJobStore {
        public static let defaultOutputPieceSize = 1 << 20

        static let outputMigration = Migration(
            name: "v2: execution output in pieces, outside the execution row",
            statements: [
                """
                CREATE TABLE execution_output (
                    execution_id text NOT NULL REFERENCES execution (id) ON DELETE CASCADE,
                    stream text NOT NULL CHECK (stream IN ('stdout', 'stderr')),
                    position bigint NOT NULL,
                    bytes bytea NOT NULL,
                    PRIMARY KEY (execution_id, stream, position)
                )
                """,
                // Output written by v1 (in the row) becomes one piece per stream: readers find pieces by position,
                // whatever size they are.
                """
                INSERT INTO execution_output (execution_id, stream, position, bytes)
                SELECT id, 'stdout', 0, stdout FROM execution WHERE length(stdout) > 0
                UNION ALL SELECT id, 'stderr', 0, stderr FROM execution WHERE length(stderr) > 0
                """,
                "UPDATE execution SET stdout = '', stderr = '' WHERE length(stdout) > 0 OR length(stderr) > 0",
            ])

        /// Replaces the stored output of these executions with their own (none when both streams are empty).
        static func writeOutput(
            of executions: [ExecutionRecord], pieceSize: Int, _ connection: PostgresConnection, logger: Logger
        ) async throws {
            guard !executions.isEmpty else { return }
            try await connection.query(
                "DELETE FROM execution_output WHERE execution_id = ANY(\(executions.map(\.id))::text[])",
                logger: logger)
            for e in executions {
                for (stream, bytes) in [(OutputChunk.Stream.stdout, e.stdout), (.stderr, e.stderr)] {
                    var position = 0
                    while position < bytes.count {
                        let end = position + min(max(1, pieceSize), bytes.count - position)
                        let piece = ByteBuffer(bytes: bytes[position..<end])
                        try await connection.query(
                            """
                            INSERT INTO execution_output (execution_id, stream, position, bytes)
                            VALUES (\(e.id), \(stream.rawValue), \(position), \(piece))
                            """, logger: logger)
                        position = end
                    }
                }
            }
        }

        /// Fills in the output of each record (read without it), from its pieces.
        func attachOutput(_ records: inout [ExecutionRecord]) async throws {
            guard !records.isEmpty else { return }
            let index = Dictionary(
                records.indices.map { (records[$0].id, $0) }, uniquingKeysWith: { first, _ in first })
            let rows = try await run(
                """
                SELECT execution_id, stream, bytes FROM execution_output
                WHERE execution_id = ANY(\(Array(index.keys))::text[]) ORDER BY execution_id, stream, position
                """)
            for row in rows {
                let (id, stream, bytes) = try row.decode((String, String, ByteBuffer).self)
                guard let at = index[id] else { continue }
                if stream == OutputChunk.Stream.stderr.rawValue {
                    records[at].stderr.append(contentsOf: bytes.readableBytesView)
                } else {
                    records[at].stdout.append(contentsOf: bytes.readableBytesView)
                }
            }
        }

        public func output(ofExecution id: String, stream: OutputChunk.Stream, from offset: Int, limit: Int)
            async throws -> [UInt8]?
        {
            let start = max(0, offset)
            let (sum, overflow) = start.addingReportingOverflow(max(0, limit))
            let end = overflow ? Int.max : sum
            var bytes: [UInt8] = []
            if end > start {
                // The piece that holds `start` (the last one starting at or before it), and those after it up to `end`.
                let rows = try await run(
                    """
                    SELECT position, bytes FROM execution_output
                    WHERE execution_id = \(id) AND stream = \(stream.rawValue) AND position < \(end) AND position >= (
                        SELECT COALESCE(MAX(position), 0) FROM execution_output
                        WHERE execution_id = \(id) AND stream = \(stream.rawValue) AND position <= \(start))
                    ORDER BY position
                    """)
                for row in rows {
                    let (position, data) = try row.decode((Int, ByteBuffer).self)
                    let view = data.readableBytesView
                    let low = max(start, position) - position
                    let high = min(end - position, view.count)
                    guard low < high else { continue }
                    bytes.append(contentsOf: view[(view.startIndex + low)..<(view.startIndex + high)])
                }
            }
            guard bytes.isEmpty else { return bytes }
            return try await run("SELECT 1 FROM execution WHERE id = \(id)").isEmpty ? nil : []
        }
    }
#endif
