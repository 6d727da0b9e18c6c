import Foundation
import Testing
import TockCore
import TockTesting

/// The test clock: sleepers wake when the clock passes their deadline, and a cancelled sleep ends at once (as
/// `Task.sleep` does) — the scheduler cancels its sleep every time a wake-up comes first.
struct ManualWallClockTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func sleep_wakesWhenTheClockPassesTheDeadline() async throws {
        let clock = ManualWallClock(now: start)
        let task = Task { try await clock.sleep(until: start.addingTimeInterval(10)) }
        try await eventually("asleep") { clock.sleeperCount == 1 }
        #expect(clock.sleeperDeadlines == [start.addingTimeInterval(10)])
        clock.advance(by: 5)
        try await Task.sleep(for: .milliseconds(20))
        #expect(clock.sleeperCount == 1, "not yet due")
        clock.advance(by: 5)
        #expect(await finishes(task) { clock.advance(by: 3600) })
        try await task.value
        #expect(clock.sleeperCount == 0)
    }

    @Test func sleep_untilAPastDeadline_returnsAtOnce() async throws {
        let clock = ManualWallClock(now: start)
        try await clock.sleep(until: start)
        try await clock.sleep(until: start.addingTimeInterval(-60))
        #expect(clock.sleeperCount == 0)
    }

    @Test func sleep_inACancelledTask_returnsAtOnce() async throws {
        let clock = ManualWallClock(now: start)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(until: start.addingTimeInterval(60))
        }
        #expect(
            await finishes(task, within: .seconds(2)) { clock.advance(by: 3600) },
            "the sleep returned without the clock moving")
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(clock.sleeperCount == 0)
    }

    @Test func sleep_cancelledWhileWaiting_returns() async throws {
        let clock = ManualWallClock(now: start)
        let task = Task { try await clock.sleep(until: start.addingTimeInterval(60)) }
        try await eventually("asleep") { clock.sleeperCount == 1 }
        task.cancel()
        #expect(clock.sleeperCount == 0, "not counted once cancelled, before the task goes on")
        #expect(await finishes(task, within: .seconds(2)) { clock.advance(by: 3600) })
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(clock.sleeperCount == 0)
        #expect(clock.now == start, "the clock did not move")
    }

    @Test func sleepers_wakeInAnyNumber_andEachOnlyWhenDue() async throws {
        let clock = ManualWallClock(now: start)
        let tasks = (1...20).map { n in
            Task { try await clock.sleep(until: start.addingTimeInterval(Double(n))) }
        }
        try await eventually("all asleep") { clock.sleeperCount == 20 }
        clock.advance(by: 10)
        try await eventually("the first ten awake") { clock.sleeperCount == 10 }
        tasks[19].cancel()
        try await eventually("the cancelled one gone") { clock.sleeperCount == 9 }
        clock.advance(by: 10)
        for (n, task) in tasks.enumerated() {
            if n == 19 {
                await #expect(throws: CancellationError.self) { try await task.value }
            } else {
                try await task.value
            }
        }
        #expect(clock.sleeperCount == 0)
    }
}
