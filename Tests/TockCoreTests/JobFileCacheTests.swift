import Foundation
import Testing
import TockCore

/// A reload of jobs.d reads only the files that changed (issue 18), and a file changed within the second it was
/// read is read again however its times look.
@Suite struct JobFileCacheTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-jobfiles-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String, age: TimeInterval = 3600) throws {
        let path = (directory as NSString).appendingPathComponent(name)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        if age > 0 {
            try FileManager.default.setAttributes(
                [.modificationDate: Date().addingTimeInterval(-age)], ofItemAtPath: path)
        }
    }

    static func job(_ id: String, _ command: String = "true") -> String {
        "[job.\(id)]\nschedule = \"@daily\"\ncommand = \"\(command)\"\n"
    }

    @Test func reload_readsOnlyChangedFiles_andGivesWhatAFullLoadGives() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for n in 0..<5 { try write("f\(n).toml", Self.job("j\(n)")) }
        let cache = JobFileCache()
        let first = JobDirectory.load(directory, cache: cache)
        #expect(first.filesRead == 5 && first.jobs.count == 5)
        #expect(cache.isUnchanged(directory: directory) && cache.jobCount == 5)
        let again = JobDirectory.load(directory, cache: cache)
        #expect(again.filesRead == 0 && again.jobs == first.jobs)

        // One file changed (same size, an hour-old time set back on it: the inode's change time still moves).
        try write("f2.toml", Self.job("j2", "echo"))
        #expect(!cache.isUnchanged(directory: directory))
        let changed = JobDirectory.load(directory, cache: cache)
        #expect(changed.filesRead == 1)
        #expect(changed.jobs == JobDirectory.load(directory).jobs)
        #expect(changed.job("j2").map { "\($0.action)" }?.contains("echo") == true)

        // Modified just now: read again at each load until it is a second old (times are coarse).
        try write("f3.toml", Self.job("j3", "date"), age: 0)
        #expect(JobDirectory.load(directory, cache: cache).filesRead == 1)
        #expect(JobDirectory.load(directory, cache: cache).filesRead == 1)
        #expect(!cache.isUnchanged(directory: directory))

        // A new file, a removed one.
        try write("f5.toml", Self.job("j5"))
        try FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent("f0.toml"))
        let moved = JobDirectory.load(directory, cache: cache)
        #expect(moved.jobs.map(\.id).sorted() == ["j1", "j2", "j3", "j4", "j5"])
        #expect(moved.filesRead == 2, "f5, and f3 (still recent)")
    }

    @Test func filesWithErrors_orDuplicates_areNeverTakenAsUnchanged() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try write("a.toml", Self.job("same"))
        try write("b.toml", Self.job("same"))
        let cache = JobFileCache()
        let loaded = JobDirectory.load(directory, cache: cache)
        #expect(loaded.errors.count == 1 && loaded.jobs.count == 1)
        #expect(!cache.isUnchanged(directory: directory), "its errors are reported again at each reload")
        try write("b.toml", Self.job("other"))
        let fixed = JobDirectory.load(directory, cache: cache)
        #expect(fixed.errors.isEmpty && fixed.jobs.map(\.id) == ["same", "other"])
        #expect(cache.isUnchanged(directory: directory))
    }

    @Test func pastMaxJobs_onlySignaturesAreKept() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for n in 0..<3 { try write("f\(n).toml", Self.job("j\(n)")) }
        let cache = JobFileCache(maxJobs: 2)
        #expect(JobDirectory.load(directory, cache: cache).filesRead == 3)
        #expect(cache.isUnchanged(directory: directory), "no change is still known")
        #expect(JobDirectory.load(directory, cache: cache).filesRead == 3, "but the jobs are read again")
        // Given the jobs the last load gave (the scheduler's), only a changed file is read.
        let current = Dictionary(grouping: JobDirectory.load(directory).jobs) { job -> String in
            if case .file(let path, _) = job.source { return path }
            return ""
        }
        try write("f1.toml", Self.job("j1", "echo"))
        let reloaded = JobDirectory.load(directory, cache: cache, current: current)
        #expect(reloaded.filesRead == 1)
        #expect(reloaded.jobs == JobDirectory.load(directory).jobs)
    }
}
