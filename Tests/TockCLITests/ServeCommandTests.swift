import CronKit
import Foundation
import Testing
import TockCore
import TockSQLite
import TockTesting

/// `tock serve` end to end: the real binary on a temporary directory, a real SQLite file, real signals.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ServeCommandTests {
    final class Daemon {
        let directory: URL
        let process = Process()
        let log: URL

        /// - Parameter softDescriptorLimit: start the daemon under this soft `RLIMIT_NOFILE` (as a shell's ulimit).
        /// - Parameter insecureNoAuth: serve without authentication (these tests are about other things; as root,
        ///   the daemon would otherwise start locked). AuthEndToEndTests passes false.
        init(
            directory: URL, extraArguments: [String] = [], softDescriptorLimit: Int? = nil, insecureNoAuth: Bool = true
        ) throws {
            self.directory = directory
            log = directory.appendingPathComponent("daemon-\(UUID()).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            process.executableURL = TockBinary.url
            let config = directory.appendingPathComponent("tock.toml")
            try "shutdown_grace = \"2s\"\nreload_interval = \"200ms\"\n".write(
                to: config, atomically: true, encoding: .utf8)
            process.arguments =
                [
                    "serve", "--config", config.path, "--jobs-dir", "jobs", "--data-dir", "data", "--log-level",
                    "debug", "--listen", "127.0.0.1:0",
                ] + (insecureNoAuth ? ["--insecure-no-auth"] : []) + extraArguments
            if let softDescriptorLimit {
                process.arguments =
                    ["-c", "ulimit -Sn \(softDescriptorLimit) && exec \"$0\" \"$@\"", TockBinary.url.path]
                    + (process.arguments ?? [])
                process.executableURL = URL(fileURLWithPath: "/bin/sh")
            }
            process.currentDirectoryURL = directory
            process.standardError = try FileHandle(forWritingTo: log)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }

        var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        /// The HTTP port the daemon logged once listening (it listens on port 0: any free port).
        var port: Int? {
            guard let line = output.split(separator: "\n").first(where: { $0.contains("HTTP server listening") }),
                let range = line.range(of: "port=")
            else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }

        deinit {
            // A test that failed half-way must not leave a daemon running.
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }

        func signal(_ number: Int32) { kill(process.processIdentifier, number) }

        func waitForExit() -> Int32 {
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-serve-\(UUID())")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("jobs"), withIntermediateDirectories: true)
    }

    func writeJobs(_ name: String, _ text: String) throws {
        try text.write(to: directory.appendingPathComponent("jobs/\(name)"), atomically: true, encoding: .utf8)
    }

    func store() throws -> SQLiteJobStore {
        try SQLiteJobStore(path: directory.appendingPathComponent("data/tock.sqlite").path)
    }

    func executions(_ job: String) async throws -> [ExecutionRecord] {
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("data/tock.sqlite").path) else {
            return []
        }
        return try await store().executions(jobID: job, limit: 1000).reversed()
    }

    @Test func everySecondJob_firesOnTime_andIsRecorded() async throws {
        try writeJobs(
            "tick.toml", "[job.tick]\nschedule = \"* * * * * *\"\ncommand = \"echo tick $TOCK_SCHEDULED_TIME\"\n")
        let daemon = try Daemon(directory: directory)
        try await eventually("three runs") { try await executions("tick").filter { $0.state == .succeeded }.count >= 3 }
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
        let runs = try await executions("tick").filter { $0.state == .succeeded }
        for run in runs {
            #expect(
                run.scheduledAt.timeIntervalSince1970 == run.scheduledAt.timeIntervalSince1970.rounded(),
                "whole seconds")
            let started = try #require(run.startedAt)
            #expect(started >= run.scheduledAt, "never early")
            #expect(started.timeIntervalSince(run.scheduledAt) < 1, "started within the second it was due")
            let utc = try #require(ZoneRules.rules(forIdentifier: "UTC"))
            #expect(
                String(decoding: run.stdout, as: UTF8.self)
                    == "tick \(Timestamp.string(for: run.scheduledAt, in: utc))\n"
            )
        }
        #expect(Set(runs.map(\.scheduledAt)).count == runs.count, "no instant twice")
        #expect(daemon.output.contains("run finished"))
    }

    @Test func kill9WhileRunning_thenRestart_marksInterrupted_andRunsNothingTwice() async throws {
        try writeJobs("slow.toml", "[job.slow]\nschedule = \"* * * * * *\"\ncommand = \"echo started; sleep 300\"\n")
        let first = try Daemon(directory: directory)
        // The row is written before the process starts; its pid follows as soon as the process exists.
        try await eventually("running") {
            try await executions("slow").contains { $0.state == .running && $0.pid != nil }
        }
        let running = try #require(try await executions("slow").first { $0.state == .running && $0.pid != nil })
        first.signal(SIGKILL)
        _ = first.waitForExit()
        let jobGroup = try #require(running.pid)
        #expect(kill(-jobGroup, 0) == 0, "the job's process group outlives a kill -9 of the daemon")

        let second = try Daemon(directory: directory)
        try await eventually("interrupted") {
            try await executions("slow").first { $0.id == running.id }?.state == .interrupted
        }
        // The leftover process group was ended by the restart.
        try await eventually("leftover group gone") { ProcessGroup.livingMembers(jobGroup) == 0 }
        try await eventually("a new run") {
            try await executions("slow").contains { $0.state == .running && $0.id != running.id }
        }
        second.signal(SIGTERM)
        _ = second.waitForExit()
        let all = try await executions("slow")
        #expect(Set(all.map(\.scheduledAt)).count == all.count, "no instant ran twice")
        #expect(all.allSatisfy { $0.state.isFinal }, "nothing left pending: \(all.map(\.state))")
    }

    @Test func sigterm_letsTheRunningJobFinish() async throws {
        // The job marks its start in a file (a poll of the store could miss a 1 s run on a loaded machine; the file
        // stays): it is running when the file exists, and SIGTERM must let it finish within the 2 s grace.
        let started = directory.appendingPathComponent("work-started").path
        try writeJobs(
            "work.toml", "[job.work]\nschedule = \"@reboot\"\ncommand = \"touch \(started); sleep 1; echo done\"\n")
        let daemon = try Daemon(directory: directory)
        try await eventually("running") { FileManager.default.fileExists(atPath: started) }
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
        let run = try #require(try await executions("work").first)
        #expect(run.state == .succeeded)
        #expect(String(decoding: run.stdout, as: UTF8.self) == "done\n")
    }

    @Test func brokenJobFile_doesNotStopTheGoodOnes() async throws {
        try writeJobs("good.toml", "[job.good]\nschedule = \"* * * * * *\"\ncommand = \"true\"\n")
        try writeJobs("bad.toml", "[job.bad]\nschedule = \"* * * * * *\"\ncomand = \"true\"\n")
        let daemon = try Daemon(directory: directory)
        defer { daemon.signal(SIGKILL) }
        do {
            try await eventually("good runs") { try await executions("good").count >= 1 }
        } catch {
            Issue.record("daemon log:\n\(daemon.output)")
            throw error
        }
        daemon.signal(SIGTERM)
        _ = daemon.waitForExit()
        #expect(try await executions("bad").isEmpty)
        #expect(daemon.output.contains("bad.toml:3: job 'bad': comand: unknown key (did you mean 'command'?)"))
    }

    @Test func sighup_reloadsAtOnce() async throws {
        try writeJobs("a.toml", "[job.first]\nschedule = \"@yearly\"\ncommand = \"true\"\n")
        let config = directory.appendingPathComponent("slow-reload.toml")
        try "reload_interval = \"1h\"\n".write(to: config, atomically: true, encoding: .utf8)
        let daemon = try Daemon(directory: directory, extraArguments: ["--config", config.path])
        try await eventually("started") { daemon.output.contains("scheduler started") }
        try writeJobs("b.toml", "[job.second]\nschedule = \"* * * * * *\"\ncommand = \"true\"\n")
        try await Task.sleep(for: .milliseconds(1500))
        #expect(try await executions("second").isEmpty, "no reload without SIGHUP (the poll is an hour away)")
        daemon.signal(SIGHUP)
        try await eventually("the new job runs") { try await executions("second").count >= 1 }
        daemon.signal(SIGTERM)
        _ = daemon.waitForExit()
        #expect(daemon.output.contains("reason=SIGHUP"))
    }

    @Test func editingJobsDirectory_reloadsWithoutRestart() async throws {
        try writeJobs("a.toml", "[job.first]\nschedule = \"@yearly\"\ncommand = \"true\"\n")
        let daemon = try Daemon(directory: directory)
        try await eventually("started") { daemon.output.contains("scheduler started") }
        try writeJobs("b.toml", "[job.second]\nschedule = \"* * * * * *\"\ncommand = \"true\"\n")
        try await eventually("the new job runs") { try await executions("second").count >= 1 }
        daemon.signal(SIGTERM)
        _ = daemon.waitForExit()
        #expect(daemon.output.contains("jobs reloaded"))
    }
}

/// Tock as a library: the example daemon with its own job kind, end to end.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct LibraryExampleTests {
    @Test func customKindDaemon_runsAndRecordsItsKind() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-example-\(UUID())")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("jobs"), withIntermediateDirectories: true)
        try """
        [job.root]
        schedule = "@reboot"
        kind = "disk-space"
        args = { path = "/", min_free_percent = "0" }

        [job.missing]
        schedule = "@reboot"
        kind = "disk-space"
        args = { path = "/no/such/mount" }
        """.write(to: directory.appendingPathComponent("jobs/disk.toml"), atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = TockBinary.url.deletingLastPathComponent().appendingPathComponent("DiskCheckExample")
        process.arguments = [
            "--jobs-dir", directory.appendingPathComponent("jobs").path, "--data-dir",
            directory.appendingPathComponent("data").path, "--listen", "127.0.0.1:0",
        ]
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let database = directory.appendingPathComponent("data/tock.sqlite").path
        func finished() async throws -> [ExecutionRecord] {
            guard FileManager.default.fileExists(atPath: database) else { return [] }
            return try await SQLiteJobStore(path: database).executions(jobID: nil, limit: 10).filter(\.state.isFinal)
        }
        try await eventually("both ran") { try await finished().count == 2 }
        process.terminate()
        process.waitUntilExit()
        let runs = try await finished()
        let root = try #require(runs.first { $0.jobID == "root" })
        #expect(root.state == .succeeded)
        #expect(String(decoding: root.stdout, as: UTF8.self).hasPrefix("/: "))
        let missing = try #require(runs.first { $0.jobID == "missing" })
        #expect(missing.state == .failed && missing.exitCode == 2)
        #expect(
            String(decoding: missing.stderr, as: UTF8.self) == "cannot stat /no/such/mount: No such file or directory\n"
        )
    }
}
