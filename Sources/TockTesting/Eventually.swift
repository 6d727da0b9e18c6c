import Testing

/// Waits, bounded, for a condition that something running on its own (the scheduler, a daemon) reaches
/// asynchronously; records an issue and throws when it does not come true in time.
public func eventually(
    _ what: String, timeout: Duration = .seconds(20), pollEvery interval: Duration = .milliseconds(5),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    Issue.record("timed out waiting for: \(what)")
    throw CancellationError()
}
