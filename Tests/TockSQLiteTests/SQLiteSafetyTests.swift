import Foundation
import GRDB
import Testing
import TockCore
import TockSQLite

/// What keeps the data safe: private files, a database from a newer Tock refused, online backups and restores.
struct SQLiteSafetyTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-safety-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    func record(_ job: String, _ n: Int) -> ExecutionRecord {
        ExecutionRecord(
            jobID: job, state: .succeeded, trigger: .manual, scheduledAt: Date(timeIntervalSince1970: Double(n)),
            host: "h")
    }

    @Test func newDatabase_isReadableByItsOwnerOnly() async throws {
        let path = directory + "/tock.sqlite"
        let store = try SQLiteJobStore(path: path)
        try await store.save(record("a", 1))
        #expect(try mode(path) == 0o600)
        #expect(try mode(path + "-wal") == 0o600)
        #expect(try mode(path + ".lock") == 0o600)
    }

    @Test func databaseOfANewerTock_isRefusedWithAMessage() throws {
        let path = directory + "/tock.sqlite"
        _ = try SQLiteJobStore(path: path)
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future')")
        }
        #expect {
            _ = try SQLiteJobStore(path: path)
        } throws: { error in
            let message = "\(error)"
            return error is SQLiteJobStore.NewerDatabaseError && message.contains("newer version of Tock")
                && message.contains("v99: from the future")
        }
        // Nothing was changed: the unknown migration is still there, nothing was dropped.
        let identifiers = try DatabaseQueue(path: path).read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
        }
        #expect(identifiers.contains("v99: from the future"))
    }

    @Test func backup_whileWritesGoOn_isConsistentAndOpens() async throws {
        let path = directory + "/tock.sqlite"
        let store = try SQLiteJobStore(path: path)
        try await store.save((0..<200).map { record("seed", $0) })
        // A writer saving batches while backups are taken. A batch is written synchronously on the calling thread:
        // the pause between batches leaves the cooperative pool to the other suites running meanwhile.
        let writer = Task {
            var n = 0
            while !Task.isCancelled {
                try await store.save((0..<20).map { record("burst", n * 20 + $0) })
                n += 1
                try? await Task.sleep(for: .milliseconds(3))
            }
            return n
        }
        var counts: [Int] = []
        for i in 0..<5 {
            let copy = directory + "/backup-\(i).sqlite"
            let summary = try SQLiteBackup.backup(from: path, to: copy)
            #expect(try mode(copy) == 0o600)
            #expect(!FileManager.default.fileExists(atPath: copy + "-wal"))
            let check = try await DatabaseQueue(path: copy).read { db in
                try String.fetchAll(db, sql: "PRAGMA integrity_check")
            }
            #expect(check == ["ok"])
            // Whole batches only: a snapshot never holds part of a transaction.
            let burst = summary.executions - 200
            #expect(burst >= 0 && burst % 20 == 0, "\(summary)")
            counts.append(summary.executions)
            try await Task.sleep(for: .milliseconds(20))
        }
        writer.cancel()
        #expect(try await writer.value > 0)
        #expect(counts == counts.sorted())

        // A backup opens as a store of its own.
        let restored = try SQLiteJobStore(path: directory + "/backup-4.sqlite")
        let page = try await restored.executions(matching: ExecutionQuery(jobID: "seed", limit: 1000))
        #expect(page.count == 200)

        // Never over an existing file.
        #expect(throws: SQLiteBackup.Failure.self) {
            try SQLiteBackup.backup(from: path, to: directory + "/backup-0.sqlite")
        }
    }

    @Test func restore_replacesTheDatabaseAndKeepsThePreviousOne() async throws {
        let path = directory + "/data/tock.sqlite"
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        do {
            let store = try SQLiteJobStore(path: path)
            try await store.save(record("before", 1))
        }
        try SQLiteBackup.backup(from: path, to: directory + "/saved.sqlite")
        do {
            let store = try SQLiteJobStore(path: path)
            try await store.save(record("after", 2))
        }
        let (summary, previous) = try SQLiteBackup.restore(from: directory + "/saved.sqlite", to: path)
        #expect(summary.executions == 1)
        let kept = try #require(previous)
        #expect(FileManager.default.fileExists(atPath: kept))
        #expect(try mode(path) == 0o600)
        let store = try SQLiteJobStore(path: path)
        #expect(try await store.executions(matching: ExecutionQuery(jobID: "before", limit: 10)).count == 1)
        #expect(try await store.executions(matching: ExecutionQuery(jobID: "after", limit: 10)).isEmpty)

        // A damaged backup is refused before anything is moved.
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: directory + "/junk.sqlite"))
        #expect(throws: (any Error).self) { try SQLiteBackup.restore(from: directory + "/junk.sqlite", to: path) }
        #expect(try await store.executions(matching: ExecutionQuery(jobID: "before", limit: 10)).count == 1)
    }
}
