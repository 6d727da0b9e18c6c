import Foundation
import Testing
import TockCore

/// `tock run` and `tock validate` on a temporary jobs directory, through the real binary.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct RunCommandTests {
    let dir: URL

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tock-cli-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try """
        [job.hello]
        schedule = "*/5 * * * *"
        command = "echo out $TOCK_JOB_ID; echo err >&2; exit 7"

        [job.flaky]
        schedule = "@hourly"
        command = "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo try $n; [ $n -ge 3 ]"
        working_dir = "\(dir.path)"
        retries = 3
        retry_delay = "10ms"

        [job.slow]
        schedule = "@daily"
        command = "sleep 300 & sleep 300; wait"
        timeout = "300ms"

        [job.forever]
        schedule = "@daily"
        command = "echo pid $$; sleep 300 & wait"
        """.write(to: dir.appendingPathComponent("jobs.toml"), atomically: true, encoding: .utf8)
    }

    @Test func run_streamsOutputAndExitsWithJobStatus() throws {
        let result = try TockBinary.run(["run", "hello", "--jobs-dir", dir.path])
        #expect(result.status == 7)
        #expect(result.stdout == "out hello\n")
        #expect(result.stderr.hasPrefix("err\ntock run: attempt 1/1: exit status 7 after "))
    }

    @Test func run_retriesUntilSuccess() throws {
        let result = try TockBinary.run(["run", "flaky", "--jobs-dir", dir.path])
        #expect(result.status == 0)
        #expect(result.stdout == "try 1\ntry 2\ntry 3\n")
        #expect(result.stderr.components(separatedBy: "\n").filter { $0.contains("attempt") }.count == 3)
    }

    @Test func run_timeoutKillsTheTree_andReportsSignalStatus() throws {
        let result = try TockBinary.run(["run", "slow", "--jobs-dir", dir.path])
        #expect(result.status == 128 + 15)
        #expect(result.stderr.contains("timed out after"))
    }

    @Test func run_unknownJob_listsKnownOnes() throws {
        let result = try TockBinary.run(["run", "nope", "--jobs-dir", dir.path])
        #expect(result.status == 2)
        #expect(result.stderr == "tock run: no job 'nope' in \(dir.path) (jobs: flaky, forever, hello, slow)\n")
    }

    @Test func run_sigterm_stopsTheJobTree() throws {
        let process = Process()
        process.executableURL = TockBinary.url
        process.arguments = ["run", "forever", "--jobs-dir", dir.path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // Wait for the job to report its pid, then ask tock to stop.
        var text = ""
        while !text.contains("\n") {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        let pid = try #require(
            Int32(text.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationStatus == 128 + 15)
        #expect(ProcessTable.entry(pid: pid)?.isAlive != true, "the job's shell is gone")
    }

    @Test func validate_printsFileLineForEveryProblem() throws {
        try "[job.bad]\nschedule = \"61 * * * *\"\ncomand = \"x\"\n".write(
            to: dir.appendingPathComponent("zz-broken.toml"), atomically: true, encoding: .utf8)
        let result = try TockBinary.run(["validate", "--jobs-dir", dir.path])
        let file = dir.appendingPathComponent("zz-broken.toml").path
        #expect(result.status == 1)
        #expect(
            result.stderr == """
                \(file):1: job 'bad': needs 'command' or 'exec'
                \(file):2: job 'bad': schedule: '61 * * * *': minute: 61 is out of range 0-59
                \(file):3: job 'bad': comand: unknown key (did you mean 'command'?)

                """)
        try FileManager.default.removeItem(atPath: file)
        let clean = try TockBinary.run(["validate", "--jobs-dir", dir.path])
        #expect(clean.status == 0)
        #expect(clean.stdout == "4 jobs in 1 files: all valid\n")
    }

    @Test func validate_exampleJobsDirectoryIsValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let result = try TockBinary.run(["validate", "--jobs-dir", root.appendingPathComponent("jobs.d").path])
        #expect(result.status == 0, "\(result.stderr)")
    }
}
