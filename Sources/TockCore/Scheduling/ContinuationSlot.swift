import Synchronization

/// One value handed from anywhere (another task, a callback thread) to one waiting task, whichever comes first;
/// the one place where Tock's hand-made waits meet task cancellation (``WakeSignal``, ``OneShot``, TockTesting's
/// `ManualWallClock`).
///
/// A slot is used once: ``resume(returning:)`` delivers a value (later calls are ignored), ``value()`` waits for
/// it. Waiting with ``value()`` ends at cancellation, including a cancellation that came before the wait began —
/// `withTaskCancellationHandler` then runs its handler first, so the handler marks the slot cancelled and the wait
/// sees that instead of suspending until a value that may never come. Once cancelled, the slot takes no value
/// (``resume(returning:)`` returns `false`, so the sender knows to give it to another waiter).
///
/// ```swift
/// let slot = ContinuationSlot<Int>()
/// Task { slot.resume(returning: 42) }
/// let answer = try await slot.value()  // 42, or CancellationError if this task is cancelled first
/// ```
package final class ContinuationSlot<Value: Sendable>: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<Value?, Never>)
        case delivered(Value)
        case cancelled
    }

    private let state = Mutex(State.empty)

    package init() {}

    /// Delivers `value` to the waiter, now or when it comes to wait.
    ///
    /// - Returns: `false` when the slot takes no value: one was delivered already, or the wait was cancelled.
    @discardableResult
    package func resume(returning value: Value) -> Bool {
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Value?, Never>?) in
            switch state {
            case .empty:
                state = .delivered(value)
                return (true, nil)
            case .waiting(let continuation):
                state = .delivered(value)
                return (true, continuation)
            case .delivered, .cancelled:
                return (false, nil)
            }
        }
        waiter?.resume(returning: value)
        return accepted
    }

    /// Whether the wait ended by cancellation (the slot then takes no value), even before the waiting task has
    /// gone on.
    package var isCancelled: Bool {
        state.withLock { state in
            if case .cancelled = state { return true }
            return false
        }
    }

    /// Waits for the value; returns at once when it was delivered already (even in a cancelled task).
    ///
    /// - Throws: `CancellationError` when the task is cancelled before a value comes, or was cancelled before the
    ///   wait began.
    package func value() async throws(CancellationError) -> Value {
        let value = await withTaskCancellationHandler {
            await wait()
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Value?, Never>? in
                switch state {
                case .empty:
                    // The task was cancelled before it began to wait: the wait will see this and not suspend.
                    state = .cancelled
                    return nil
                case .waiting(let continuation):
                    state = .cancelled
                    return continuation
                case .delivered, .cancelled:
                    return nil
                }
            }
            waiter?.resume(returning: nil)
        }
        guard let value else { throw CancellationError() }
        return value
    }

    /// Waits for the value whatever happens to the task: for a result that must be collected (a process's exit)
    /// even by a cancelled task.
    package func valueIgnoringCancellation() async -> Value {
        // Nothing cancels the slot on this path, so the wait ends with a value.
        guard let value = await wait() else { preconditionFailure("a slot awaited without cancellation was cancelled") }
        return value
    }

    /// The value, or `nil` when the slot was (or is while waiting) cancelled.
    private func wait() async -> Value? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
            let ready = state.withLock { state -> Value?? in
                switch state {
                case .empty:
                    state = .waiting(continuation)
                    return .none
                case .delivered(let value):
                    return .some(value)
                case .cancelled:
                    return .some(nil)
                case .waiting:
                    preconditionFailure("a ContinuationSlot has one waiter at a time")
                }
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
