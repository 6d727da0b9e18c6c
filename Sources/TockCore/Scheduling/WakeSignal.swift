import Foundation
import Synchronization

/// Wakes the scheduler's loop from anywhere: a signal sent while nobody waits is kept for the next wait.
///
/// Not an `AsyncStream`: cancelling a task that iterates one terminates the stream for good, and the loop's
/// wait is cancelled every time its sleep ends first. Each wait is a ``ContinuationSlot``, which also handles a
/// wait that begins in an already-cancelled task.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var nextID = 0
        var waiters: [Int: ContinuationSlot<Void>] = [:]
    }

    private let state = Mutex(State())

    func signal() {
        while true {
            let waiter = state.withLock { s -> ContinuationSlot<Void>? in
                if let (id, waiter) = s.waiters.first {
                    s.waiters[id] = nil
                    return waiter
                }
                s.pending = true
                return nil
            }
            // A waiter cancelled a moment ago takes no signal: it goes to another one, or stays pending.
            guard let waiter, !waiter.resume(returning: ()) else { return }
        }
    }

    /// Returns at the next signal (or at once for one already sent), or when the task is cancelled.
    func wait() async {
        let slot = ContinuationSlot<Void>()
        let id = state.withLock { s -> Int? in
            if s.pending {
                s.pending = false
                return nil
            }
            s.nextID += 1
            s.waiters[s.nextID] = slot
            return s.nextID
        }
        guard let id else { return }
        try? await slot.value()
        state.withLock { s in s.waiters[id] = nil }
    }

    /// Returns at the next signal or at `deadline` on `clock` (`nil`: no deadline), whichever is first.
    func wait(orUntil deadline: Date?, on clock: any WallClock) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.wait() }
            if let deadline { group.addTask { try? await clock.sleep(until: deadline) } }
            await group.next()
            group.cancelAll()
        }
    }
}
