import Foundation
import Testing
import TockCore
import TockJSON
import TockSQLite
import TockTesting

/// The scheduler with a planner, a real SQLite outbox and real processes: events on final states only.
@Suite(.timeLimit(.minutes(1)))
struct NotificationSchedulerTests {
    @Test func oneEventAfterTheRetries_thenOneRecovery() async throws {
        let directory = try NotificationTestSupport.temporaryDirectory()
        let store = try SQLiteJobStore(path: directory.appendingPathComponent("tock.sqlite").path)
        let marker = directory.appendingPathComponent("fixed").path
        let job = try NotificationTestSupport.job(
            """
            [job.flaky]
            schedule = "@daily"
            command = "test -f \(marker)"
            retries = 2
            retry_delay = "10ms"
            on_failure = { command = "true" }
            """)
        var configuration = SchedulerConfiguration(host: "test")
        configuration.notifications = NotificationPlanner(settings: NotificationSettings())
        let scheduler = Scheduler(
            jobs: [job], store: store, runner: ProcessJobRunner(), configuration: configuration,
            logger: NotificationTestSupport.quietLogger)
        let task = Task { try await scheduler.run() }
        defer { task.cancel() }
        // Started: a run asked for before the start-up recovery would be marked interrupted by it.
        try await eventually("scheduled") { await !scheduler.nextFireTimes().isEmpty }

        func runAndWait() async throws -> (ExecutionRecord, [NotificationDelivery]) {
            var id = ""
            try await eventually("run now accepted") {
                guard let started = try? await scheduler.runNow(jobID: "flaky") else { return false }
                id = started
                return true
            }
            var result: (ExecutionRecord, [NotificationDelivery])?
            try await eventually("final and written") {
                guard let record = try await store.execution(id: id), record.state.isFinal else { return false }
                result = (record, try await store.deliveries(matching: NotificationQuery(executionID: id)))
                return true
            }
            return try #require(result)
        }

        let (failed, failedDeliveries) = try await runAndWait()
        #expect(failed.state == .failed && failed.attempt == 3, "\(failed)")
        #expect(failedDeliveries.map(\.eventType) == ["execution.failed"], "one event for three attempts")
        #expect(failedDeliveries.first?.channel == .command)

        FileManager.default.createFile(atPath: marker, contents: nil)
        let (recovered, recoveredDeliveries) = try await runAndWait()
        #expect(recovered.state == .succeeded)
        #expect(recoveredDeliveries.map(\.eventType) == ["execution.recovered"], "to on_failure's targets")
        let (_, quiet) = try await runAndWait()
        #expect(quiet.isEmpty, "a success after a success notifies nobody without on_success")
    }

    @Test func alertAfterFailures_alertsOnceWhenDown_andResolvesOnce() async throws {
        let directory = try NotificationTestSupport.temporaryDirectory()
        let store = try SQLiteJobStore(path: directory.appendingPathComponent("tock.sqlite").path)
        let marker = directory.appendingPathComponent("fixed").path
        let job = try NotificationTestSupport.job(
            """
            [job.nightly]
            schedule = "@daily"
            command = "test -f \(marker)"
            alert_after_failures = 2
            on_failure = { command = "true" }
            on_alert = { command = "true", mail = "oncall@example.com" }
            """)
        var configuration = SchedulerConfiguration(host: "test")
        configuration.notifications = NotificationPlanner(settings: NotificationSettings())
        let scheduler = Scheduler(
            jobs: [job], store: store, runner: ProcessJobRunner(), configuration: configuration,
            logger: NotificationTestSupport.quietLogger)
        let task = Task { try await scheduler.run() }
        defer { task.cancel() }
        try await eventually("scheduled") { await !scheduler.nextFireTimes().isEmpty }

        func events() async throws -> [String] {
            var id = ""
            try await eventually("run now accepted") {
                guard let started = try? await scheduler.runNow(jobID: "nightly") else { return false }
                id = started
                return true
            }
            var types: [String] = []
            try await eventually("final and written") {
                guard let record = try await store.execution(id: id), record.state.isFinal else { return false }
                types = try await store.deliveries(matching: NotificationQuery(executionID: id)).map {
                    "\($0.eventType) \($0.channel.rawValue)"
                }.sorted()
                return true
            }
            return types
        }

        #expect(try await events() == ["execution.failed command"])
        #expect(try await events() == ["execution.failed command", "job.down command", "job.down mail"])
        #expect(try await events() == ["execution.failed command"], "down already: no second alert")
        FileManager.default.createFile(atPath: marker, contents: nil)
        #expect(
            try await events() == ["alert.resolved command", "alert.resolved mail", "execution.recovered command"])
        #expect(try await events() == [], "ok again: nothing")
        let down = try #require(
            try await store.deliveries(matching: NotificationQuery(jobID: "nightly")).first {
                $0.eventType == "job.down" && $0.channel == .command
            })
        let stored = try #require(try await store.delivery(id: down.id))
        let event = try JSONValue.parse(stored.payload)
        let text = try #require(event["text"]?.stringValue)
        #expect(text.hasPrefix("nightly is down on ") && text.contains(": 2 failing runs in a row (last: exit 1)"))
        #expect(event["alert"]?["detail"]?.stringValue == "2 failing runs in a row")
        #expect(event["consecutive_failures"] == .int(2))
    }
}

/// `warn_after` on the manual clock: the alert goes out while the run still runs, and its end resolves it.
@Suite(.timeLimit(.minutes(1)))
struct OverdueAlertTests {
    @Test func warnAfter_alertsWhileRunning_andResolvesAtTheEnd() async throws {
        let directory = try NotificationTestSupport.temporaryDirectory()
        let store = try SQLiteJobStore(path: directory.appendingPathComponent("tock.sqlite").path)
        let job = try NotificationTestSupport.job(
            """
            [job.backup]
            schedule = "@daily"
            command = "backup"
            warn_after = "45m"
            on_failure = { command = "true" }
            """)
        let clock = ManualWallClock(now: Date(timeIntervalSince1970: 1_796_000_000))
        let runner = RecordingJobRunner(clock: clock)
        runner.script("backup", [.hold])
        var configuration = SchedulerConfiguration(host: "test")
        let planner = NotificationPlanner(settings: NotificationSettings())
        configuration.notifications = planner
        let scheduler = Scheduler(
            jobs: [job], store: store, runner: runner, clock: clock, configuration: configuration,
            logger: NotificationTestSupport.quietLogger)
        let monitor = JobHealthMonitor(
            planner: planner, outbox: store, clock: clock, logger: NotificationTestSupport.quietLogger)
        let loop = Task { try await scheduler.run() }
        let watch = Task { try await monitor.run() }
        defer {
            loop.cancel()
            watch.cancel()
        }
        try await eventually("scheduled") { await !scheduler.nextFireTimes().isEmpty }
        let id = try await scheduler.runNow(jobID: "backup")
        // The runner has it: the run's start (and its watch, taken just before) is behind us, so the clock may move.
        try await eventually("running") { runner.calls.contains { $0.executionID == id } }

        clock.advance(by: 44 * 60)
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await store.deliveries(matching: NotificationQuery(executionID: id)).isEmpty, "not yet")

        clock.advance(by: 60)
        try await eventually("overdue while running") {
            try await store.deliveries(matching: NotificationQuery(executionID: id)).map(\.eventType) == ["job.overdue"]
        }
        #expect(try await store.execution(id: id)?.state == .running, "alerted while the run goes on")
        clock.advance(by: 3600)
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await store.deliveries(matching: NotificationQuery(executionID: id)).count == 1, "once")

        runner.finish(executionID: id, exitCode: 0)
        try await eventually("resolved at the end") {
            try await store.deliveries(matching: NotificationQuery(executionID: id)).map(\.eventType).sorted()
                == ["alert.resolved", "job.overdue"]
        }
    }
}

/// What a success of a job with only `on_success` costs: its event, and no read of the job's history (a burst of
/// such jobs reads nothing); with failure targets the history is read, for the recovery.
@Suite(.timeLimit(.minutes(1)))
struct SuccessOnlyPlanningTests {
    @Test func onSuccessAlone_readsNoHistory_failureTargetsDo() async throws {
        let directory = try NotificationTestSupport.temporaryDirectory()
        let store = try SQLiteJobStore(path: directory.appendingPathComponent("tock.sqlite").path)
        let ping = try NotificationTestSupport.job(
            "[job.ping]\nschedule = \"@daily\"\ncommand = \"x\"\non_success = { command = \"true\" }\n")
        var earlier = NotificationTestSupport.record(ping, state: .failed)
        earlier.scheduledAt = earlier.scheduledAt.addingTimeInterval(-3600)
        try await store.save(earlier)
        let planner = NotificationPlanner(settings: NotificationSettings())
        let success = NotificationTestSupport.record(ping, state: .succeeded, exitCode: 0)
        let alone = await planner.deliveries(for: success, job: ping, store: store, at: Date())
        #expect(alone.map(\.eventType) == ["execution.succeeded"])
        let event = try JSONValue.parse(try #require(alone.first).payload)
        #expect(event["previous_state"] == .null, "the earlier failure was not read")

        var watched = ping
        watched.onFailure = Notification(command: "true")
        let withFailures = await NotificationPlanner(settings: NotificationSettings()).deliveries(
            for: success, job: watched, store: store, at: Date())
        #expect(withFailures.map(\.eventType).sorted() == ["execution.recovered", "execution.succeeded"])
    }
}
