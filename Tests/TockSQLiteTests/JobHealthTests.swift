import CronKit
import Foundation
import Testing
import TockCore
import TockJSON
import TockSQLite
import TockTesting

/// The scheduler, the planner and the health monitor on the manual clock, with a real SQLite store: health
/// states, alerts on transitions only, one "resolved" after an alert, and what a restart keeps.
final class HealthHarness: Sendable {
    let store: SQLiteJobStore
    let clock: ManualWallClock
    let runner: RecordingJobRunner
    let planner: NotificationPlanner
    let scheduler: Scheduler
    private let tasks: [Task<Void, any Error>]

    init(
        _ toml: String, path: String? = nil, clock: ManualWallClock = ManualWallClock(now: JobHealthTests.start),
        maxConcurrentRuns: Int = 64, settings: NotificationSettings = NotificationSettings()
    ) throws {
        let path =
            try path ?? NotificationTestSupport.temporaryDirectory().appendingPathComponent("tock.sqlite").path
        let parsed = JobDefinitionReader.parse(toml, file: "test.toml")
        #expect(parsed.errors.isEmpty, "\(parsed.errors)")
        store = try SQLiteJobStore(path: path)
        self.clock = clock
        runner = RecordingJobRunner(clock: clock)
        var settings = settings
        settings.host = "test"
        planner = NotificationPlanner(settings: settings)
        var configuration = SchedulerConfiguration(host: "test", maxConcurrentRuns: maxConcurrentRuns)
        configuration.defaultTimeZone = TimeZone(identifier: "UTC")!
        configuration.notifications = planner
        scheduler = Scheduler(
            jobs: parsed.jobs, store: store, runner: runner, clock: clock, configuration: configuration,
            logger: NotificationTestSupport.quietLogger)
        let monitor = JobHealthMonitor(
            planner: planner, outbox: store, clock: clock, logger: NotificationTestSupport.quietLogger)
        let scheduler = self.scheduler
        tasks = [Task { try await scheduler.run() }, Task { try await monitor.run() }]
    }

    func started() async throws {
        let scheduler = self.scheduler
        try await eventually("scheduled") { await !scheduler.nextFireTimes().isEmpty }
    }

    func stop() { for task in tasks { task.cancel() } }

    /// The job's deliveries' event types, oldest first.
    func events(_ jobID: String) async throws -> [String] {
        try await store.deliveries(matching: NotificationQuery(jobID: jobID, limit: 1000)).reversed().map(\.eventType)
    }

    func health(_ jobID: String) async throws -> JobHealth {
        let status = try #require(await scheduler.status(of: jobID))
        let recent = try await store.recentExecutions(jobIDs: [jobID], perJob: 20)[jobID] ?? []
        return JobHealth.evaluate(job: status.job, paused: status.paused, recent: recent, alerts: status.alerts)
    }

    /// Runs the job now and waits for its final record.
    @discardableResult
    func runToEnd(_ jobID: String) async throws -> ExecutionRecord {
        let scheduler = self.scheduler
        let store = self.store
        let id = try await scheduler.runNow(jobID: jobID)
        var final: ExecutionRecord?
        try await eventually("final") {
            guard let record = try await store.execution(id: id), record.state.isFinal else { return false }
            final = record
            return true
        }
        return try #require(final)
    }
}

@Suite(.timeLimit(.minutes(1)))
struct JobHealthTests {
    static let start = Date(timeIntervalSince1970: 1_796_000_030)  // 2026-11-29 ... :00:30 UTC

    @Test func maxAge_aPausedByMistakeJobGoesDown_onceAndResolvesOnce() async throws {
        let harness = try HealthHarness(
            """
            [job.report]
            schedule = "@hourly"
            command = "report"
            max_age = "26h"
            on_failure = { command = "true" }
            """)
        let clock = harness.clock
        defer { harness.stop() }
        try await harness.started()
        try await harness.runToEnd("report")
        #expect(try await harness.health("report").state == .ok)
        try await harness.scheduler.pause(jobID: "report")
        #expect(try await harness.health("report").state == .paused)

        clock.advance(by: 25 * 3600)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await harness.events("report").isEmpty, "not 26 h yet")

        clock.advance(by: 3600 + 1)
        try await eventually("down") { try await harness.events("report") == ["job.down"] }
        let health = try await harness.health("report")
        #expect(health.state == .down, "down outranks paused")
        #expect(health.detail?.hasPrefix("no successful run for 1d2h (last success ") == true, "\(health)")
        let payload = try #require(
            try await harness.store.deliveries(matching: NotificationQuery(jobID: "report")).first)
        let event = try JSONValue.parse(try #require(try await harness.store.delivery(id: payload.id)).payload)
        #expect(event["alert"]?["kind"]?.stringValue == "max_age")
        let text = try #require(event["text"]?.stringValue)
        #expect(text.hasPrefix("report is down on test: no successful run for 1d2h"), "\(text)")

        clock.advance(by: 24 * 3600)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await harness.events("report") == ["job.down"], "alerts on transitions only")

        try await harness.scheduler.resume(jobID: "report")
        try await harness.runToEnd("report")
        try await eventually("resolved once") { try await harness.events("report") == ["job.down", "alert.resolved"] }
        #expect(try await harness.health("report").state == .ok)
        #expect(try await harness.store.openAlerts().isEmpty, "the alert's row is closed")
    }

    @Test func maxAge_aRestartNeitherRepeatsTheAlertNorForgetsToResolveIt() async throws {
        let directory = try NotificationTestSupport.temporaryDirectory()
        let path = directory.appendingPathComponent("tock.sqlite").path
        let toml = """
            [job.feed]
            schedule = "@daily"
            command = "feed"
            max_age = "2h"
            on_alert = { command = "true" }
            """
        let clock = ManualWallClock(now: Self.start)
        let first = try HealthHarness(toml, path: path, clock: clock)
        try await first.started()
        clock.advance(by: 2 * 3600 + 1)
        try await eventually("down: never succeeded") { try await first.events("feed") == ["job.down"] }
        #expect(try await first.store.openAlerts().map(\.kind) == [.maxAge])
        first.stop()
        try await Task.sleep(for: .milliseconds(200))

        let second = try HealthHarness(toml, path: path, clock: clock)
        defer { second.stop() }
        try await second.started()
        try await eventually("the open alert is read back") { try await second.health("feed").state == .down }
        clock.advance(by: 3600)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await second.events("feed") == ["job.down"], "no second alert after the restart")
        try await second.runToEnd("feed")
        try await eventually("resolved by the restarted daemon") {
            try await second.events("feed") == ["job.down", "alert.resolved"]
        }
    }

    @Test func startGrace_anInstantWaitingForASlotIsLate_andItsStartResolves() async throws {
        let harness = try HealthHarness(
            """
            [job.hog]
            schedule = "@yearly"
            command = "hog"

            [job.hourly]
            schedule = "0 * * * *"
            command = "hourly"
            start_grace = "10m"
            on_failure = { command = "true" }
            """, maxConcurrentRuns: 1)
        let clock = harness.clock
        defer { harness.stop() }
        harness.runner.script("hog", [.hold])
        try await harness.started()
        let hog = try await harness.scheduler.runNow(jobID: "hog")
        try await eventually("hog runs") { harness.runner.calls.contains { $0.executionID == hog } }

        // To the next full hour: the instant is due and waits for the slot the hog holds.
        let next = ceil(clock.now.timeIntervalSince1970 / 3600) * 3600
        clock.set(Date(timeIntervalSince1970: next))
        // The scheduler has fired it (before the clock moves on: a minute late, it would count as missed).
        try await eventually("the instant waits for a slot") {
            try await harness.store.executions(jobID: "hourly", limit: 5).contains { $0.state == .scheduled }
        }
        clock.advance(by: 9 * 60)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await harness.events("hourly").isEmpty, "within the grace")
        clock.advance(by: 60 + 1)
        try await eventually("late") { try await harness.events("hourly") == ["job.late"] }
        #expect(try await harness.health("hourly").state == .late)

        harness.runner.finish(executionID: hog)
        try await eventually("the late run starts and resolves the alert") {
            try await harness.events("hourly").sorted() == ["alert.resolved", "job.late"]
        }
        #expect(harness.runner.calls.contains { $0.jobID == "hourly" })
    }

    @Test func startGrace_onTimeRunsRaiseNothing() async throws {
        let harness = try HealthHarness(
            """
            [job.hourly]
            schedule = "0 * * * *"
            command = "hourly"
            start_grace = "10m"
            on_failure = { command = "true" }
            """)
        let clock = harness.clock
        defer { harness.stop() }
        try await harness.started()
        for _ in 0..<3 {
            let next = (floor(clock.now.timeIntervalSince1970 / 3600) + 1) * 3600
            clock.set(Date(timeIntervalSince1970: next))
            try await eventually("ran") {
                harness.runner.calls.contains { $0.request.scheduledTime.map { $0.timeIntervalSince1970 } == next }
            }
            clock.advance(by: 11 * 60)
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await harness.events("hourly").isEmpty)
        #expect(try await harness.health("hourly").state == .ok)
    }

    @Test func missedInstantsAtStart_oneAlertPerGap_resolvedByTheNextStart() async throws {
        let directory = try NotificationTestSupport.temporaryDirectory()
        let path = directory.appendingPathComponent("tock.sqlite").path
        let store = try SQLiteJobStore(path: path)
        // The job last dealt with an instant five hours before this start: four instants were missed.
        try await store.setLastScheduled(Self.start.addingTimeInterval(-5 * 3600 - 30), jobID: "hourly")
        try await store.setLastScheduled(Self.start.addingTimeInterval(-5 * 3600 - 30), jobID: "quiet")
        let clock = ManualWallClock(now: Self.start)
        let harness = try HealthHarness(
            """
            [job.hourly]
            schedule = "0 * * * *"
            command = "hourly"
            on_failure = { command = "true" }

            [job.quiet]
            schedule = "0 * * * *"
            command = "quiet"
            alert_on_missed = false
            on_failure = { command = "true" }
            """, path: path, clock: clock)
        defer { harness.stop() }
        try await harness.started()
        try await eventually("one job.missed") { try await harness.events("hourly") == ["job.missed"] }
        let delivery = try #require(
            try await harness.store.deliveries(matching: NotificationQuery(jobID: "hourly")).first)
        let event = try JSONValue.parse(try #require(try await harness.store.delivery(id: delivery.id)).payload)
        let detail = try #require(event["alert"]?["detail"]?.stringValue)
        #expect(detail.hasPrefix("5 instants were missed"), "\(detail)")
        #expect(try await harness.health("hourly").state == .late)
        #expect(try await harness.events("quiet").isEmpty, "alert_on_missed = false")

        try await harness.runToEnd("hourly")
        try await eventually("resolved") {
            try await harness.events("hourly").sorted() == ["alert.resolved", "job.missed"]
        }
    }

    @Test func evaluate_precedenceAndStreaks() throws {
        var job = Job(
            id: "j", schedule: try ScheduleExpression(parsing: "@daily"), action: .command("x", shell: "/bin/sh"))
        func record(_ state: ExecutionState, _ minute: Double) -> ExecutionRecord {
            var r = ExecutionRecord(
                jobID: "j", state: state, trigger: .schedule, scheduledAt: Date(timeIntervalSince1970: minute * 60),
                host: "h")
            r.endedAt = r.scheduledAt
            return r
        }
        #expect(JobHealth.evaluate(job: job, paused: false, recent: [], alerts: []).state == .new)
        let failing = [record(.failed, 3), record(.skipped, 2), record(.timeout, 1), record(.succeeded, 0)]
        let health = JobHealth.evaluate(job: job, paused: false, recent: failing, alerts: [])
        #expect(health.state == .failing && health.detail == "2 failing runs in a row", "\(health)")
        #expect(JobHealth.evaluate(job: job, paused: true, recent: failing, alerts: []).state == .paused)
        job.alertAfterFailures = 2
        #expect(JobHealth.evaluate(job: job, paused: true, recent: failing, alerts: []).state == .down)
        let late = JobAlert(jobID: "j", kind: .late, since: .now, detail: "late", alerted: true, eventID: "e")
        let overdue = JobAlert(jobID: "j", kind: .overdue, since: .now, detail: "o", alerted: true, eventID: "f")
        job.alertAfterFailures = nil
        #expect(JobHealth.evaluate(job: job, paused: true, recent: failing, alerts: [late]).state == .late)
        #expect(JobHealth.evaluate(job: job, paused: false, recent: [], alerts: [late, overdue]).state == .overdue)
        let blocked = JobHealth.evaluate(job: job, paused: true, recent: failing, alerts: [], blocked: "no job 'x'")
        #expect(blocked.state == .blocked && blocked.detail == "no job 'x'", "blocked outranks paused and failing")
        #expect(JobHealth.evaluate(job: job, paused: false, recent: [], alerts: [late], blocked: "x").state == .late)
        #expect(
            JobHealth.evaluate(
                job: job, paused: false, recent: [record(.stopped, 1), record(.succeeded, 0)], alerts: []
            )
            .state == .ok)
    }
}
