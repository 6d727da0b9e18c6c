#if Postgres
    import Synchronization

    /// A continuation resumed by whichever result comes first (an answer or a timeout); later ones are dropped. The
    /// timer task set as `onResume` is cancelled when the answer wins.
    final class FirstResult<T: Sendable>: Sendable {
        private let state: Mutex<(continuation: CheckedContinuation<T, any Error>?, timer: Task<Void, any Error>?)>

        init(_ continuation: CheckedContinuation<T, any Error>) {
            state = Mutex((continuation, nil))
        }

        /// The timer to cancel once a result is in (cancelled at once if one already is).
        var onResume: Task<Void, any Error>? {
            get { state.withLock { $0.timer } }
            set {
                let done = state.withLock { state -> Bool in
                    state.timer = newValue
                    return state.continuation == nil
                }
                if done { newValue?.cancel() }
            }
        }

        func resume(_ result: Result<T, any Error>) {
            let (continuation, timer) = state.withLock { state in
                defer { state.continuation = nil }
                return (state.continuation, state.timer)
            }
            guard let continuation else { return }
            timer?.cancel()
            continuation.resume(with: result)
        }
    }
#endif
