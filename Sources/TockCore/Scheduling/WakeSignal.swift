import Synchronization

/// Wakes the scheduler's loop from anywhere: a signal sent while nobody waits is kept for the next wait.
///
/// Not an `AsyncStream`: cancelling a task that iterates one terminates the stream for good, and the loop's
/// wait is cancelled every time its sleep ends first.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var active: Set<Int> = []
        var cancelled: Set<Int> = []
    }

    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let (id, waiter) = s.waiters.first {
                s.waiters[id] = nil
                return waiter
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns at the next signal (or at once for one already sent), or when the task is cancelled.
    func wait() async {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            s.active.insert(s.nextID)
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.pending {
                        s.pending = false
                        return true
                    }
                    if s.cancelled.contains(id) { return true }
                    s.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if let waiter = s.waiters.removeValue(forKey: id) { return waiter }
                if s.active.contains(id) { s.cancelled.insert(id) }
                return nil
            }
            waiter?.resume()
        }
        state.withLock { s in
            s.active.remove(id)
            s.cancelled.remove(id)
        }
    }
}
