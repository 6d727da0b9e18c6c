import Foundation
import Testing

@testable import TockCore

/// The one hand-made wait of TockCore and TockTesting, and the two types built on it (``WakeSignal``,
/// ``OneShot``): values are never lost or delivered twice, and cancellation ends a wait at once — including a
/// cancellation that came before the wait began.
struct ContinuationSlotTests {
    @Test func value_deliveredBeforeTheWait_returnsAtOnce_andOnlyTheFirstCounts() async throws {
        let slot = ContinuationSlot<Int>()
        #expect(slot.resume(returning: 42))
        #expect(!slot.resume(returning: 7))
        #expect(try await slot.value() == 42)
        #expect(try await slot.value() == 42, "read again, the same value")
    }

    @Test func value_waitsForTheDelivery() async throws {
        let slot = ContinuationSlot<Int>()
        let task = Task { try await slot.value() }
        try await Task.sleep(for: .milliseconds(20))
        #expect(slot.resume(returning: 42))
        #expect(try await task.value == 42)
    }

    @Test func value_inACancelledTask_throwsAtOnce() async throws {
        let slot = ContinuationSlot<Int>()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await slot.value()
        }
        #expect(await finishes(task) { slot.resume(returning: 0) }, "the wait ended without a value")
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(!slot.resume(returning: 1), "a cancelled slot takes no value, so a sender can pass it on")
    }

    @Test func value_cancelledWhileWaiting_throws() async throws {
        let slot = ContinuationSlot<Int>()
        let task = Task { try await slot.value() }
        try await Task.sleep(for: .milliseconds(20))
        #expect(!slot.isCancelled)
        task.cancel()
        #expect(slot.isCancelled, "at once, in the cancelling task")
        #expect(await finishes(task) { slot.resume(returning: 0) })
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(!slot.resume(returning: 1))
    }

    @Test func value_racingCancellationAndDelivery_endsOnce_andTellsTheSenderWhichWon() async throws {
        for n in 0..<2000 {
            let slot = ContinuationSlot<Int>()
            let task = Task { try await slot.value() }
            if n % 2 == 0 { await Task.yield() }
            async let cancelled: Void = task.cancel()
            let delivered = slot.resume(returning: n)
            await cancelled
            let result = await task.result
            if delivered {
                #expect(try result.get() == n)
            } else {
                #expect(throws: CancellationError.self) { try result.get() }
            }
        }
    }

    @Test func valueIgnoringCancellation_waitsForTheValue() async throws {
        let slot = ContinuationSlot<Int>()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await slot.valueIgnoringCancellation()
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(slot.resume(returning: 5), "still waiting after its cancellation")
        #expect(await task.value == 5)
    }

    // MARK: - OneShot

    @Test func oneShot_deliveredBeforeOrAfterTheWait_andAwaitedByACancelledTask() async throws {
        let early = OneShot<Int>()
        early.deliver(1)
        #expect(await early.value == 1)

        let late = OneShot<Int>()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await late.value
        }
        try await Task.sleep(for: .milliseconds(20))
        late.deliver(2)
        #expect(await task.value == 2, "a run's end is collected even by a cancelled task")
    }

    // MARK: - WakeSignal

    @Test func wakeSignal_sentWhileNobodyWaits_isKeptForTheNextWait() async throws {
        let signal = WakeSignal()
        signal.signal()
        let task = Task { await signal.wait() }
        #expect(await finishes(task) { signal.signal() })
    }

    @Test func wakeSignal_wakesAWaiter() async throws {
        let signal = WakeSignal()
        let task = Task { await signal.wait() }
        try await Task.sleep(for: .milliseconds(20))
        signal.signal()
        #expect(await finishes(task) { signal.signal() })
    }

    @Test func wakeSignal_waitInACancelledTask_returnsAtOnce_andLeavesTheNextSignalPending() async throws {
        let signal = WakeSignal()
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            await signal.wait()
        }
        #expect(await finishes(cancelled) { signal.signal() })
        let waitedWhileCancelled = Task {
            await signal.wait()
        }
        try await Task.sleep(for: .milliseconds(20))
        waitedWhileCancelled.cancel()
        #expect(await finishes(waitedWhileCancelled) { signal.signal() })
        // Neither cancelled waiter swallows a later signal.
        signal.signal()
        let next = Task { await signal.wait() }
        #expect(await finishes(next) { signal.signal() })
    }
}
