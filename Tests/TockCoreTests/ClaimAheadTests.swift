import CronKit
import Foundation
import Logging
import Synchronization
import Testing
import TockTesting

@testable import TockCore

/// Claims ahead of the instant (several nodes): the claim is made within the coordinator's lookahead before the
/// instant, and the instant fires without a claim of its own; lost instants do not run; an instant won ahead whose
/// job is paused meanwhile is recorded `skipped`. A manual clock and a fake coordinator.
@Suite(.timeLimit(.minutes(1)))
struct ClaimAheadTests {
    /// Wins every slot except those of `losing` jobs; remembers each claim's slots and the time it was made.
    final class AheadCoordinator: SlotCoordinator {
        let clock: ManualWallClock
        let losing: Set<String>
        private let claims = Mutex<[(at: Date, slots: [ExecutionRecord])]>([])

        init(clock: ManualWallClock, losing: Set<String> = []) {
            self.clock = clock
            self.losing = losing
        }

        var claimLookahead: TimeInterval { 0.5 }
        var made: [(at: Date, slots: [ExecutionRecord])] { claims.withLock { $0 } }

        func claim(_ slots: [ExecutionRecord], skipWhileRunningElsewhere jobIDs: Set<String>) async throws
            -> SlotClaims
        {
            let now = clock.now
            claims.withLock { $0.append((now, slots)) }
            return SlotClaims(won: Set(slots.filter { !losing.contains($0.jobID) }.map(\.id)))
        }

        func recoverInterruptedExecutions(
            at date: Date, planning: (@Sendable (ExecutionRecord) -> [NotificationDelivery])?
        ) async throws -> [ExecutionRecord] { [] }

        var fencedReason: String? { nil }
        func onFenceChange(_ handler: @escaping @Sendable () -> Void) {}
    }

    static let t0 = Date(timeIntervalSince1970: 1_767_225_630)  // 2026-01-01T00:00:30Z
    static let instant = Date(timeIntervalSince1970: 1_767_225_660)  // 00:01:00

    /// A started scheduler with one every-minute job, its fake coordinator, store and runner; cancelled by `stop`.
    struct Started {
        let clock: ManualWallClock
        let coordinator: AheadCoordinator
        let store = InMemoryJobStore()
        let runner: RecordingJobRunner
        let scheduler: Scheduler
        let task: Task<Void, any Error>

        init(losing: Set<String> = []) async throws {
            clock = ManualWallClock(now: ClaimAheadTests.t0)
            coordinator = AheadCoordinator(clock: clock, losing: losing)
            runner = RecordingJobRunner(clock: clock)
            let scheduler = Scheduler(
                jobs: [SchedulerTests.job("minutely", "* * * * *")], store: store, runner: runner, clock: clock,
                configuration: SchedulerConfiguration(host: "node-a"),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), coordinator: coordinator)
            self.scheduler = scheduler
            task = Task { try await scheduler.run() }
            try await eventually("started") { await scheduler.started }
        }

        func stop() { task.cancel() }
    }

    @Test func theInstantIsClaimedWithinTheLookahead_andFiresWithoutAClaimOfItsOwn() async throws {
        let started = try await Started()
        defer { started.stop() }
        let (clock, coordinator, store, runner, _) = (
            started.clock, started.coordinator, started.store, started.runner, started.scheduler
        )
        #expect(coordinator.made.isEmpty, "nothing within the lookahead yet")
        clock.set(Self.instant.addingTimeInterval(-0.4))
        try await eventually("claimed ahead") { coordinator.made.count == 1 }
        let claim = try #require(coordinator.made.first)
        #expect(claim.at == Self.instant.addingTimeInterval(-0.4))
        #expect(claim.slots.map(\.scheduledAt) == [Self.instant])
        #expect(runner.calls.isEmpty, "not before its instant")
        clock.set(Self.instant)
        try await eventually("ran at its instant") { runner.calls.count == 1 }
        #expect(runner.calls.first?.executionID == claim.slots.first?.id, "the claimed row is the one that runs")
        #expect(coordinator.made.count == 1, "no second claim at the instant")
        try await eventually("recorded") { try await store.execution(id: claim.slots[0].id)?.state == .succeeded }
    }

    @Test func anInstantLostAhead_doesNotRun() async throws {
        let started = try await Started(losing: ["minutely"])
        defer { started.stop() }
        let (clock, coordinator, store, runner, scheduler) = (
            started.clock, started.coordinator, started.store, started.runner, started.scheduler
        )
        clock.set(Self.instant.addingTimeInterval(-0.3))
        try await eventually("claimed ahead") { coordinator.made.count == 1 }
        clock.set(Self.instant)
        try await eventually("the instant passed") {
            await scheduler.nextFireTimes()["minutely"] == Self.instant.addingTimeInterval(60)
        }
        clock.set(Self.instant.addingTimeInterval(59.7))
        try await eventually("the next instant is claimed in its turn") { coordinator.made.count == 2 }
        #expect(runner.calls.isEmpty)
        #expect(try await store.executions(jobID: nil, limit: 10).isEmpty)
    }

    @Test func anInstantWonAhead_ofAJobPausedMeanwhile_isRecordedSkipped() async throws {
        let started = try await Started()
        defer { started.stop() }
        let (clock, coordinator, store, runner, scheduler) = (
            started.clock, started.coordinator, started.store, started.runner, started.scheduler
        )
        clock.set(Self.instant.addingTimeInterval(-0.2))
        try await eventually("claimed ahead") { coordinator.made.count == 1 }
        try await scheduler.pause(jobID: "minutely")
        clock.set(Self.instant)
        let id = try #require(coordinator.made.first?.slots.first?.id)
        try await eventually("recorded skipped") { try await store.execution(id: id)?.state == .skipped }
        #expect(runner.calls.isEmpty)
    }
}
