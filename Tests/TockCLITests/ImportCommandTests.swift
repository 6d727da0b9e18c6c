import Foundation
import Testing
import TockCore
import TockSQLite
import TockTesting

/// `tock import crontab` through the binary: the file it writes validates and runs under `tock serve`.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ImportCommandTests {
    @Test func importedCrontab_validates_andRunsUnderServe() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-import-\(UUID())")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("jobs"), withIntermediateDirectories: true)
        let crontab = directory.appendingPathComponent("crontab")
        try """
        SHELL=/bin/bash
        GREETING = "hello from cron"
        MAILTO=""
        # say hello
        @reboot echo "$GREETING in $SHELL, 100\\% sure"; cat
        0 4 * * * tr a-z A-Z%shout this%
        """.write(to: crontab, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("jobs/imported.toml").path

        let imported = try TockBinary.run(["import", "crontab", crontab.path, "--output", output])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stderr.contains("2 jobs imported, 0 lines skipped"))
        #expect(imported.stderr.contains("\(crontab.path):5: warning: @reboot runs when tock serve starts"))

        let again = try TockBinary.run(["import", "crontab", crontab.path, "--output", output])
        #expect(again.status == 2)
        #expect(again.stderr.contains("exists; nothing written (use --force to overwrite)"))
        #expect(try TockBinary.run(["import", "crontab", crontab.path, "--output", output, "--force"]).status == 0)

        let validate = try TockBinary.run(["validate", "--jobs-dir", directory.appendingPathComponent("jobs").path])
        #expect(validate.status == 0 && validate.stdout == "2 jobs in 1 files: all valid\n")

        let serve = Process()
        serve.executableURL = TockBinary.url
        serve.arguments = ["serve", "--jobs-dir", "jobs", "--data-dir", "data", "--listen", "127.0.0.1:0"]
        serve.currentDirectoryURL = directory
        serve.standardError = FileHandle.nullDevice
        try serve.run()
        defer { if serve.isRunning { serve.terminate() } }
        let database = directory.appendingPathComponent("data/tock.sqlite").path
        func runs() async throws -> [ExecutionRecord] {
            guard FileManager.default.fileExists(atPath: database) else { return [] }
            return try await SQLiteJobStore(path: database).executions(jobID: "say-hello", limit: 5).filter(
                \.state.isFinal)
        }
        try await eventually("the @reboot job ran") { try await runs().count == 1 }
        serve.terminate()
        serve.waitUntilExit()
        let run = try #require(try await runs().first)
        #expect(run.state == .succeeded)
        #expect(String(decoding: run.stdout, as: UTF8.self) == "hello from cron in /bin/bash, 100% sure\n")
    }

    @Test func malformedLines_areReported_andTheRestImported() throws {
        let result = try TockBinary.runWithInput(["import", "crontab", "-"], input: "* * * * * ok\n99 * * * * bad\n")
        #expect(result.status == 1)
        #expect(result.stdout.contains("[job.ok]"))
        #expect(result.stderr.contains("<stdin>:2: error: schedule '99 * * * *': minute: 99 is out of range 0-59"))
    }
}
