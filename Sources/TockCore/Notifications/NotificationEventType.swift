/// What happened, as events name it (`type` in the JSON, `TOCK_EVENT` for commands).
public enum NotificationEventType: String, Sendable, Hashable, CaseIterable {
    /// A run ended failed, timeout, interrupted or scheduled error (after its retries).
    case executionFailed = "execution.failed"
    case executionSucceeded = "execution.succeeded"
    /// The first success after failing runs.
    case executionRecovered = "execution.recovered"
    /// A run printed something and its job has `mail_to` (cron's output mail).
    case executionOutput = "execution.output"
    /// A health alert: `alert_after_failures` failing runs in a row.
    case jobDown = "job.down"
    /// A run still running `warn_after` after its start.
    case jobOverdue = "job.overdue"
    /// The first success after a health alert (or the end of an overdue run).
    case alertResolved = "alert.resolved"
    /// A notifier's test-send.
    case test

    /// The states `on_failure` fires on: not `stopped` (a user's deliberate act, in the audit log), nor skipped
    /// or missed runs (no run happened).
    public static func isFailing(_ state: ExecutionState) -> Bool {
        switch state {
        case .failed, .timeout, .interrupted, .scheduledError: true
        default: false
        }
    }
}
