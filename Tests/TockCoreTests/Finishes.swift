/// Whether `task` finishes within `limit`. When it does not, `unstick` is called so that it does, and the test
/// fails instead of hanging.
func finishes<T: Sendable>(
    _ task: Task<T, any Error>, within limit: Duration = .seconds(5), unstick: () -> Void
) async -> Bool {
    await finishes(within: limit, unstick: unstick) { _ = try? await task.value }
}

func finishes<T: Sendable>(
    _ task: Task<T, Never>, within limit: Duration = .seconds(5), unstick: () -> Void
) async -> Bool {
    await finishes(within: limit, unstick: unstick) { _ = await task.value }
}

private func finishes(
    within limit: Duration, unstick: () -> Void, _ wait: @escaping @Sendable () async -> Void
) async -> Bool {
    await withTaskGroup(of: Bool.self) { group in
        group.addTask {
            await wait()
            return true
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return false
        }
        let finished = await group.next() ?? false
        if !finished { unstick() }
        group.cancelAll()
        return finished
    }
}
