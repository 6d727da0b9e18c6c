import CronKit
import Foundation
import Testing

@testable import TockCore

/// The data directory's cache of parsed job definitions (issue 18): a start with unchanged files decodes them and
/// gives exactly what parsing gives; a changed file is parsed, a file with errors always is, a damaged cache or
/// one of another kind is ignored.
@Suite struct JobDefinitionCacheTests {
    let directory: String
    let data: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("tock-defcache-\(UUID())").path
        directory = base + "/jobs.d"
        data = base + "/data"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent) }

    func write(_ name: String, _ text: String, age: TimeInterval = 3600) throws {
        let path = (directory as NSString).appendingPathComponent(name)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        if age > 0 {
            try FileManager.default.setAttributes(
                [.modificationDate: Date().addingTimeInterval(-age)], ofItemAtPath: path)
        }
    }

    static let rich = """
        [job.full]
        name = "Nightly dump"
        description = "dumps the database"
        schedule = "30 2 * * MON-FRI"
        timezone = "Europe/Paris"
        command = "pg_dump db > /tmp/x"
        shell = "/bin/bash"
        working_dir = "/srv"
        env = { A = "1", PATH = "/usr/bin:/bin" }
        inherit_env = false
        user = "postgres"
        stdin = "line one\\nline two"
        timeout = "90m"
        kill_grace = "1500ms"
        retries = 3
        retry_delay = "30s"
        retry_max_delay = "1h"
        overlap = "queue"
        catchup = "all"
        catchup_window = "2d"
        jitter = "5m"
        max_output = "64KiB"
        enabled = false
        tags = ["nightly", "db"]
        mail_to = "ops@example.com"
        on_failure = { webhook = "https://example.com/hook" }
        on_success = { command = "logger ok" }
        on_recovery = { notify = ["ops-slack", "pager"], mail = "dba@example.com" }
        on_alert = { notify = ["pager"] }
        alert_after_failures = 3
        warn_after = "45m"
        start_grace = "10m"
        max_age = "26h"
        alert_on_missed = false

        [job.exec]
        schedule = "@every 90s"
        exec = ["/bin/echo", "a b"]
        overlap = "replace"

        [job.boot]
        schedule = "@reboot"
        command = "true"

        [job.first-monday]
        schedule = "0 9 1-7 * 1"
        cron_days = "both"
        exec = ["/bin/true"]

        [job.after]
        schedule = "@hourly"
        after = ["exec", "missing-upstream"]
        after_window = "2h"
        after_wait = "5m"
        command = "echo downstream"
        """

    func files() throws {
        try write("a.toml", Self.rich)
        try write("b.toml", "[job.b1]\nschedule = \"@daily\"\ncommand = \"true\"\ntags = [\"x\"]\n")
        // Errors: never cached, reported again at every start.
        try write("c.toml", "[job.c1]\nschedule = \"61 * * * *\"\ncommand = \"true\"\n")
        // A duplicate id (of a.toml's): an error found across files.
        try write("d.toml", "[job.exec]\nschedule = \"@daily\"\ncommand = \"true\"\n")
    }

    func same(_ a: JobDirectory, _ b: JobDirectory) {
        #expect(a.jobs == b.jobs)
        #expect(a.errors == b.errors)
        #expect(a.warnings == b.warnings)
        #expect(a.files == b.files)
    }

    @Test func cachedStart_givesWhatAParsedStartGives() throws {
        defer { cleanUp() }
        try files()
        let parsed = JobDirectory.load(directory)
        #expect(parsed.jobs.count == 6 && !parsed.errors.isEmpty && !parsed.warnings.isEmpty)
        let definitions = JobDefinitionCacheFile(dataDirectory: data)
        let first = JobDirectory.load(directory, cache: JobFileCache(), definitions: definitions)
        JobDefinitionCacheFile.waitForWrites()
        #expect(first.filesRead == 4)
        same(first, parsed)
        let cached = JobDirectory.load(directory, cache: JobFileCache(), definitions: definitions)
        #expect(cached.filesRead == 1, "only c.toml, which has errors")
        same(cached, parsed)

        // A changed file is parsed again; the others still come from the cache (rewritten after that start).
        try write("b.toml", "[job.b1]\nschedule = \"@hourly\"\ncommand = \"date\"\n")
        let changed = JobDirectory.load(directory, cache: JobFileCache(), definitions: definitions)
        #expect(changed.filesRead == 2)
        same(changed, JobDirectory.load(directory))
        #expect(changed.job("b1")?.schedule == "@hourly")
        JobDefinitionCacheFile.waitForWrites()
        #expect(JobDirectory.load(directory, cache: JobFileCache(), definitions: definitions).filesRead == 1)

        // A removed file's jobs are gone; a file modified just now is not trusted to the cache.
        try FileManager.default.removeItem(atPath: directory + "/b.toml")
        try write("e.toml", "[job.e1]\nschedule = \"@daily\"\ncommand = \"true\"\n", age: 0)
        let moved = JobDirectory.load(directory, cache: JobFileCache(), definitions: definitions)
        same(moved, JobDirectory.load(directory))
        JobDefinitionCacheFile.waitForWrites()
        let after = JobDirectory.load(directory, cache: JobFileCache(), definitions: definitions)
        #expect(after.filesRead == 2, "c.toml, and e.toml (modified within the second it was read)")
        same(after, JobDirectory.load(directory))
    }

    @Test func damagedOrForeignCache_isIgnored() throws {
        defer { cleanUp() }
        try files()
        let parsed = JobDirectory.load(directory)
        let definitions = JobDefinitionCacheFile(dataDirectory: data)
        _ = JobDirectory.load(directory, cache: JobFileCache(), definitions: definitions)
        JobDefinitionCacheFile.waitForWrites()
        let good = try Data(contentsOf: URL(fileURLWithPath: definitions.path))

        // A byte changed in the middle, the file cut short, garbage, empty: every file parsed.
        var flipped = good
        flipped[flipped.count / 2] ^= 0x5A
        for bad in [flipped, good.prefix(good.count - 3), Data("TOCKJDC1 garbage garbage".utf8), Data()] {
            try bad.write(to: URL(fileURLWithPath: definitions.path))
            let loaded = JobDirectory.load(directory, cache: JobFileCache(), definitions: definitions)
            // (That load wrote a good cache again.)
            JobDefinitionCacheFile.waitForWrites()
            #expect(loaded.filesRead == 4)
            same(loaded, parsed)
        }
        // Written for other kinds, or for another jobs.d path: ignored.
        try good.write(to: URL(fileURLWithPath: definitions.path))
        let kinds = JobDirectory.load(directory, kinds: ["disk-space"], cache: JobFileCache(), definitions: definitions)
        #expect(kinds.filesRead == 4)
        JobDefinitionCacheFile.waitForWrites()
        try good.write(to: URL(fileURLWithPath: definitions.path))
        #expect(definitions.read(directory: directory + "/", kinds: []).isEmpty)
        #expect(definitions.read(directory: directory, kinds: []).count == 3)
    }

    @Test func codec_roundTripsEveryField() throws {
        var jobs = try JobDefinitionRoundTripTests.jobs()
        jobs[1].after = ["full", "disk"]
        jobs[1].afterWindow = .seconds(7200)
        jobs[1].afterWait = .milliseconds(2500)
        jobs[2].source = .file(path: "/etc/tock/jobs.d/a.toml", line: 42)
        jobs[3].schedule = " @reboot "
        var writer = JobBinaryCodec.Writer()
        for job in jobs { writer.job(job) }
        let decoded = try writer.bytes.withUnsafeBytes { bytes in
            var reader = JobBinaryCodec.Reader(bytes)
            return try jobs.map { _ in try reader.job() }
        }
        #expect(decoded == jobs)
        // A property added to `Job` must be written by the codec (and changes the cache's identity).
        // Those most jobs leave at their defaults are kept out of line, in `Job.Settings`.
        let inline = Mirror(reflecting: jobs[0]).children.compactMap(\.label).filter { $0 != "settings" }
        let outOfLine = Mirror(reflecting: Job.Settings()).children.compactMap(\.label)
        #expect(Set(inline + outOfLine) == Set(JobBinaryCodec.jobFields))
        #expect(inline.count + outOfLine.count == JobBinaryCodec.jobFields.count)
    }

    /// Settings kept out of line (issue 18's memory goal) still behave as values: a copy changed alone.
    @Test func job_outOfLineSettings_areValues() {
        var a = Job(id: "a", schedule: .reboot, action: .exec(["true"]))
        let b = a
        a.timeout = .seconds(5)
        a.onFailure = Notification(webhook: "http://127.0.0.1:9/hook")
        #expect(b.timeout == nil && b.onFailure == nil)
        #expect(a.timeout == .seconds(5) && a.onFailure?.webhook == "http://127.0.0.1:9/hook")
        #expect(a != b)
        a.timeout = nil
        a.onFailure = nil
        #expect(a == b && a.hashValue == b.hashValue, "equal again once back at the defaults")
        var c = b
        c.description = "the same job, described"
        #expect(c != b && b.description.isEmpty)
    }

    /// Equal tag lists share one array whether a file is parsed or decoded from the cache (issue 18's memory goal:
    /// 100,000 jobs repeating a few lists held 6 MB of equal arrays); unequal lists stay apart.
    @Test func tagLists_equalOnes_shareStorage() throws {
        defer { cleanUp() }
        var text = ""
        for n in 0..<6 {
            text += "[job.j\(n)]\nschedule = \"@daily\"\ncommand = \"true\"\n"
            text += n < 5 ? "tags = [\"team-\(n % 2)\", \"every\"]\n\n" : "tags = [\"every\"]\n\n"
        }
        try write("a.toml", text)
        func storage(_ tags: [String]) -> UnsafeRawPointer? {
            tags.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        }
        func check(_ loaded: JobDirectory, _ how: Comment) {
            let byID = Dictionary(uniqueKeysWithValues: loaded.jobs.map { ($0.id, $0.tags) })
            #expect(byID["j0"] == ["team-0", "every"] && byID["j1"] == ["team-1", "every"], how)
            #expect(storage(byID["j0"]!) == storage(byID["j2"]!) && storage(byID["j0"]!) == storage(byID["j4"]!), how)
            #expect(storage(byID["j1"]!) == storage(byID["j3"]!), how)
            #expect(storage(byID["j0"]!) != storage(byID["j1"]!) && byID["j5"] == ["every"], how)
        }
        check(JobDirectory.load(directory), "parsed")
        let definitions = JobDefinitionCacheFile(dataDirectory: data)
        _ = JobDirectory.load(directory, cache: JobFileCache(), definitions: definitions)
        JobDefinitionCacheFile.waitForWrites()
        let cached = JobDirectory.load(directory, cache: JobFileCache(), definitions: definitions)
        #expect(cached.filesRead == 0)
        check(cached, "decoded from the cache")
    }

    @Test func lineIndex_byteScan_matchesTheOriginalScan() {
        let texts = [
            Self.rich,
            "top = 1\n[job . \"nightly backup\"]\n  schedule = \"@daily\" \n\t# c = 2\n[[arr]]\nx.y = 3\n",
            "", "\n\n[a]\n=\n b = \n[ 'q.r' . s ]\nk = { a = 1 }\n", "[job.x]\ncommand = \"a = b\"\n[job.y",
        ]
        for text in texts {
            let slow = TOMLLineIndex.slowScan(text)
            let fast = TOMLLineIndex.scan(text, keys: true)
            #expect(slow.tables == fast.tables, "\(text)")
            #expect(slow.keys == fast.keys, "\(text)")
        }
    }
}
