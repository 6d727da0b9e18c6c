/// `retries`, `retry_delay`, `retry_max_delay`: extra attempts after a failure or a timeout, each delay double
/// the one before, up to the maximum. A stopped attempt or one that could not start is not retried.
public struct RetryPolicy: Sendable, Hashable {
    public var retries: Int
    public var delay: Duration
    public var maxDelay: Duration

    public init(retries: Int = 0, delay: Duration = .seconds(10), maxDelay: Duration = .seconds(600)) {
        self.retries = max(0, retries)
        self.delay = delay
        self.maxDelay = maxDelay
    }

    /// The wait before attempt `number` (2, 3, …): `delay`, `2 × delay`, `4 × delay`, … capped at `maxDelay`.
    public func delay(beforeAttempt number: Int) -> Duration {
        var wait = delay
        var n = 2
        while n < number && wait < maxDelay {
            wait = wait * 2
            n += 1
        }
        return min(wait, maxDelay)
    }

    /// Whether an attempt that ended so should be followed by another.
    public func shouldRetry(after outcome: AttemptOutcome, attempt: Int) -> Bool {
        guard attempt <= retries else { return false }
        return outcome.state == .failed || outcome.state == .timeout
    }
}

extension JobRunner {
    /// Runs attempts until one succeeds, is not retryable, or the retries are used up.
    ///
    /// - Parameters:
    ///   - firstAttempt: the number of the first attempt made here (above 1 for the retry of a run that another
    ///     node started and did not finish: the attempts it made count).
    ///   - sleep: how to wait between attempts (tests pass a fake; cancellation ends the chain).
    ///   - onAttempt: called after each attempt with its number (1-based) and outcome, e.g. to record it.
    /// - Returns: every attempt's outcome, in order, with the byte counts of its output but not the output itself
    ///   (which `onAttempt` receives).
    public func runWithRetries(
        _ request: AttemptRequest, policy: RetryPolicy, control: RunControl = RunControl(), firstAttempt: Int = 1,
        output: @escaping @Sendable (OutputChunk) -> Void = { _ in },
        sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        onAttempt: @Sendable (Int, AttemptOutcome) async -> Void = { _, _ in }
    ) async -> [AttemptOutcome] {
        var outcomes: [AttemptOutcome] = []
        var attempt = max(1, firstAttempt)
        while true {
            var outcome = await run(request, control: control, output: output)
            await onAttempt(attempt, outcome)
            // The output has been handed over; the list keeps counts, not a second copy of up to max_output.
            outcome.stdout.discardKept()
            outcome.stderr.discardKept()
            outcomes.append(outcome)
            guard policy.shouldRetry(after: outcome, attempt: attempt), !control.isStopped else { break }
            attempt += 1
            do { try await sleep(policy.delay(beforeAttempt: attempt)) } catch { break }
        }
        return outcomes
    }
}
