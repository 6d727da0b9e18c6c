import CronKit
import Foundation
import Logging
import Synchronization
import Testing
import TockTesting

@testable import TockCore

/// The scheduler on a manual clock with a recording runner: no real sleeps, no processes.
@Suite(.timeLimit(.minutes(1)))
struct SchedulerTests {
    static let t0 = Date(timeIntervalSince1970: 1_767_225_630)  // 2026-01-01T00:00:30Z

    struct Harness {
        let clock: ManualWallClock
        let store: InMemoryJobStore
        let runner: RecordingJobRunner
        let scheduler: Scheduler

        init(
            _ jobs: [Job], now: Date = SchedulerTests.t0, store: InMemoryJobStore = InMemoryJobStore(),
            configuration: SchedulerConfiguration = SchedulerConfiguration(host: "test"), jitter: Double = 0.5
        ) {
            clock = ManualWallClock(now: now)
            self.store = store
            runner = RecordingJobRunner(clock: clock)
            scheduler = Scheduler(
                jobs: jobs, store: store, runner: runner, clock: clock, configuration: configuration,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), jitterFraction: { jitter })
        }

        /// Runs the scheduler for the body, then cancels it.
        func running(_ body: () async throws -> Void) async throws {
            let task = Task { try await scheduler.run() }
            defer { task.cancel() }
            try await eventually("scheduler started") { await scheduler.started }
            try await body()
        }

        func executions(_ jobID: String? = nil) async throws -> [ExecutionRecord] {
            try await store.executions(jobID: jobID, limit: 1000).reversed()
        }

        func at(_ iso: String) -> Date { Date(parsing: iso, defaultZone: ZoneRules.rules(forIdentifier: "UTC")!)! }
    }

    static func job(_ id: String, _ schedule: String, _ configure: (inout Job) -> Void = { _ in }) -> Job {
        // swift-format-ignore: NeverUseForceTry
        // The schedules below are literals of this file; a typo should stop the suite loudly.
        var job = Job(
            id: id, schedule: try! ScheduleExpression(parsing: schedule), action: .command("true", shell: "/bin/sh"),
            source: .file(path: "jobs.d/test.toml", line: 1))
        configure(&job)
        return job
    }

    @Test func firesAtTheScheduledInstant_andRecordsIt() async throws {
        let h = Harness([Self.job("five", "*/5 * * * *")])
        try await h.running {
            h.clock.set(h.at("2026-01-01T00:04:59Z"))
            try await settle()
            #expect(h.runner.calls.isEmpty)
            h.clock.set(h.at("2026-01-01T00:05:00Z"))
            try await eventually("one succeeded run") { try await h.executions().map(\.state) == [.succeeded] }
            let e = try #require(try await h.executions().first)
            #expect(e.scheduledAt == h.at("2026-01-01T00:05:00Z") && e.trigger == .schedule && e.host == "test")
            #expect(h.runner.calls.first?.request.environment["TOCK_SCHEDULED_TIME"] == "2026-01-01T00:05:00+00:00")
            h.clock.set(h.at("2026-01-01T00:10:00Z"))
            try await eventually("second run") { try await h.executions().count == 2 }
        }
    }

    @Test func perJobTimeZone_followsDSTRules() async throws {
        let h = Harness(
            [Self.job("ny", "30 2 * * *") { $0.timezone = "America/New_York" }],
            now: Date(timeIntervalSince1970: 1_772_928_000))  // 2026-03-08T00:00Z
        try await h.running {
            // 02:30 does not exist that day: 03:00 EDT, the first instant after the gap.
            #expect(await h.scheduler.nextFireTimes()["ny"] == h.at("2026-03-08T07:00:00Z"))
        }
    }

    @Test func overlapSkip_recordsSkipped() async throws {
        let h = Harness([Self.job("j", "* * * * *")])
        h.runner.script("j", [.hold])
        try await h.running {
            h.clock.set(h.at("2026-01-01T00:01:00Z"))
            try await eventually("running") { h.runner.calls.count == 1 }
            h.clock.set(h.at("2026-01-01T00:02:00Z"))
            try await eventually("skipped") { try await h.executions().map(\.state) == [.running, .skipped] }
            h.runner.finish(executionID: h.runner.calls[0].executionID)
            try await eventually("finished") { try await h.executions().map(\.state) == [.succeeded, .skipped] }
        }
    }

    @Test func overlapQueue_startsAfterThePreviousRun() async throws {
        let h = Harness([Self.job("j", "* * * * *") { $0.overlap = .queue }])
        h.runner.script("j", [.hold])
        try await h.running {
            h.clock.set(h.at("2026-01-01T00:01:00Z"))
            try await eventually("first running") { h.runner.calls.count == 1 }
            h.clock.set(h.at("2026-01-01T00:02:00Z"))
            try await eventually("second queued") { try await h.executions().map(\.state) == [.running, .scheduled] }
            h.runner.finish(executionID: h.runner.calls[0].executionID)
            try await eventually("second started") { h.runner.calls.count == 2 }
            #expect(try await h.executions().map(\.state) == [.succeeded, .running])
        }
    }

    @Test func overlapReplace_stopsTheRunningOne() async throws {
        let h = Harness([Self.job("j", "* * * * *") { $0.overlap = .replace }])
        h.runner.script("j", [.hold])
        try await h.running {
            h.clock.set(h.at("2026-01-01T00:01:00Z"))
            try await eventually("first running") { h.runner.calls.count == 1 }
            h.clock.set(h.at("2026-01-01T00:02:00Z"))
            try await eventually("replaced") { try await h.executions().map(\.state) == [.stopped, .running] }
        }
    }

    @Test func overlapAllow_runsConcurrently() async throws {
        let h = Harness([Self.job("j", "* * * * *") { $0.overlap = .allow }])
        h.runner.script("j", [.hold])
        try await h.running {
            h.clock.set(h.at("2026-01-01T00:01:00Z"))
            try await eventually("first") { h.runner.calls.count == 1 }
            h.clock.set(h.at("2026-01-01T00:02:00Z"))
            try await eventually("both running") { try await h.executions().map(\.state) == [.running, .running] }
        }
    }

    @Test(arguments: [
        (
            CatchupPolicy.skip, [ExecutionState.missed, .missed, .missed],
            [ExecutionTrigger.schedule, .schedule, .schedule]
        ),
        (.latest, [.missed, .missed, .succeeded], [.schedule, .schedule, .catchup]),
        (.all, [.succeeded, .succeeded, .succeeded], [.catchup, .catchup, .catchup]),
    ])
    func catchup_afterDowntime(_ policy: CatchupPolicy, _ states: [ExecutionState], _ triggers: [ExecutionTrigger])
        async throws
    {
        let store = InMemoryJobStore()
        // The daemon last dealt with 00:00 and comes back at 03:30: 01:00, 02:00 and 03:00 were missed.
        try await store.setLastScheduled(Date(timeIntervalSince1970: 1_767_225_600), jobID: "hourly")
        let h = Harness(
            [Self.job("hourly", "0 * * * *") { $0.catchup = policy }], now: Date(timeIntervalSince1970: 1_767_238_200),
            store: store)
        try await h.running {
            try await eventually("three records") { try await h.executions().filter(\.state.isFinal).count == 3 }
            let executions = try await h.executions()
            #expect(executions.map(\.state) == states)
            #expect(executions.map(\.trigger) == triggers)
            #expect(
                executions.map(\.scheduledAt) == [
                    h.at("2026-01-01T01:00:00Z"), h.at("2026-01-01T02:00:00Z"), h.at("2026-01-01T03:00:00Z"),
                ])
            #expect(await h.scheduler.nextFireTimes()["hourly"] == h.at("2026-01-01T04:00:00Z"))
        }
    }

    @Test func catchupAll_isBoundedByWindow() async throws {
        let store = InMemoryJobStore()
        try await store.setLastScheduled(Date(timeIntervalSince1970: 1_767_225_600), jobID: "hourly")
        let h = Harness(
            [
                Self.job("hourly", "0 * * * *") {
                    $0.catchup = .all; $0.catchupWindow = .seconds(2 * 3600)
                }
            ],
            now: Date(timeIntervalSince1970: 1_767_238_200), store: store)
        try await h.running {
            try await eventually("two catch-up runs") { try await h.executions().count == 2 }
            #expect(
                try await h.executions().map(\.scheduledAt) == [
                    h.at("2026-01-01T02:00:00Z"), h.at("2026-01-01T03:00:00Z"),
                ])
        }
    }

    @Test func jitter_delaysTheStart() async throws {
        let h = Harness([Self.job("j", "0 * * * *") { $0.jitter = .seconds(600) }], jitter: 0.5)
        try await h.running {
            h.clock.set(h.at("2026-01-01T01:00:00Z"))
            try await eventually("recorded as scheduled") { try await h.executions().map(\.state) == [.scheduled] }
            #expect(h.runner.calls.isEmpty)
            h.clock.set(h.at("2026-01-01T01:04:59Z"))
            try await settle()
            #expect(h.runner.calls.isEmpty)
            h.clock.set(h.at("2026-01-01T01:05:00Z"))
            try await eventually("started after 5 minutes") { try await h.executions().map(\.state) == [.succeeded] }
            #expect(try await h.executions().first?.startedAt == h.at("2026-01-01T01:05:00Z"))
        }
    }

    @Test func reboot_runsOnceAtStart_andEveryUsesFixedIntervals() async throws {
        let h = Harness([Self.job("boot", "@reboot"), Self.job("tick", "@every 90s")])
        try await h.running {
            try await eventually("reboot ran") { try await h.executions("boot").map(\.trigger) == [.reboot] }
            #expect(await h.scheduler.nextFireTimes()["tick"] == Self.t0.addingTimeInterval(90))
            h.clock.advance(by: 90)
            try await eventually("tick") { try await h.executions("tick").count == 1 }
            #expect(await h.scheduler.nextFireTimes()["tick"] == Self.t0.addingTimeInterval(180))
            #expect(try await h.executions("boot").count == 1)
        }
    }

    @Test func disabledJob_isNeverScheduled() async throws {
        let h = Harness([Self.job("off", "* * * * *") { $0.enabled = false }])
        try await h.running {
            #expect(await h.scheduler.nextFireTimes()["off"] == nil)
            h.clock.advance(by: 600)
            try await settle()
            #expect(h.runner.calls.isEmpty)
        }
    }

    @Test func pauseAndResume() async throws {
        let h = Harness([Self.job("j", "* * * * *")])
        try await h.running {
            try await h.scheduler.pause(jobID: "j")
            h.clock.set(h.at("2026-01-01T00:03:00Z"))
            try await settle()
            #expect(h.runner.calls.isEmpty)
            try await h.scheduler.resume(jobID: "j")
            #expect(await h.scheduler.nextFireTimes()["j"] == h.at("2026-01-01T00:04:00Z"))
            h.clock.set(h.at("2026-01-01T00:04:00Z"))
            try await eventually("runs again") { h.runner.calls.count == 1 }
            #expect(try await h.store.state(ofJob: "j").paused == false)
            #expect(try await h.store.auditLog(limit: 10).isEmpty, "the audit log is JobCatalog's")
        }
    }

    @Test func runNow_returnsAtOnce_andObeysOverlap() async throws {
        let h = Harness([Self.job("j", "@yearly")])
        h.runner.script("j", [.hold])
        try await h.running {
            let id = try await h.scheduler.runNow(jobID: "j")
            try await eventually("running") { try await h.store.execution(id: id)?.state == .running }
            #expect(try await h.store.execution(id: id)?.trigger == .manual)
            await #expect(throws: Scheduler.ControlError.alreadyRunning(jobID: "j", executionID: id)) {
                _ = try await h.scheduler.runNow(jobID: "j")
            }
            let forced = try await h.scheduler.runNow(jobID: "j", force: true)
            try await eventually("forced run") { h.runner.calls.count == 2 }
            await #expect(throws: Scheduler.ControlError.unknownJob("nope")) {
                _ = try await h.scheduler.runNow(jobID: "nope")
            }
            #expect(await h.scheduler.stop(executionID: forced) == .stopped(jobID: "j"))
            try await eventually("stopped") { try await h.store.execution(id: forced)?.state == .stopped }
            #expect(try await h.store.auditLog(limit: 10).isEmpty, "the audit log is JobCatalog's")
        }
    }

    @Test func maxConcurrentRuns_makesFurtherRunsWait() async throws {
        let h = Harness(
            [Self.job("a", "* * * * *"), Self.job("b", "* * * * *")],
            configuration: SchedulerConfiguration(host: "t", maxConcurrentRuns: 1))
        h.runner.script("a", [.hold])
        h.runner.script("b", [.hold])
        try await h.running {
            h.clock.set(h.at("2026-01-01T00:01:00Z"))
            try await eventually("one runs, one waits") {
                try await h.executions().map(\.state).sorted { $0.rawValue < $1.rawValue } == [.running, .scheduled]
            }
            // The row says running before the runner is called: wait for the call.
            try await eventually("one runner call") { h.runner.calls.count == 1 }
            try await settle()
            #expect(h.runner.calls.count == 1, "the second run waits for a slot")
            h.runner.finish(executionID: h.runner.calls[0].executionID)
            try await eventually("the other starts") { h.runner.calls.count == 2 }
        }
    }

    @Test func wallClockStepBackwards_firesNothingTwice() async throws {
        let h = Harness([Self.job("j", "* * * * *")])
        try await h.running {
            h.clock.set(h.at("2026-01-01T00:01:00Z"))
            try await eventually("ran") { try await h.executions().map(\.state) == [.succeeded] }
            h.clock.set(h.at("2026-01-01T00:00:40Z"))  // NTP steps the clock back 20 s, before 00:01 again
            try await settle()
            h.clock.set(h.at("2026-01-01T00:01:30Z"))  // 00:01 passes a second time
            try await settle()
            #expect(h.runner.calls.count == 1)
            h.clock.set(h.at("2026-01-01T00:02:00Z"))
            try await eventually("next instant") { h.runner.calls.count == 2 }
            let instants = try await h.executions().map(\.scheduledAt)
            #expect(instants == [h.at("2026-01-01T00:01:00Z"), h.at("2026-01-01T00:02:00Z")])
        }
    }

    @Test func wallClockStepForward_turnsSkippedInstantsIntoMissed() async throws {
        let h = Harness([Self.job("j", "*/10 * * * *")])
        try await h.running {
            h.clock.set(h.at("2026-01-01T00:35:00Z"))  // jumps 35 minutes
            try await eventually("three missed") { try await h.executions().filter { $0.state == .missed }.count == 3 }
            #expect(h.runner.calls.isEmpty)
            #expect(await h.scheduler.nextFireTimes()["j"] == h.at("2026-01-01T00:40:00Z"))
        }
    }

    @Test func startUp_marksLeftoverRunningExecutionsInterrupted() async throws {
        let store = InMemoryJobStore()
        let left = ExecutionRecord(jobID: "j", state: .running, trigger: .schedule, scheduledAt: Self.t0, host: "old")
        try await store.save(left)
        let h = Harness([Self.job("j", "@yearly")], store: store)
        try await h.running {
            let state = try await store.execution(id: left.id)?.state
            #expect(state == .interrupted)
        }
    }

    @Test func gracefulShutdown_stopsRunsAfterGrace() async throws {
        let h = Harness(
            [Self.job("j", "* * * * *")], configuration: SchedulerConfiguration(host: "t", shutdownGrace: .seconds(30)))
        h.runner.script("j", [.hold])
        let task = Task { try await h.scheduler.run() }
        try await eventually("started") { await h.scheduler.started }
        h.clock.set(h.at("2026-01-01T00:01:00Z"))
        try await eventually("running") { h.runner.calls.count == 1 }
        h.scheduler.signals.shuttingDown = true
        h.scheduler.wake()
        // Wait until the scheduler sleeps until the end of the grace, before moving the clock there.
        let graceEnd = h.at("2026-01-01T00:01:30Z")
        try await eventually("draining") { h.clock.sleeperDeadlines.contains(graceEnd) }
        #expect(try await h.executions().map(\.state) == [.running], "still within the grace")
        h.clock.set(graceEnd)
        try await task.value
        #expect(try await h.executions().map(\.state) == [.stopped])
    }

    /// A reload changes only what changed: an unchanged job keeps its revision, a changed one is rescheduled, a new
    /// one added, a removed one unscheduled; an API job is neither removed nor replaced by a file job of its id; of
    /// two definitions of one id the last wins.
    @Test func replaceJobs_changesOnlyWhatChanged_andLeavesAPIJobsAlone() async throws {
        let h = Harness([
            Self.job("same", "* * * * *"), Self.job("moved", "*/5 * * * *"), Self.job("gone", "* * * * *"),
        ])
        try await h.running {
            try await h.scheduler.upsertJob(Self.job("api", "0 * * * *") { $0.source = .api })
            let sameRevision = h.scheduler.revision(ofJob: "same")
            await h.scheduler.replaceJobs([
                Self.job("same", "* * * * *"), Self.job("moved", "*/3 * * * *"), Self.job("moved", "*/2 * * * *"),
                Self.job("new", "*/4 * * * *"), Self.job("api", "* * * * *"),
            ])
            let next = await h.scheduler.nextFireTimes()
            #expect(next["gone"] == nil)
            #expect(next["moved"] == h.at("2026-01-01T00:02:00Z"), "the last definition wins")
            #expect(next["new"] == h.at("2026-01-01T00:04:00Z"))
            #expect(next["api"] == h.at("2026-01-01T01:00:00Z"), "the API job is kept as it is")
            #expect(await h.scheduler.catalogIDs().ids.sorted() == ["api", "moved", "new", "same"])
            #expect(await h.scheduler.statuses(ofIDs: ["api"]).first?.job.source == .api)
            #expect(h.scheduler.revision(ofJob: "same") == sameRevision, "unchanged: not noted")
        }
    }

    @Test func replaceJobs_addsAndRemoves() async throws {
        let h = Harness([Self.job("old", "* * * * *")])
        try await h.running {
            await h.scheduler.replaceJobs([Self.job("new", "*/2 * * * *")])
            let next = await h.scheduler.nextFireTimes()
            #expect(next["old"] == nil && next["new"] == h.at("2026-01-01T00:02:00Z"))
            h.clock.set(h.at("2026-01-01T00:02:00Z"))
            try await eventually("new ran") { h.runner.calls.map(\.jobID) == ["new"] }
        }
    }
}

/// Gives the scheduler time to act on a clock change that should cause nothing.
func settle() async throws {
    try await Task.sleep(for: .milliseconds(50))
}
