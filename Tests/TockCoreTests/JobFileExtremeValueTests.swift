import Foundation
import Testing
import TockCore

/// The job-file reader (which also reads API bodies) fed extreme values in every duration, size, count and
/// schedule key: each gives an error naming the key and its line, never a trap and never a job that would trap
/// later.
struct JobFileExtremeValueTests {
    static let durationKeys = ["timeout", "kill_grace", "jitter", "retry_delay", "retry_max_delay", "catchup_window"]

    /// TOML values (as written in a file) that no duration key may accept.
    static let badDurations = [
        "\"999999999999999999m\"", "\"9223372036854775807s\"", "\"10000000000000s\"", "\"1e400s\"", "\"-1s\"",
        "\"1000000000000000000000000000000s\"", "\"1s\\u0000\"", "\"\(String(repeating: "9", count: 1 << 20))s\"",
        "0", "-1", "9223372036854775807", "1e400", "\"\"", "true", "[]",
    ]

    static func file(_ key: String, _ value: String) -> String {
        """
        [job.a]
        schedule = "@hourly"
        command = "true"
        \(key) = \(value)

        [job.b]
        schedule = "@daily"
        command = "true"
        """
    }

    @Test func everyDurationKey_refusesEveryExtremeValue_namingKeyAndLine() {
        for key in Self.durationKeys {
            for value in Self.badDurations {
                let parsed = JobDefinitionReader.parse(Self.file(key, value), file: "x.toml")
                let shown = value.count > 40 ? String(value.prefix(40)) + "…" : value
                #expect(parsed.jobs.isEmpty, "\(key) = \(shown) was accepted")
                // A value TOML itself refuses (an integer beyond 64 bits) is reported by the TOML reader on its line.
                #expect(parsed.errors.contains { $0.line == 4 }, "\(key) = \(shown): \(parsed.errors)")
                #expect(
                    parsed.errors.contains { $0.key == key || $0.message.hasPrefix("TOML") },
                    "\(key) = \(shown): \(parsed.errors)")
            }
        }
    }

    @Test(arguments: [
        ("schedule", "\"@every 10000000000000s\""), ("schedule", "\"@every 999999999999999999m\""),
        ("schedule", "\"*/99999999999999999999 * * * *\""), ("schedule", "\"0 0 99999999999999999999 * *\""),
        ("retries", "9223372036854775807"), ("retries", "-9223372036854775808"), ("retries", "101"),
        ("max_output", "\"9223372036854775807GiB\""), ("max_output", "\"2GiB\""), ("max_output", "9223372036854775807"),
        ("max_output", "1e400"), ("command", "\"echo a\\u0000; rm -rf /tmp/x\""),
        ("exec", "[\"/bin/echo\", \"a\\u0000b\"]"),
        ("env", "{ A = \"x\\u0000y\" }"), ("stdin", "\"a\\u0000\""), ("working_dir", "\"/tmp\\u0000/x\""),
        // An escape whose last digit carries a combining mark is still a NUL to toml++ (Swift's Characters would
        // read "0\u{301}" as one character that is not "0").
        ("command", "\"echo a\\u0000\u{301}; rm -rf /tmp/x\""), ("stdin", "\"\\U00000000\u{301}\""),
    ])
    func otherKeys_refuseExtremeValues(_ key: String, _ value: String) {
        let parsed = JobDefinitionReader.parse(Self.file(key, value), file: "x.toml")
        #expect(parsed.jobs.isEmpty)
        #expect(
            parsed.errors.contains { $0.line == 4 && ($0.key == key || $0.message.hasPrefix("TOML")) },
            "\(parsed.errors)")
    }

    @Test func aNULByteInTheFile_isAnErrorAtItsLine_notATruncation() {
        let text =
            "[job.a]\nschedule = \"@hourly\"\ncommand = \"true\" \u{0}\n\n[job.b]\nschedule = \"@daily\"\ncommand = \"x\"\n"
        let parsed = JobDefinitionReader.parse(text, file: "jobs.d/nul.toml")
        #expect(parsed.jobs.isEmpty)
        #expect(parsed.errors.map(\.line) == [3], "\(parsed.errors)")
        #expect(parsed.errors.first?.message.contains("NUL") == true)
        #expect(parsed.errors.first?.description.hasPrefix("jobs.d/nul.toml:3:") == true)
    }

    @Test func errorsInsideAnInlineTable_areReportedAtItsLine() {
        var lines = ["[job.a]", "schedule = \"@hourly\"", "command = \"true\""]
        lines += Array(repeating: "# padding", count: 5)
        lines.append("env = { K = 5 }")  // line 9
        let parsed = JobDefinitionReader.parse(lines.joined(separator: "\n"), file: "x.toml")
        #expect(parsed.errors.map(\.line) == [9], "\(parsed.errors)")
        let notify = JobDefinitionReader.parse(
            "[job.a]\nschedule = \"@hourly\"\ncommand = \"true\"\n\non_failure = { bogus = 1 }\n", file: "x.toml")
        #expect(notify.errors.map(\.line) == [5], "\(notify.errors)")
    }

    @Test func anUnreadableOrVanishedDirectory_isIncomplete_notEmpty() throws {
        let gone = JobDirectory.load("/nonexistent/jobs.d-\(UUID())")
        #expect(!gone.isComplete && gone.jobs.isEmpty && !gone.errors.isEmpty)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jobs-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "[job.a]\nschedule = \"@hourly\"\ncommand = \"true\"\n".write(
            to: directory.appendingPathComponent("a.toml"), atomically: true, encoding: .utf8)
        let loaded = JobDirectory.load(directory.path)
        #expect(loaded.isComplete && loaded.jobs.map(\.id) == ["a"])
        // A broken file is complete information (its jobs go); only a failure to read is not.
        try "[job.b]\nschedule = \"nope\"\n".write(
            to: directory.appendingPathComponent("b.toml"), atomically: true, encoding: .utf8)
        #expect(JobDirectory.load(directory.path).isComplete)
    }

    @Test func executionIDs_areRandomVersion4UUIDs_neverRepeated() {
        var seen = Set<String>()
        for _ in 0..<20_000 {
            let id = ExecutionRecord.newID()
            let bytes = Array(id.utf8)
            #expect(bytes.count == 32 && bytes[12] == UInt8(ascii: "4"))
            #expect("89ab".utf8.contains(bytes[16]))
            seen.insert(id)
        }
        #expect(seen.count == 20_000)
    }
}
