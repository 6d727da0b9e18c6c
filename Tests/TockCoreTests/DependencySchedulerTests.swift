import CronKit
import Foundation
import Testing
import TockTesting

@testable import TockCore

/// `after` on the manual clock: one test per row of the case table (research §3.2, issue #17), and the race.
@Suite(.timeLimit(.minutes(1)))
struct DependencySchedulerTests {
    typealias Harness = SchedulerTests.Harness

    /// A job with no schedule of its own, run after `upstreams`.
    static func triggered(_ id: String, after upstreams: [String], _ configure: (inout Job) -> Void = { _ in }) -> Job {
        var job = Job(
            id: id, schedule: .unscheduled, action: .command("true", shell: "/bin/sh"),
            source: .file(path: "jobs.d/test.toml", line: 1))
        job.after = upstreams
        configure(&job)
        return job
    }

    /// A job that only runs when asked (a schedule months away from the tests' clock).
    static func manual(_ id: String, _ configure: (inout Job) -> Void = { _ in }) -> Job {
        SchedulerTests.job(id, "0 0 1 6 *", configure)
    }

    static let fanIn = [manual("extract"), manual("load"), triggered("report", after: ["extract", "load"])]

    func runs(_ h: Harness, _ jobID: String) async throws -> [ExecutionRecord] {
        try await h.executions(jobID)
    }

    /// Runs a job by hand and waits until its success is recorded.
    func succeed(_ h: Harness, _ jobID: String, minutes: Double = 1) async throws {
        h.clock.advance(by: minutes * 60)
        let before = try await runs(h, jobID).filter { $0.state == .succeeded }.count
        _ = try await h.scheduler.runNow(jobID: jobID)
        try await eventually("\(jobID) succeeded") {
            try await runs(h, jobID).filter { $0.state == .succeeded }.count == before + 1
        }
    }

    func settleLonger() async throws { try await Task.sleep(for: .milliseconds(200)) }

    // MARK: - Triggered

    @Test func triggered_runsOnceWhenEveryUpstreamSucceeded_withTriggerDependency() async throws {
        let h = Harness(Self.fanIn)
        try await h.running {
            try await succeed(h, "extract")
            try await settleLonger()
            #expect(try await runs(h, "report").isEmpty)
            try await succeed(h, "load")
            try await eventually("report ran") { try await runs(h, "report").map(\.state) == [.succeeded] }
            #expect(try await runs(h, "report").map(\.trigger) == [.dependency])
            // extract again, load not: nothing new to consume from load.
            try await succeed(h, "extract")
            try await settleLonger()
            #expect(try await runs(h, "report").count == 1)
            try await succeed(h, "load")
            try await eventually("second report") { try await runs(h, "report").count == 2 }
        }
    }

    @Test func repeatedUpstreamSuccesses_beforeTheRun_giveOneRun() async throws {
        let h = Harness(Self.fanIn)
        try await h.running {
            for _ in 0..<3 { try await succeed(h, "extract") }
            try await succeed(h, "load")
            try await eventually("report ran") { try await runs(h, "report").count == 1 }
            try await settleLonger()
            #expect(try await runs(h, "report").count == 1)
        }
    }

    @Test func upstreamRetries_onlyTheFinalSuccessCounts() async throws {
        let h = Harness([
            Self.manual("extract") {
                $0.retry.retries = 2
                $0.retry.delay = .zero
            },
            Self.triggered("report", after: ["extract"]),
        ])
        // First run: fails, fails, fails (final failure). Second run: fails once, then succeeds.
        h.runner.script("extract", [.exit(1), .exit(1), .exit(1), .exit(1), .exit(0)])
        try await h.running {
            h.clock.advance(by: 60)
            _ = try await h.scheduler.runNow(jobID: "extract")
            try await eventually("extract failed for good") {
                try await runs(h, "extract").map(\.state) == [.failed]
            }
            try await settleLonger()
            #expect(try await runs(h, "report").isEmpty)
            h.clock.advance(by: 60)
            _ = try await h.scheduler.runNow(jobID: "extract")
            try await eventually("extract succeeded on its retry") {
                try await runs(h, "extract").map(\.state) == [.failed, .succeeded]
            }
            #expect(try await runs(h, "extract").last?.attempt == 2)
            try await eventually("report ran once") { try await runs(h, "report").count == 1 }
            try await settleLonger()
            #expect(try await runs(h, "report").count == 1)
        }
    }

    @Test func manualRunOfTheDependent_ignoresAndConsumesNothing() async throws {
        let h = Harness([Self.manual("extract"), Self.triggered("report", after: ["extract"])])
        try await h.running {
            // Before any upstream success: a manual run is allowed and consumes nothing.
            _ = try await h.scheduler.runNow(jobID: "report")
            try await eventually("manual report") { try await runs(h, "report").map(\.state) == [.succeeded] }
            try await succeed(h, "extract")
            try await eventually("report by dependency, ended") {
                let list = try await runs(h, "report")
                return list.map(\.trigger) == [.manual, .dependency] && list.allSatisfy { $0.state == .succeeded }
            }
            // After the dependency run, a manual run does not reset or consume anything either.
            h.clock.advance(by: 60)
            _ = try await h.scheduler.runNow(jobID: "report")
            try await eventually("second manual") { try await runs(h, "report").count == 3 }
            try await settleLonger()
            #expect(try await runs(h, "report").map(\.trigger) == [.manual, .dependency, .manual])
        }
    }

    /// The classic race: the upstream succeeds twice while its dependent runs → exactly one more run.
    @Test func overlapSkip_satisfactionWhileRunning_isKept_andGivesExactlyOneMoreRun() async throws {
        let h = Harness([Self.manual("extract"), Self.triggered("report", after: ["extract"])])
        h.runner.script("report", [.hold])
        try await h.running {
            try await succeed(h, "extract")
            try await eventually("report running") { h.runner.calls.filter { $0.jobID == "report" }.count == 1 }
            try await succeed(h, "extract")
            try await succeed(h, "extract")
            try await settleLonger()
            #expect(try await runs(h, "report").map(\.state) == [.running])
            h.runner.finish(executionID: h.runner.calls.first { $0.jobID == "report" }!.executionID)
            try await eventually("one more report") { h.runner.calls.filter { $0.jobID == "report" }.count == 2 }
            h.runner.finish(executionID: h.runner.calls.last { $0.jobID == "report" }!.executionID)
            try await eventually("both ended") {
                try await runs(h, "report").map(\.state) == [.succeeded, .succeeded]
            }
            try await settleLonger()
            #expect(try await runs(h, "report").count == 2)
            #expect(try await runs(h, "report").map(\.trigger) == [.dependency, .dependency])
        }
    }

    @Test func overlapAllow_runsAtOnceBesideTheRunningOne() async throws {
        let h = Harness([
            Self.manual("extract"), Self.triggered("report", after: ["extract"]) { $0.overlap = .allow },
        ])
        h.runner.script("report", [.hold])
        try await h.running {
            try await succeed(h, "extract")
            try await eventually("first report") { h.runner.calls.filter { $0.jobID == "report" }.count == 1 }
            try await succeed(h, "extract")
            try await eventually("second report beside it") {
                try await runs(h, "report").map(\.state) == [.running, .running]
            }
        }
    }

    @Test func catchUpAfterDowntime_successesInsideTheWindowGiveOneRun_missedNeverSatisfies() async throws {
        let store = InMemoryJobStore()
        let t0 = SchedulerTests.t0
        func stored(_ id: String, _ state: ExecutionState, endedMinutesAgo: Double) -> ExecutionRecord {
            var e = ExecutionRecord(
                jobID: id, state: state, trigger: .schedule, scheduledAt: t0.addingTimeInterval(-endedMinutesAgo * 60),
                host: "test")
            e.endedAt = e.scheduledAt
            return e
        }
        // extract succeeded twice while the daemon was down; load's only instants were missed.
        try await store.save([
            stored("extract", .succeeded, endedMinutesAgo: 90), stored("extract", .succeeded, endedMinutesAgo: 30),
            stored("load", .missed, endedMinutesAgo: 20),
        ])
        let h = Harness(
            Self.fanIn + [Self.triggered("extract-only", after: ["extract"])], store: store)
        try await h.running {
            try await eventually("one coalesced run") { try await runs(h, "extract-only").count == 1 }
            #expect(try await runs(h, "extract-only").first?.trigger == .dependency)
            try await settleLonger()
            #expect(try await runs(h, "report").isEmpty)
            #expect(try await runs(h, "extract-only").count == 1)
        }
    }

    @Test func aSuccessOlderThanAfterWindow_doesNotCount() async throws {
        let store = InMemoryJobStore()
        var old = ExecutionRecord(
            jobID: "extract", state: .succeeded, trigger: .schedule,
            scheduledAt: SchedulerTests.t0.addingTimeInterval(-3 * 3600), host: "test")
        old.endedAt = old.scheduledAt
        try await store.save(old)
        let h = Harness(
            [Self.manual("extract"), Self.triggered("report", after: ["extract"]) { $0.afterWindow = .seconds(7200) }],
            store: store)
        try await h.running {
            try await settleLonger()
            #expect(try await runs(h, "report").isEmpty)
            #expect(await h.scheduler.status(of: "report")?.dependencies.waitingOn == ["extract"])
            try await succeed(h, "extract")
            try await eventually("fresh success counts") { try await runs(h, "report").count == 1 }
        }
    }

    @Test func pausedDependent_accumulatesAtMostOneRun() async throws {
        let h = Harness([Self.manual("extract"), Self.triggered("report", after: ["extract"])])
        try await h.running {
            try await h.scheduler.pause(jobID: "report")
            for _ in 0..<3 { try await succeed(h, "extract") }
            try await settleLonger()
            #expect(try await runs(h, "report").isEmpty)
            try await h.scheduler.resume(jobID: "report")
            try await eventually("one run on resume") { try await runs(h, "report").count == 1 }
            try await settleLonger()
            #expect(try await runs(h, "report").count == 1)
        }
    }

    @Test func upstreamDeleted_blocksTheDependentVisibly() async throws {
        let h = Harness(Self.fanIn)
        try await h.running {
            try await succeed(h, "extract")
            await h.scheduler.removeJob(id: "load")
            let status = try #require(await h.scheduler.status(of: "report"))
            #expect(status.dependencies.blocked == "upstream 'load' unknown")
            #expect(status.dependencies.edges.map(\.known) == [true, false])
            #expect(await h.scheduler.status(of: "extract")?.dependencies.downstream == ["report"])
            // Defined again, disabled: still shown blocked (a manual run of it would count all the same).
            try await h.scheduler.upsertJob(
                Self.manual("load") {
                    $0.source = .api
                    $0.enabled = false
                })
            #expect(await h.scheduler.status(of: "report")?.dependencies.blocked == "upstream 'load' is disabled")
            // Enabled: the block lifts, and load's next success completes the pair.
            try await h.scheduler.upsertJob(Self.manual("load") { $0.source = .api })
            #expect(await h.scheduler.status(of: "report")?.dependencies.blocked == nil)
            try await succeed(h, "load")
            try await eventually("report ran") { try await runs(h, "report").count == 1 }
        }
    }

    @Test func cycleAtRunTime_blocksItsMembers_andAManualRunTriggersNoLoop() async throws {
        let h = Harness([Self.triggered("a", after: ["b"]), Self.triggered("b", after: ["a"])])
        try await h.running {
            #expect(await h.scheduler.status(of: "a")?.dependencies.blocked == "cycle a → b → a")
            _ = try await h.scheduler.runNow(jobID: "a")
            try await eventually("a ran") { try await runs(h, "a").count == 1 }
            try await settleLonger()
            #expect(try await runs(h, "b").isEmpty)
        }
    }

    /// A `kill -9` after the dependent's row (and its consumed cursors) was written, before its process started:
    /// the next start makes the run again, once — the satisfaction is neither lost nor doubled.
    @Test func aRunByDependencyInterruptedBeforeItStarted_isMadeAgainOnce() async throws {
        let store = InMemoryJobStore()
        let t0 = SchedulerTests.t0
        var success = ExecutionRecord(
            jobID: "extract", state: .succeeded, trigger: .manual, scheduledAt: t0.addingTimeInterval(-120),
            host: "test")
        success.endedAt = t0.addingTimeInterval(-110)
        try await store.save(success)
        let lost = ExecutionRecord(
            jobID: "report", state: .scheduled, trigger: .dependency, scheduledAt: t0.addingTimeInterval(-100),
            host: "test")
        let consumed = DependencyCursor(
            jobID: "report", upstreamID: "extract", endedAt: success.endedAt!, executionID: success.id)
        #expect(try await store.consumeDependencies([consumed], saving: lost))
        // A run that had started is not made again (it ran; it is only interrupted).
        var started = ExecutionRecord(
            jobID: "other", state: .running, trigger: .dependency, scheduledAt: t0.addingTimeInterval(-90),
            host: "test")
        started.startedAt = started.scheduledAt
        try await store.save(started)
        let h = Harness(
            [
                Self.manual("extract"), Self.triggered("report", after: ["extract"]),
                Self.triggered("other", after: ["extract"]),
            ],
            store: store)
        try await h.running {
            try await eventually("made again") {
                try await runs(h, "report").map(\.state) == [.interrupted, .succeeded]
            }
            try await settleLonger()
            let report = try await runs(h, "report")
            #expect(report.count == 2 && report.last?.trigger == .dependency)
            #expect(report.last?.message == nil || report.last?.message?.contains(lost.id) == true)
            // `other` had not consumed extract's success: it runs once for it, as any dependent would.
            #expect(try await runs(h, "other").map(\.state) == [.interrupted, .succeeded])
        }
    }

    // MARK: - Gated

    static func gated(_ configure: (inout Job) -> Void = { _ in }) -> [Job] {
        [
            manual("report"),
            SchedulerTests.job("publish", "30 8 * * *") {
                $0.after = ["report"]
                $0.afterWait = .seconds(30 * 60)
                configure(&$0)
            },
        ]
    }

    @Test func gated_runsItsInstantWhenTheUpstreamSucceededSinceItLastRan() async throws {
        let h = Harness(Self.gated(), now: SchedulerTests.t0)
        try await h.running {
            h.clock.set(h.at("2026-01-01T02:40:00Z"))
            try await succeed(h, "report")
            h.clock.set(h.at("2026-01-01T08:30:00Z"))
            try await eventually("publish ran at its instant") {
                try await runs(h, "publish").map(\.state) == [.succeeded]
            }
            let run = try #require(try await runs(h, "publish").first)
            #expect(run.trigger == .schedule && run.scheduledAt == h.at("2026-01-01T08:30:00Z"))
        }
    }

    @Test func gated_waitsUpToAfterWait_thenSkipsWithTheReason() async throws {
        let h = Harness(Self.gated(), now: SchedulerTests.t0)
        try await h.running {
            h.clock.set(h.at("2026-01-01T02:40:00Z"))
            try await succeed(h, "report")  // ends Thu 02:41
            h.clock.set(h.at("2026-01-01T08:30:00Z"))
            try await eventually("first day ran") { try await runs(h, "publish").count == 1 }
            // The next day report does not succeed.
            h.clock.set(h.at("2026-01-02T08:30:00Z"))
            try await eventually("waiting") {
                try await runs(h, "publish").last.map { $0.state == .scheduled && $0.message == "waiting on report" }
                    == true
            }
            #expect(await h.scheduler.status(of: "publish")?.dependencies.gateWaiting == true)
            h.clock.set(h.at("2026-01-02T09:00:00Z"))
            try await eventually("skipped at the end of after_wait") {
                try await runs(h, "publish").last?.state == .skipped
            }
            #expect(
                try await runs(h, "publish").last?.message == "dependency not met: report, last success Thu 02:41")
            #expect(h.runner.calls.filter { $0.jobID == "publish" }.count == 1)
        }
    }

    @Test func gated_waitingInstantRunsWhenTheUpstreamSucceedsInTime() async throws {
        let h = Harness(Self.gated(), now: SchedulerTests.t0)
        try await h.running {
            h.clock.set(h.at("2026-01-01T08:30:00Z"))
            try await eventually("waiting") { try await runs(h, "publish").last?.state == .scheduled }
            h.clock.set(h.at("2026-01-01T08:44:00Z"))
            try await succeed(h, "report")
            try await eventually("released") { try await runs(h, "publish").map(\.state) == [.succeeded] }
            #expect(try await runs(h, "publish").first?.scheduledAt == h.at("2026-01-01T08:30:00Z"))
        }
    }

    @Test func gated_withoutAfterWait_skipsAtOnce_neverHavingSucceeded() async throws {
        let h = Harness(Self.gated { $0.afterWait = .zero }, now: SchedulerTests.t0)
        try await h.running {
            h.clock.set(h.at("2026-01-01T08:30:00Z"))
            try await eventually("skipped") { try await runs(h, "publish").last?.state == .skipped }
            #expect(try await runs(h, "publish").last?.message == "dependency not met: report, never succeeded")
        }
    }
}
