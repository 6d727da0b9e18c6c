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
        serve.arguments = [
            "serve", "--jobs-dir", "jobs", "--data-dir", "data", "--listen", "127.0.0.1:0", "--insecure-no-auth",
        ]
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

    /// Every odd line of issue 20 in one file: the odd lines are reported at their FILE:LINE, every other job is
    /// written, the file validates, and the jobs run as cron would have run them (a carriage return inside quotes
    /// reaches the command; `TZ` reaches the environment).
    @Test func mixedOddFile_importsEveryOtherJob_andTheJobsRunAsUnderCron() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-import-odd-\(UUID())")
        let jobs = directory.appendingPathComponent("jobs")
        try FileManager.default.createDirectory(at: jobs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let crontab = directory.appendingPathComponent("crontab")
        let text = [
            "# every odd line of issue 20",  // 1
            "MAILTO=\"\"",  // 2
            "TZ=Europe/Paris",  // 3
            "# print a carriage return",  // 4
            "@reboot printf 'a\rb\\n'",  // 5
            "# where am I",  // 6
            "@reboot echo \"TZ=$TZ\"",  // 7
            "*/5 * * * * * * docker run --rm cleaner",  // 8
            "MAILTO=\"\"garbage",  // 9
            "20 7 * * * echo safe\u{0}; rm -rf /tmp/important",  // 10
            "0 3 * * * /bin/true",  // 11
            "0 4 * * * /bin/last-without-newline",  // 12, no newline
        ].joined(separator: "\n")
        try Data(text.utf8).write(to: crontab)
        let output = jobs.appendingPathComponent("imported.toml").path

        let imported = try TockBinary.run(["import", "crontab", crontab.path, "--output", output])
        #expect(imported.status == 1, "\(imported.stderr)")
        let path = crontab.path
        #expect(imported.stderr.contains("\(path):8: error: the command starts with '*': cron rejects the line"))
        #expect(
            imported.stderr.contains("\(path):9: error: neither a variable nor a job: text after the closing quote"))
        #expect(imported.stderr.contains("\(path):10: error: a NUL byte at column 21"))
        #expect(imported.stderr.contains("\(path):12: warning: no newline at the end of the file: cron never runs"))
        #expect(imported.stderr.contains("\(path):8: warning: Debian's and Ubuntu's cron ignore a whole file"))
        #expect(imported.stderr.contains("4 jobs imported, 3 lines skipped"))
        let written = try String(contentsOfFile: output, encoding: .utf8)
        #expect(written.contains("[job.last-without-newline]") && written.contains("enabled = false"))
        #expect(!written.contains("docker") && !written.contains("garbage") && !written.contains("important"))

        let validate = try TockBinary.run(["validate", "--jobs-dir", jobs.path])
        #expect(validate.status == 0 && validate.stdout == "4 jobs in 1 files: all valid\n", "\(validate.stderr)")
        let carriageReturn = try TockBinary.run(["run", "print-a-carriage-return", "--jobs-dir", jobs.path])
        #expect(carriageReturn.status == 0 && carriageReturn.stdout == "a\rb\n", "\(carriageReturn.stderr)")
        let zone = try TockBinary.run(["run", "where-am-i", "--jobs-dir", jobs.path])
        #expect(zone.status == 0 && zone.stdout == "TZ=Europe/Paris\n", "\(zone.stderr)")
    }

    @Test func malformedLines_areReported_andTheRestImported() throws {
        let result = try TockBinary.runWithInput(["import", "crontab", "-"], input: "* * * * * ok\n99 * * * * bad\n")
        #expect(result.status == 1)
        #expect(result.stdout.contains("[job.ok]"))
        #expect(result.stderr.contains("<stdin>:2: error: schedule '99 * * * *': minute: 99 is out of range 0-59"))
    }
}
