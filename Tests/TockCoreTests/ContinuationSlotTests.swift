import Foundation
import Testing

@testable import TockCore

/// The one hand-made wait of TockCore and TockTesting: values are never lost or delivered twice, and
/// cancellation ends a wait at once — including a cancellation that came before the wait began.
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
}
