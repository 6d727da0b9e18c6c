import CronKit
import Foundation
import TockJSON

/// One event, as every channel sends it: the JSON of `format = "json"` webhooks and of command hooks' stdin.
///
/// ```json
/// {"type": "execution.failed", "id": "evt_…", "timestamp": "…", "text": "backup failed on db1: exit 2 …",
///  "tock": {"host", "url", "version"}, "job": {…}, "execution": {…}, "output": {"stdout_tail", "stderr_tail",
///  "truncated"}, "previous_state": "succeeded", "consecutive_failures": 1, "alert": null}
/// ```
public struct NotificationEvent: Sendable {
    public var type: NotificationEventType
    /// `evt_` + the execution id + the type: the same event is the same id (a record written twice is one event).
    public var id: String
    public var timestamp: Date
    public var json: JSONValue

    /// Bytes of each stream's tail carried by an event.
    public static let outputTailBytes = 4096

    public static func eventID(type: NotificationEventType, executionID: String) -> String {
        "evt_\(executionID)_\(type.rawValue.replacingOccurrences(of: "execution.", with: "").replacingOccurrences(of: ".", with: "_"))"
    }

    /// The event of a run's final state.
    public init(
        type: NotificationEventType, job: Job, record e: ExecutionRecord, previousState: ExecutionState?,
        consecutiveFailures: Int, settings: NotificationSettings, at date: Date, alert: JSONValue = .null
    ) {
        self.type = type
        self.id = Self.eventID(type: type, executionID: e.id)
        self.timestamp = date
        let base = settings.publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        let executionURL = base.map { "\($0)/#/executions/\(e.id)" }
        let text = Self.text(type: type, job: job, record: e, host: settings.host, url: executionURL)
        let time: (Date?) -> JSONValue = {
            $0.map { .string(Timestamp.string(for: $0, in: .utc, microseconds: true)) } ?? .null
        }
        let duration: JSONValue =
            if let start = e.startedAt, let end = e.endedAt {
                .double((end.timeIntervalSince(start) * 1000).rounded() / 1000)
            } else {
                .null
            }
        let execution: JSONValue = .object([
            ("execution_id", .string(e.id)), ("state", .string(e.state.rawValue)), ("hostname", .string(e.host)),
            ("pid", e.pid.map { .int(Int($0)) } ?? .null), ("scheduled_time", time(e.scheduledAt)),
            ("job_id", .string(e.jobID)), ("job_name", .string(job.name)), ("trigger", .string(e.trigger.rawValue)),
            ("started_time", time(e.startedAt)), ("ended_time", time(e.endedAt)), ("duration", duration),
            ("attempt", .int(e.attempt)), ("exit_code", e.exitCode.map { .int(Int($0)) } ?? .null),
            ("signal", e.signal.map { .int(Int($0)) } ?? .null), ("message", e.message.map { .string($0) } ?? .null),
            ("stdout_bytes", .int(e.stdoutBytes)), ("stderr_bytes", .int(e.stderrBytes)),
            ("url", executionURL.map { .string($0) } ?? .null),
        ])
        let stdoutTail = e.stdout.suffix(Self.outputTailBytes)
        let stderrTail = e.stderr.suffix(Self.outputTailBytes)
        let output: JSONValue = .object([
            ("stdout_tail", .string(String(decoding: stdoutTail, as: UTF8.self))),
            ("stderr_tail", .string(String(decoding: stderrTail, as: UTF8.self))),
            ("truncated", .bool(e.stdoutBytes > stdoutTail.count || e.stderrBytes > stderrTail.count)),
        ])
        json = .object([
            ("type", .string(type.rawValue)), ("id", .string(id)), ("timestamp", time(date)), ("text", .string(text)),
            ("tock", Self.tock(settings, base: base)),
            ("job", Self.job(job, base: base)),
            ("execution", execution), ("output", output),
            ("previous_state", previousState.map { .string($0.rawValue) } ?? .null),
            ("consecutive_failures", .int(consecutiveFailures)), ("alert", alert),
        ])
    }

    /// A notifier's test event.
    public init(testFor notifier: String, settings: NotificationSettings, at date: Date) {
        type = .test
        id = "evt_test_\(RandomID.make())"
        timestamp = date
        let text = "Test notification from Tock on \(settings.host) (notifier \(notifier))"
        json = .object([
            ("type", .string(type.rawValue)), ("id", .string(id)),
            ("timestamp", .string(Timestamp.string(for: date, in: .utc, microseconds: true))), ("text", .string(text)),
            ("tock", Self.tock(settings, base: settings.publicURL)),
            ("job", .null), ("execution", .null), ("output", .null), ("previous_state", .null),
            ("consecutive_failures", .int(0)), ("alert", .null),
        ])
    }

    /// One line a person reads: "backup failed on db1: exit 2 after 3 attempts (41 s) URL".
    static func text(type: NotificationEventType, job: Job, record e: ExecutionRecord, host: String, url: String?)
        -> String
    {
        var what: String
        switch type {
        case .executionRecovered: what = "\(job.name) recovered on \(host)"
        case .executionSucceeded: what = "\(job.name) succeeded on \(host)"
        case .alertResolved: what = "\(job.name) is up again on \(host) (alert resolved)"
        case .jobOverdue:
            let limit = job.warnAfter.map { Int($0.timeInterval) } ?? 0
            return "\(job.name) is overdue on \(host): still running \(limit) s after its start"
                + (url.map { " \($0)" } ?? "")
        case .jobDown:
            what = "\(job.name) is down on \(host): \(job.alertAfterFailures ?? 0) failing runs in a row (last: "
            what += e.exitCode.map { "exit \($0)" } ?? e.signal.map { "signal \($0)" } ?? e.state.rawValue
            what += ")"
        default:
            what = "\(job.name) \(e.state == .timeout ? "timed out" : e.state.rawValue) on \(host)"
            if let code = e.exitCode {
                what += ": exit \(code)"
            } else if let signal = e.signal {
                what += ": signal \(signal)"
            } else if let message = e.message {
                what += ": \(message)"
            }
        }
        if e.attempt > 1 { what += " after \(e.attempt) attempts" }
        if let start = e.startedAt, let end = e.endedAt {
            what += " (\(Int(end.timeIntervalSince(start).rounded())) s)"
        }
        if let url { what += " \(url)" }
        return what
    }
}

extension NotificationEvent {
    /// A job-level event of no single run: an alert found by a timer (`job.late`, `job.missed`, `job.down` of
    /// `max_age`) or its `alert.resolved`.
    init(
        alert: JobAlert, resolved: Bool, job: Job, settings: NotificationSettings, at date: Date,
        resolution: String? = nil
    ) {
        type = resolved ? .alertResolved : alert.kind.eventType
        id = resolved ? alert.eventID + "_resolved" : alert.eventID
        timestamp = date
        let base = settings.publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        let jobURL = base.map { "\($0)/#/jobs/\(job.id)" }
        var text: String
        if resolved {
            text = "\(job.name) is up again on \(settings.host) (alert resolved: \(resolution ?? alert.detail))"
        } else {
            let state = alert.kind.state.rawValue
            text = "\(job.name) is \(state) on \(settings.host): \(alert.detail)"
        }
        if let jobURL { text += " \(jobURL)" }
        let time: (Date) -> JSONValue = { .string(Timestamp.string(for: $0, in: .utc, microseconds: true)) }
        json = .object([
            ("type", .string(type.rawValue)), ("id", .string(id)), ("timestamp", time(date)), ("text", .string(text)),
            ("tock", Self.tock(settings, base: base)),
            ("job", Self.job(job, base: base)),
            ("execution", .null), ("output", .null), ("previous_state", .null), ("consecutive_failures", .int(0)),
            (
                "alert",
                .object([
                    ("kind", .string(alert.kind.rawValue)),
                    ("state", .string(resolved ? "ok" : alert.kind.state.rawValue)), ("since", time(alert.since)),
                    ("detail", .string(resolved ? resolution ?? alert.detail : alert.detail)),
                ])
            ),
        ])
    }

    /// The summary a notifier gets once its `max_per_hour` lets events through again.
    init(
        suppressed count: Int, target: String, byType: [String: Int], limit: Int, settings: NotificationSettings,
        at date: Date
    ) {
        type = .notificationsSuppressed
        id = "evt_suppressed_\(RandomID.make())"
        timestamp = date
        let kinds = byType.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let text =
            "Tock on \(settings.host) held back \(count) notification\(count == 1 ? "" : "s") to \(target) "
            + "(max_per_hour = \(limit)): \(kinds). See the delivery log (state suppressed)."
        json = .object([
            ("type", .string(type.rawValue)), ("id", .string(id)),
            ("timestamp", .string(Timestamp.string(for: date, in: .utc, microseconds: true))), ("text", .string(text)),
            ("tock", Self.tock(settings, base: settings.publicURL)),
            ("job", .null), ("execution", .null), ("output", .null), ("previous_state", .null),
            ("consecutive_failures", .int(0)),
            (
                "suppressed",
                .object([
                    ("count", .int(count)), ("target", .string(target)), ("max_per_hour", .int(limit)),
                    ("by_type", .object(byType.sorted { $0.key < $1.key }.map { ($0.key, .int($0.value)) })),
                ])
            ),
        ])
    }
}

extension NotificationEvent {
    /// `tock`: this daemon (`base` is `public_url` without its final slash, as the links use it).
    static func tock(_ settings: NotificationSettings, base: String?) -> JSONValue {
        .object([
            ("host", .string(settings.host)), ("url", base.map { .string($0) } ?? .null),
            ("version", .string(settings.version)),
        ])
    }

    /// `job`: what a receiver needs of the job, with a link to its page.
    static func job(_ job: Job, base: String?) -> JSONValue {
        .object([
            ("job_id", .string(job.id)), ("name", .string(job.name)), ("schedule", .string(job.schedule)),
            ("timezone", job.timezone.map { .string($0) } ?? .null), ("tags", .array(job.tags.map { .string($0) })),
            ("url", base.map { .string("\($0)/#/jobs/\(job.id)") } ?? .null),
        ])
    }
}
