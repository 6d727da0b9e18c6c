import CronKit
import Foundation
import Testing
import TockCore
import TockSQLite
import TockTesting

/// `after` through `tock serve`: the real binary, real `/bin/sh` jobs, a real SQLite file, real `kill -9`.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct DependencyEndToEndTests {
    typealias Daemon = ServeCommandTests.Daemon
    let serve: ServeCommandTests

    init() throws { serve = try ServeCommandTests() }

    var directory: URL { serve.directory }

    func executions(_ job: String) async throws -> [ExecutionRecord] { try await serve.executions(job) }

    /// Extract and load on schedules, report triggered after both, publish gated at a fixed time (and a gated job
    /// whose upstream never succeeds, skipped with the reason).
    @Test func extractAndLoad_thenReportTriggered_thenPublishGatedAtItsInstant() async throws {
        let marks = directory.path
        // Each upstream succeeds once (its first run), then fails: exactly one success to consume each.
        let once = { (name: String) in "test ! -f \(marks)/\(name).done && touch \(marks)/\(name).done" }
        let utc = try #require(ZoneRules.rules(forIdentifier: "UTC"))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utc.timeZone
        let publishAt = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 12).rounded(.down))
        let parts = calendar.dateComponents([.second, .minute, .hour], from: publishAt)
        let fixed = "\(parts.second!) \(parts.minute!) \(parts.hour!) * * *"
        try serve.writeJobs(
            "pipeline.toml",
            """
            [job.extract]
            schedule = "*/2 * * * * *"
            command = "\(once("extract"))"

            [job.load]
            schedule = "*/3 * * * * *"
            command = "\(once("load"))"

            [job.report]
            after = ["extract", "load"]
            command = "echo report"

            [job.publish]
            schedule = "\(fixed)"
            timezone = "UTC"
            after = ["report"]
            after_wait = "5s"
            command = "echo publish"

            [job.never]
            schedule = "@yearly"
            command = "false"

            [job.publish-never]
            schedule = "\(fixed)"
            timezone = "UTC"
            after = ["never"]
            after_wait = "2s"
            command = "echo must not run"
            """)
        let daemon = try Daemon(directory: directory)
        try await eventually("report ran") { try await executions("report").contains { $0.state == .succeeded } }
        try await eventually("publish ran at its instant", timeout: .seconds(40)) {
            try await executions("publish").contains { $0.state.isFinal }
        }
        try await eventually("publish-never skipped", timeout: .seconds(20)) {
            try await executions("publish-never").contains { $0.state == .skipped }
        }
        try await Task.sleep(for: .seconds(2))
        // `tock jobs show` prints both directions.
        let server = "http://127.0.0.1:\(try #require(daemon.port))"
        let shown = try TockBinary.run(["jobs", "show", "report", "--server", server])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout.contains("after: extract load\n"), "\(shown.stdout)")
        #expect(shown.stdout.contains("dependencies:\n  extract: waiting (last success 20"), "\(shown.stdout)")
        #expect(shown.stdout.contains("\n  load: waiting (last success 20"))
        let upstream = try TockBinary.run(["jobs", "show", "extract", "--server", server])
        #expect(upstream.stdout.contains("downstream: report\n"), "\(upstream.stdout)")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)

        let extract = try await executions("extract").filter { $0.state == .succeeded }
        let load = try await executions("load").filter { $0.state == .succeeded }
        #expect(extract.count == 1 && load.count == 1)
        let report = try await executions("report")
        #expect(report.map(\.state) == [.succeeded] && report.map(\.trigger) == [.dependency], "\(report)")
        let started = try #require(report.first?.startedAt)
        #expect(started >= extract[0].endedAt! && started >= load[0].endedAt!)
        let publish = try await executions("publish")
        #expect(publish.map(\.state) == [.succeeded] && publish.map(\.trigger) == [.schedule], "\(publish)")
        #expect(publish.first?.scheduledAt == publishAt)
        let never = try await executions("publish-never")
        #expect(never.map(\.state) == [.skipped])
        #expect(never.first?.message == "dependency not met: never, never succeeded")
        #expect(daemon.output.contains("dependencies met: run triggered"))
    }

    /// `kill -9` between an upstream's success and its dependent's start (the dependent was running, so the
    /// satisfaction was held): after the restart the dependent runs once.
    @Test func kill9BetweenUpstreamSuccessAndDependentStart_dependentRunsOnceAfterRestart() async throws {
        let marks = directory.path
        try serve.writeJobs(
            "chain.toml",
            """
            [job.extract]
            schedule = "@every 1s"
            command = "test ! -f \(marks)/stop-extract"

            [job.report]
            after = ["extract"]
            command = "if [ -f \(marks)/report-1 ]; then echo second; else touch \(marks)/report-1; sleep 60; fi"
            """)
        let first = try Daemon(directory: directory)
        try await eventually("report running") { try await executions("report").map(\.state) == [.running] }
        let reportStart = try #require(try await executions("report").first?.startedAt)
        try await eventually("an extract success while report runs") {
            try await executions("extract").contains { $0.state == .succeeded && $0.endedAt! > reportStart }
        }
        FileManager.default.createFile(atPath: "\(marks)/stop-extract", contents: nil)
        let stopped = Date()
        try await eventually("extract fails from now on") {
            try await executions("extract").contains { $0.state == .failed && $0.startedAt! > stopped }
        }
        #expect(try await executions("report").count == 1, "held while report runs (overlap skip)")
        first.signal(SIGKILL)
        _ = first.waitForExit()

        let second = try Daemon(directory: directory)
        try await eventually("report ran again") {
            try await executions("report").map(\.state) == [.interrupted, .succeeded]
        }
        try await Task.sleep(for: .seconds(3))
        let report = try await executions("report")
        #expect(report.map(\.state) == [.interrupted, .succeeded], "exactly once")
        #expect(report.last?.trigger == .dependency)
        #expect(String(decoding: report.last?.stdout ?? [], as: UTF8.self) == "second\n")
        second.signal(SIGTERM)
        #expect(second.waitForExit() == 0)
    }

    /// `kill -9` at several delays just after the upstream's success is on disk — before, during and after the
    /// dependent's row and start: after each restart the dependent has run exactly once (its process writes a line).
    @Test(arguments: [0, 3, 10, 30])
    func kill9AtVariousMomentsAfterTheUpstreamSucceeds_theDependentRunsExactlyOnce(delayMilliseconds: Int) async throws
    {
        let marks = directory.path
        try serve.writeJobs(
            "chain.toml",
            """
            [job.extract]
            schedule = "* * * * * *"
            command = "test ! -f \(marks)/extract.done && touch \(marks)/extract.done"

            [job.report]
            after = ["extract"]
            command = "echo $TOCK_EXECUTION_ID >> \(marks)/report.log"
            """)
        let first = try Daemon(directory: directory)
        // Generous deadlines: daemons of other suites start beside this one on 2 cores.
        try await eventually("extract's success recorded", timeout: .seconds(45), pollEvery: .milliseconds(1)) {
            try await executions("extract").contains { $0.state == .succeeded }
        }
        try await Task.sleep(for: .milliseconds(delayMilliseconds))
        first.signal(SIGKILL)
        _ = first.waitForExit()
        let second = try Daemon(directory: directory)
        try await eventually("report ran, or its run is known interrupted", timeout: .seconds(45)) {
            let ran = (try? String(contentsOfFile: "\(marks)/report.log", encoding: .utf8))?.isEmpty == false
            if ran { return true }
            return try await executions("report").contains { $0.state == .interrupted && $0.startedAt != nil }
        }
        try await Task.sleep(for: .seconds(2))
        second.signal(SIGTERM)
        #expect(second.waitForExit() == 0)
        let log = (try? String(contentsOfFile: "\(marks)/report.log", encoding: .utf8)) ?? ""
        let lines = log.split(separator: "\n")
        let report = try await executions("report")
        if lines.isEmpty {
            // The one window left (ARCHITECTURE.md, dependencies): killed after the run's row was marked started and
            // before its process was spawned — recorded interrupted, like any scheduled run caught there; never twice.
            #expect(report.count == 1 && report.first?.state == .interrupted, "\(report.map(\.state))")
            return
        }
        #expect(lines.count == 1, "report ran \(lines.count) times: \(report.map(\.state))")
        // One row started: succeeded, or `interrupted` when the kill came while it ran (it ran; it is not repeated).
        #expect(report.filter { $0.startedAt != nil }.count == 1, "\(report.map(\.state))")
        #expect(report.allSatisfy { $0.state == .succeeded || $0.state == .interrupted }, "\(report.map(\.state))")
    }

    @Test func validate_reportsCyclesAtTheirAfterLines_andWarnsOfUnknownUpstreams() throws {
        try serve.writeJobs(
            "a.toml",
            """
            [job.backup]
            schedule = "@daily"
            command = "backup"
            after = ["report"]
            """)
        try serve.writeJobs(
            "b.toml",
            """
            [job.report]
            command = "report"
            after = ["backup", "from-api"]
            """)
        let cycle = try TockBinary.run(["validate", "--jobs-dir", directory.appendingPathComponent("jobs").path])
        #expect(cycle.status == 1)
        #expect(cycle.stderr.contains("jobs/a.toml:4: after: cycle backup → report → backup"), "\(cycle.stderr)")
        #expect(cycle.stderr.contains("jobs/b.toml:3: after: cycle report → backup → report"))
        try serve.writeJobs(
            "a.toml", "[job.backup]\nschedule = \"@daily\"\ncommand = \"backup\"\n")
        let warning = try TockBinary.run(["validate", "--jobs-dir", directory.appendingPathComponent("jobs").path])
        #expect(warning.status == 0, "\(warning.stderr)")
        #expect(
            warning.stderr.contains(
                "jobs/b.toml:3: warning: job 'report': after: 'from-api' is not in jobs.d (an API job?)"))
        let strict = try TockBinary.run([
            "validate", "--strict", "--jobs-dir", directory.appendingPathComponent("jobs").path,
        ])
        #expect(strict.status == 1)
    }
}
