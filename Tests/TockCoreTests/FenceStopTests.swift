import CronKit
import Foundation
import Logging
import Synchronization
import Testing
import TockTesting

@testable import TockCore

/// A node that loses its lease stops its runs at once, even while the scheduler loop waits on the unreachable
/// database (here: a claim that does not return): another node may reap it a quarter of the lease later.
@Suite(.timeLimit(.minutes(1)))
struct FenceStopTests {
    /// Wins every slot; from the `blockFrom`-th claim on, claims wait until `release()`. Its fence is set by the test.
    final class StallingCoordinator: SlotCoordinator {
        private struct State {
            var claims = 0
            var waiting: [CheckedContinuation<Void, Never>] = []
            var released = false
            var fenced: String?
            var handlers: [@Sendable () -> Void] = []
        }
        private let state = Mutex(State())
        let blockFrom: Int

        init(blockFrom: Int) { self.blockFrom = blockFrom }

        var claimLookahead: TimeInterval { 0.5 }
        var claims: Int { state.withLock { $0.claims } }
        var stalled: Bool { state.withLock { !$0.waiting.isEmpty } }

        func claim(_ slots: [ExecutionRecord], skipWhileRunningElsewhere jobIDs: Set<String>) async throws
            -> SlotClaims
        {
            let number = state.withLock { s -> Int in
                s.claims += 1
                return s.claims
            }
            if number >= blockFrom {
                await withCheckedContinuation { continuation in
                    let now = state.withLock { s -> Bool in
                        if s.released { return true }
                        s.waiting.append(continuation)
                        return false
                    }
                    if now { continuation.resume() }
                }
                throw StoreError.unavailable("the database did not answer")
            }
            return SlotClaims(won: Set(slots.map(\.id)))
        }

        func release() {
            let waiting = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                s.released = true
                defer { s.waiting = [] }
                return s.waiting
            }
            for continuation in waiting { continuation.resume() }
        }

        func recoverInterruptedExecutions(
            at date: Date, planning: (@Sendable (ExecutionRecord) -> [NotificationDelivery])?
        ) async throws -> [ExecutionRecord] { [] }

        var fencedReason: String? { state.withLock { $0.fenced } }

        func onFenceChange(_ handler: @escaping @Sendable () -> Void) {
            state.withLock { $0.handlers.append(handler) }
        }

        func fence(_ reason: String) {
            let handlers = state.withLock { s -> [@Sendable () -> Void] in
                s.fenced = reason
                return s.handlers
            }
            for handler in handlers { handler() }
        }
    }

    static let t0 = Date(timeIntervalSince1970: 1_767_225_630)  // 2026-01-01T00:00:30Z
    static let instant = Date(timeIntervalSince1970: 1_767_225_660)  // 00:01:00

    @Test func aFencedNode_stopsItsRuns_whileTheLoopWaitsOnTheDatabase() async throws {
        let clock = ManualWallClock(now: Self.t0)
        let coordinator = StallingCoordinator(blockFrom: 2)
        let store = InMemoryJobStore()
        let runner = RecordingJobRunner(clock: clock)
        runner.script("long", [.hold])
        let scheduler = Scheduler(
            jobs: [SchedulerTests.job("long", "* * * * *")], store: store, runner: runner, clock: clock,
            configuration: SchedulerConfiguration(host: "node-a"),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), coordinator: coordinator)
        let task = Task { try await scheduler.run() }
        defer {
            coordinator.release()
            task.cancel()
        }
        try await eventually("started") { await scheduler.started }
        clock.set(Self.instant)
        try await eventually("the run started") { runner.calls.count == 1 }
        let run = try #require(runner.calls.first)
        // The next instant's claim, 0.5 s ahead, hangs: the loop waits in it.
        clock.set(Self.instant.addingTimeInterval(59.6))
        try await eventually("the loop waits on a claim") { coordinator.stalled }
        #expect(!run.control.isStopped)
        coordinator.fence("the node's lease on the database has lapsed")
        try await eventually("stopped without the loop", timeout: .seconds(5)) { run.control.isStopped }
        #expect(coordinator.stalled, "the loop was still waiting when the run was stopped")
    }
}
