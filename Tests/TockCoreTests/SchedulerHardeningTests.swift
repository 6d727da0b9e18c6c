import CronKit
import Foundation
import Logging
import Testing
import TockTesting

@testable import TockCore

/// The scheduler under a crash, a stall, a short restart and a full disk (issue 11): no instant runs twice, the
/// catch-up policies say what happens to every instant, leftover processes are stopped, no record is lost.
@Suite(.timeLimit(.minutes(1)))
struct SchedulerHardeningTests {
    typealias Harness = SchedulerTests.Harness
    static let t0 = SchedulerTests.t0  // 2026-01-01T00:00:30Z
    static func job(_ id: String, _ schedule: String, _ configure: (inout Job) -> Void = { _ in }) -> Job {
        SchedulerTests.job(id, schedule, configure)
    }

    /// A restart 30 s after the last instant dealt with, for a job due every second.
    @Test(arguments: [CatchupPolicy.skip, .latest, .all])
    func shortRestart_followsTheCatchupPolicy_andSkipsNothing(_ policy: CatchupPolicy) async throws {
        let store = InMemoryJobStore()
        try await store.setLastScheduled(Self.t0.addingTimeInterval(-30), jobID: "s")
        let h = Harness([Self.job("s", "* * * * * *") { $0.catchup = policy }], store: store)
        try await h.running {
            let expected = policy == .all ? 30 : 1
            try await eventually("\(expected) runs") {
                try await h.executions().filter { $0.state == .succeeded }.count == expected
            }
            try await settle()
            let executions = try await h.executions()
            #expect(h.runner.calls.count == expected)
            #expect(!executions.contains { $0.state == .skipped }, "\(executions.map(\.state))")
            // Every instant from t0-29 to t0 has exactly one row.
            let instants = executions.map(\.scheduledAt)
            #expect(instants == (0..<30).map { Self.t0.addingTimeInterval(Double($0 - 29)) })
            let missed = executions.filter { $0.state == .missed }.count
            #expect(missed == (policy == .all ? 0 : 29))
            // The on-time instant runs on schedule; with `all` the missed ones before it run as catch-up runs.
            #expect(executions.last?.trigger == .schedule && executions.last?.state == .succeeded)
            if policy == .all { #expect(executions.dropLast().allSatisfy { $0.trigger == .catchup }) }
        }
    }

    @Test func aStallOfFortyFiveSeconds_isTheSameAsDowntime() async throws {
        let h = Harness([Self.job("s", "* * * * * *")])
        try await h.running {
            h.clock.set(Self.t0.addingTimeInterval(45))
            try await eventually("caught up") { try await h.executions().count == 45 }
            let executions = try await h.executions()
            #expect(executions.filter { $0.state == .missed }.count == 44)
            #expect(executions.last?.scheduledAt == Self.t0.addingTimeInterval(45))
            #expect(!executions.contains { $0.state == .skipped })
            try await eventually("the on-time instant ran") { h.runner.calls.count == 1 }
            try await settle()
            #expect(h.runner.calls.count == 1)
        }
    }

    @Test func lateByLessThanTheTolerance_stillRuns() async throws {
        // A minutely job whose instant the daemon reaches 20 s late (a short restart): late, not missed.
        let store = InMemoryJobStore()
        try await store.setLastScheduled(Self.t0.addingTimeInterval(-30), jobID: "m")
        let h = Harness([Self.job("m", "* * * * *")], now: Self.t0.addingTimeInterval(50), store: store)
        try await h.running {
            try await eventually("ran late") { try await h.executions().map(\.state) == [.succeeded] }
            #expect(try await h.executions().first?.scheduledAt == Self.t0.addingTimeInterval(30))
        }
    }

    /// kill -9 right after a run's row was written, before the last instant was: the restart must not fire the
    /// instant again.
    @Test func anInstantWithARow_isNeverFiredAgain() async throws {
        let store = InMemoryJobStore()
        let instant = Self.t0  // the job fires at second 30 of every minute
        try await store.setLastScheduled(instant.addingTimeInterval(-60), jobID: "j")
        let orphan = ExecutionRecord(jobID: "j", state: .running, trigger: .schedule, scheduledAt: instant, host: "old")
        try await store.save(orphan)
        let h = Harness([Self.job("j", "30 * * * * *")], now: instant.addingTimeInterval(0.05), store: store)
        try await h.running {
            try await settle()
            let executions = try await h.executions()
            #expect(executions.map(\.id) == [orphan.id], "\(executions.map(\.state))")
            #expect(executions.first?.state == .interrupted)
            #expect(h.runner.calls.isEmpty)
            #expect(await h.scheduler.nextFireTimes()["j"] == instant.addingTimeInterval(60))
        }
    }

    /// A process of a run whose pid was never saved (the daemon died first) is found by its TOCK_EXECUTION_ID and
    /// stopped at the next start.
    @Test func leftoverProcessesWithoutASavedPid_areStoppedAtStart() async throws {
        let store = InMemoryJobStore()
        let orphan = ExecutionRecord(jobID: "j", state: .running, trigger: .schedule, scheduledAt: Self.t0, host: "old")
        try await store.save(orphan)
        // Two process groups in sessions of their own, as job runs are: one of the interrupted execution, one of
        // another (say another daemon's) execution.
        let other = ExecutionRecord.newID()
        for id in [orphan.id, other] {
            try spawnAndWait(
                ["/usr/bin/setsid", "--fork", "/bin/sh", "-c", "sleep 60; :"],
                environment: ["TOCK_EXECUTION_ID=\(id)", "PATH=/usr/bin:/bin"])
        }
        func group(of id: String) -> pid_t? {
            ProcessTable.processes(withEnvironment: "TOCK_EXECUTION_ID", in: [id]).first?.0.group
        }
        var leftover: pid_t = 0
        var unrelated: pid_t = 0
        try await eventually("both started") {
            leftover = group(of: orphan.id) ?? 0
            unrelated = group(of: other) ?? 0
            return leftover > 1 && unrelated > 1 && ProcessGroup.livingMembers(leftover) == 2
        }
        defer {
            kill(-leftover, SIGKILL)
            kill(-unrelated, SIGKILL)
        }

        let h = Harness([Self.job("j", "@yearly")], store: store)
        try await h.running {
            try await eventually("leftover stopped", timeout: .seconds(10)) {
                ProcessGroup.livingMembers(leftover) == 0
            }
            let record = try #require(try await store.execution(id: orphan.id))
            #expect(record.state == .interrupted)
            #expect(record.pid == leftover)
            #expect(record.message?.contains("leftover processes (group \(leftover))") == true)
            #expect(ProcessGroup.livingMembers(unrelated) == 2, "a process of another execution is left alone")
        }
    }

    /// A full disk: runs go on, their records wait, and are written as soon as the store writes again.
    @Test func aStoreThatCannotWrite_losesNoRecord() async throws {
        let store = InMemoryJobStore()
        let h = Harness([Self.job("j", "* * * * *")], store: store)
        try await h.running {
            store.setWritesFail(true)
            h.clock.set(h.at("2026-01-01T00:01:00Z"))
            try await eventually("ran") { h.runner.calls.count == 1 }
            try await settle()
            #expect(try await store.executions(jobID: nil, limit: 10).isEmpty)
            await #expect(throws: StoreError.self) { _ = try await h.scheduler.runNow(jobID: "j") }
            store.setWritesFail(false)
            h.clock.set(h.at("2026-01-01T00:01:05Z"))
            try await eventually("recorded once the store writes") {
                try await h.executions().map(\.state) == [.succeeded]
            }
            #expect(try await store.state(ofJob: "j").lastScheduledAt == h.at("2026-01-01T00:01:00Z"))
        }
    }
}

/// Runs a program to its end with posix_spawn (Foundation's `Process` is not reaped reliably inside the test
/// runner, whose SIGCHLD handling is not its own).
func spawnAndWait(_ arguments: [String], environment: [String]) throws {
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup($0) } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, arguments[0], nil, nil, argv, envp) == 0 else {
        throw POSIXError(.init(rawValue: errno) ?? .EIO)
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
}
