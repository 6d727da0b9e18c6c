#if Postgres
    /// A lock held across suspension points (an actor alone is reentrant at every `await`): one migration, one
    /// registration at a time.
    actor AsyncLock {
        private var locked = false
        private var waiters: [CheckedContinuation<Void, Never>] = []

        func withLock<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
            if locked {
                await withCheckedContinuation { waiters.append($0) }
            } else {
                locked = true
            }
            defer {
                if waiters.isEmpty { locked = false } else { waiters.removeFirst().resume() }
            }
            return try await body()
        }
    }
#endif
