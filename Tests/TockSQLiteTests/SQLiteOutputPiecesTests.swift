import Foundation
import GRDB
import Testing
import TockCore
import TockTesting

@testable import TockSQLite

/// Output in `execution_output`, outside the execution's row: the pieces themselves, as rows.
struct SQLiteOutputPiecesTests {
    /// A store on a new file, removed after `body`.
    func withStore(pieceSize: Int, _ body: (SQLiteJobStore, String) async throws -> Void) async throws {
        let path = SQLiteJobStoreTests.temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        try await body(try SQLiteJobStore(path: path, outputPieceSize: pieceSize), path)
    }

    /// The pieces of an execution as `stream position length`, in order.
    func pieces(_ path: String, _ id: String) throws -> [String] {
        try DatabaseQueue(path: path).read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT stream, position, length(bytes) AS length FROM execution_output WHERE execution_id = ?
                    ORDER BY stream, position
                    """, arguments: [id]
            ).map { row in "\(row["stream"] as String) \(row["position"] as Int) \(row["length"] as Int)" }
        }
    }

    static func record(_ minutes: Int, stdout: Int = 0, stderr: Int = 0) -> ExecutionRecord {
        var e = ExecutionRecord(
            jobID: "j", state: .succeeded, trigger: .schedule,
            scheduledAt: Date(timeIntervalSince1970: 1_767_225_600 + Double(minutes) * 60), host: "h")
        e.stdout = (0..<stdout).map { UInt8(truncatingIfNeeded: $0) }
        e.stderr = (0..<stderr).map { UInt8(truncatingIfNeeded: 200 &+ $0) }
        return e
    }

    @Test(arguments: [1, 7, 64])
    func contract_withSmallPieces(_ pieceSize: Int) async throws {
        try await withStore(pieceSize: pieceSize) { store, _ in
            try await JobStoreContract.readsOutputAcrossPieceBoundaries(store, pieceSize: pieceSize)
        }
    }

    @Test func output_isRowsOfThePieceSize_andNotInTheExecutionRow() async throws {
        try await withStore(pieceSize: 7) { store, path in
            let e = Self.record(1, stdout: 20, stderr: 7)
            let empty = Self.record(2)
            try await store.save([e, empty])
            #expect(try pieces(path, e.id) == ["stderr 0 7", "stdout 0 7", "stdout 7 7", "stdout 14 6"])
            #expect(try pieces(path, empty.id).isEmpty)
            let inRow = try await DatabaseQueue(path: path).read { db in
                try Int.fetchOne(db, sql: "SELECT SUM(length(stdout) + length(stderr)) FROM execution")
            }
            #expect(inRow == 0)
            #expect(try await store.execution(id: e.id) == e)
        }
    }

    @Test func savingAgain_replacesEveryPiece() async throws {
        try await withStore(pieceSize: 4) { store, path in
            var e = Self.record(1, stdout: 13, stderr: 9)
            try await store.save(e)
            e.stdout = Array(e.stdout.prefix(5))
            e.stderr = []
            try await store.save(e)
            #expect(try pieces(path, e.id) == ["stdout 0 4", "stdout 4 1"])
            e.stdout = []
            try await store.save([e])
            #expect(try pieces(path, e.id).isEmpty)
        }
    }

    @Test func pruning_deletesThePiecesOfWhatItDeletes() async throws {
        try await withStore(pieceSize: 3) { store, path in
            let old = Self.record(-100, stdout: 10, stderr: 4)
            let kept = Self.record(0, stdout: 8, stderr: 1)
            try await store.save([old, kept])
            #expect(try await store.prune(keepPerJob: 5, olderThan: Date(timeIntervalSince1970: 1_767_225_600)) == 1)
            #expect(try pieces(path, old.id).isEmpty)
            #expect(try pieces(path, kept.id).count == 4)
            let total = try await DatabaseQueue(path: path).read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM execution_output")
            }
            #expect(total == 4)
        }
    }

    /// A file written before the pieces (output in the execution's row) is migrated: every byte moves to pieces of
    /// the default size, the rows' columns are emptied.
    @Test func migration_movesOutputOutOfTheRows() async throws {
        let path = SQLiteJobStoreTests.temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let size = SQLiteJobStore.defaultOutputPieceSize
        let big = Self.record(1, stdout: 2 * size + size / 2, stderr: 3)
        let small = Self.record(2, stdout: 5)
        let none = Self.record(3)
        do {
            let queue = try DatabaseQueue(path: path)
            try SQLiteJobStore.migrator.migrate(queue, upTo: "v2: execution indexes for pages by time, job and state")
            try await queue.write { db in
                for e in [big, small, none] {
                    try db.execute(
                        sql: """
                            INSERT INTO execution (id, job_id, state, trigger, scheduled_at, host, attempt, stdout,
                            stderr, stdout_bytes, stderr_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            e.id, e.jobID, e.state.rawValue, e.trigger.rawValue, e.scheduledAt.timeIntervalSince1970,
                            e.host, e.attempt, Data(e.stdout), Data(e.stderr), e.stdoutBytes, e.stderrBytes,
                        ])
                }
            }
        }
        let store = try SQLiteJobStore(path: path)
        for e in [big, small, none] { #expect(try await store.execution(id: e.id) == e) }
        #expect(
            try pieces(path, big.id) == [
                "stderr 0 3", "stdout 0 \(size)", "stdout \(size) \(size)", "stdout \(2 * size) \(size / 2)",
            ])
        #expect(try pieces(path, small.id) == ["stdout 0 5"])
        #expect(try pieces(path, none.id).isEmpty)
        let inRow = try await DatabaseQueue(path: path).read { db in
            try Int.fetchOne(db, sql: "SELECT SUM(length(stdout) + length(stderr)) FROM execution")
        }
        #expect(inRow == 0)
    }
}
