import Foundation
import Testing
import TockCore
import TockSQLite
import TockTesting

/// The shared store contract against a real SQLite file, plus what only a file can show.
struct SQLiteJobStoreTests {
    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tock-\(UUID()).sqlite").path
    }

    @Test(arguments: JobStoreContract.checks.map(\.0))
    func contract(_ name: String) async throws {
        let path = Self.temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let check = try #require(JobStoreContract.checks.first { $0.0 == name }?.1)
        try await check(try SQLiteJobStore(path: path))
    }

    @Test func reopeningTheFile_keepsEverything_andMigratesOnce() async throws {
        let path = Self.temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let record = ExecutionRecord(
            jobID: "a", state: .succeeded, trigger: .manual, scheduledAt: Date(timeIntervalSince1970: 10), host: "h")
        do {
            let store = try SQLiteJobStore(path: path)
            try await store.save(record)
            try await store.setPaused(true, jobID: "a")
        }
        let reopened = try SQLiteJobStore(path: path)
        #expect(try await reopened.execution(id: record.id) == record)
        #expect(try await reopened.state(ofJob: "a").paused)
    }

    @Test func inMemoryFake_passesTheSameContract() async throws {
        for (_, check) in JobStoreContract.checks { try await check(InMemoryJobStore()) }
    }
}
