import Foundation
import Testing

/// `tock next` as a user runs it: the real binary, its stdout, stderr and exit status.
struct NextCommandTests {
    @Test func next_printsSpecExampleByteForByte() throws {
        let result = try TockBinary.run([
            "next", "30 2 * * *", "--tz", "America/Los_Angeles", "--from", "2026-03-07T12:00:00-08:00", "-n", "2",
        ])
        #expect(result.status == 0)
        #expect(result.stdout == "2026-03-08T03:00:00-07:00\n2026-03-09T02:30:00-07:00\n")
        #expect(result.stderr == "")
    }

    @Test func next_defaultsToFiveTimesInUTC() throws {
        let result = try TockBinary.run(["next", "0 0 * * *", "--from", "2026-01-01T00:00:00Z"])
        #expect(
            result.stdout.split(separator: "\n") == [
                "2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00",
                "2026-01-05T00:00:00+00:00", "2026-01-06T00:00:00+00:00",
            ])
    }

    @Test func next_withoutFrom_startsNow() throws {
        let before = Date()
        let result = try TockBinary.run(["next", "* * * * * *", "-n", "1"])
        let printed = try #require(
            ISO8601DateFormatter().date(from: result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(printed > before.addingTimeInterval(-1) && printed < before.addingTimeInterval(30))
    }

    @Test func next_describe_printsDescriptionFirst() throws {
        let result = try TockBinary.run([
            "next", "--describe", "30 2 * * MON-FRI", "--from", "2026-01-01T00:00:00Z", "-n", "1",
        ])
        #expect(result.stdout == "At 02:30, Monday through Friday\n2026-01-01T02:30:00+00:00\n")
    }

    @Test func next_acceptsUnquotedWords() throws {
        let result = try TockBinary.run(["next", "@every", "90s", "--from", "2026-01-01T00:00:00Z", "-n", "1"])
        #expect(result.stdout == "2026-01-01T00:01:30+00:00\n")
    }

    @Test(arguments: [
        (["next", "60 * * * *"], "tock next: minute: 60 is out of range 0-59\n"),
        (
            ["next", "* * *"],
            "tock next: expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got 3\n"
        ),
        (
            ["next", "0 0 30 2 *"],
            "tock next: day-of-month: 30 never occurs in month 2: the expression can never fire\n"
        ),
        (["next", "0 0 * * *", "--tz", "Mars/Olympus"], "tock next: unknown time zone 'Mars/Olympus'\n"),
        (
            ["next", "0 0 * * *", "--from", "tomorrow"],
            "tock next: --from: 'tomorrow' is not an ISO 8601 time such as 2026-03-08T00:00:00-08:00\n"
        ),
    ])
    func next_invalidInput_oneLineOnStderr_exitStatus2(_ arguments: [String], _ message: String) throws {
        let result = try TockBinary.run(arguments)
        #expect(result.status == 2)
        #expect(result.stdout == "")
        #expect(result.stderr == message)
    }
}

/// Runs the `tock` executable built next to the test bundle.
enum TockBinary {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static var url: URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "tock")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/tock")
    }

    static func run(_ arguments: [String]) throws -> Result {
        try runWithInput(arguments, input: nil)
    }

    /// Runs `tock` (or `executable`) and reads its output whole.
    /// - Parameters:
    ///   - directory: the working directory (default: the test's).
    ///   - environment: variables set (a `nil` value removes one) over the test's own environment.
    static func runWithInput(
        _ arguments: [String], input: String?, executable: URL? = nil, in directory: URL? = nil,
        environment: [String: String?] = [:]
    ) throws -> Result {
        let process = Process()
        process.executableURL = executable ?? url
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if !environment.isEmpty {
            var merged = ProcessInfo.processInfo.environment
            for (name, value) in environment { merged[name] = value }
            process.environment = merged
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        // Read both to the end before waiting, so a full pipe can never block the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}

extension NextCommandTests {
    /// Issue 11: these killed the process with SIGILL (status 132); each is a one-line error and exit status 2.
    @Test(arguments: [
        "@every 999999999999999999m", "@every 9223372036854775807s", "@every 10000000000000s", "@every 1e400s",
        "@every -1s", "@every 0s", "*/99999999999999999999 * * * *", "0 0 99999999999999999999 * *", "@every 1s\u{1}",
        // One argument may hold at most 128 KiB (the kernel's MAX_ARG_STRLEN).
        "@every " + String(repeating: "9", count: 100_000) + "s",
    ])
    func next_extremeValues_areOneLineErrors(_ expression: String) throws {
        let result = try TockBinary.run(["next", expression, "--from", "2026-01-01T00:00:00Z"])
        #expect(result.status == 2, "\(expression.prefix(40)): status \(result.status)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.split(separator: "\n").count == 1 && !result.stderr.isEmpty)
        #expect(result.stderr.utf8.count < 400, "the message quotes a long token shortened")
    }

    @Test func next_farFromTheYear9999_printsFiveDigitYears() throws {
        let result = try TockBinary.run(["next", "0 0 1 1 *", "--from", "9999-06-01T00:00:00Z", "-n", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "10000-01-01T00:00:00+00:00\n10001-01-01T00:00:00+00:00\n")
    }

    @Test func next_countFarBeyondReason_isRefused() throws {
        let result = try TockBinary.run(["next", "* * * * *", "-n", "99999999999999999999"])
        #expect(result.status != 0 && result.status != 132)
        let large = try TockBinary.run(["next", "* * * * *", "-n", "100000000"])
        #expect(large.status == 2 && large.stderr.contains("between 0 and 100000"), "\(large.stderr)")
    }
}
