import Foundation
import GRDB
import Testing
import TockCore
import TockTesting

@testable import TockSQLite

/// The log is copied into the database file by the store's checkpointer, not by the writer's commits.
@Suite struct SQLiteCheckpointTests {
    func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? -1
    }

    @Test func theLogReachesTheFile_withinSeconds_withoutTheWritersCheckpoint() async throws {
        let path = SQLiteJobStoreTests.temporaryPath()
        defer {
            for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let store = try SQLiteJobStore(path: path)
        let backstop = try await store.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA wal_autocheckpoint") }
        #expect(backstop == WALCheckpointer.backstopPages, "the writer checkpoints only past the backstop")
        try await Task.sleep(for: .milliseconds(1500))
        let before = fileSize(path)
        // ~1,000 pages: below the writer's backstop, so only the checkpointer can move them into the file.
        let records = (0..<2_000).map { n in
            ExecutionRecord(
                jobID: "job-\(n % 50)", state: .succeeded, trigger: .schedule,
                scheduledAt: Date(timeIntervalSince1970: 1_767_225_600 + Double(n)), host: "h")
        }
        for chunk in stride(from: 0, to: records.count, by: 200) {
            try await store.save(Array(records[chunk..<chunk + 200]))
        }
        #expect(fileSize(path + "-wal") > 0)
        try await eventually("the checkpointer copied the log into the file", timeout: .seconds(10)) {
            fileSize(path) > before
        }
    }
}
