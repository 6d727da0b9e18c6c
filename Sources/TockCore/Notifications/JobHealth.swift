import Foundation

/// One health state per job (`health` in the job's JSON, a badge in the UI, `tock_job_health`).
///
/// It follows from the job's recent executions, whether it is paused, and the alerts open on it (``JobAlert``):
/// `down` > `overdue` > `late` > `blocked` > `paused` > `failing` > `ok` / `new`. Alerts go out only when a job
/// enters `late`, `overdue` or `down`; `alert.resolved` only when it leaves one of them after an alert went out.
public struct JobHealth: Sendable, Hashable {
    public enum State: String, Sendable, Hashable, CaseIterable, Comparable {
        /// Never ran.
        case new
        /// The last finished run succeeded; nothing late or overdue.
        case ok
        /// The last finished run failed (fewer than `alert_after_failures` in a row).
        case failing
        /// Paused: its instants pass without running (`max_age` still counts: a job paused by mistake goes down).
        case paused
        /// It cannot run by its dependencies (`after` names a job that does not exist, or a disabled one).
        case blocked
        /// A due instant did not start within `start_grace`, or instants were missed during downtime.
        case late
        /// A run is still running past `warn_after`.
        case overdue
        /// `alert_after_failures` failing runs in a row, or no success within `max_age`.
        case down

        /// The order of precedence: the greater wins.
        var rank: Int {
            switch self {
            case .new: 0
            case .ok: 1
            case .failing: 2
            case .paused: 3
            case .blocked: 4
            case .late: 5
            case .overdue: 6
            case .down: 7
            }
        }

        public static func < (a: State, b: State) -> Bool { a.rank < b.rank }

        /// Whether entering this state sends an alert.
        public var alerts: Bool { self == .late || self == .overdue || self == .down }
    }

    public var state: State
    public var since: Date?
    public var detail: String?

    public init(state: State, since: Date? = nil, detail: String? = nil) {
        self.state = state
        self.since = since
        self.detail = detail
    }

    /// The failing runs in a row at the head of `recent` (newest first), and the oldest of them. Runs that did not
    /// happen or were stopped by a user (skipped, missed, stopped) and runs not finished are passed over.
    public static func failingStreak(_ recent: [ExecutionRecord]) -> (count: Int, oldest: ExecutionRecord?) {
        var count = 0
        var oldest: ExecutionRecord?
        for record in recent where record.state.isFinal {
            if NotificationEventType.isFailing(record.state) {
                count += 1
                oldest = record
            } else if record.state == .succeeded {
                break
            }
        }
        return (count, oldest)
    }

    /// The job's health from its newest executions (newest first), whether it is paused, and its open alerts.
    /// `blocked`: why the job cannot run by its dependencies (an unknown upstream), if so.
    public static func evaluate(
        job: Job, paused: Bool, recent: [ExecutionRecord], alerts: [JobAlert], blocked: String? = nil
    ) -> JobHealth {
        var candidates: [JobHealth] = alerts.map {
            JobHealth(state: $0.kind.state, since: $0.since, detail: $0.detail)
        }
        if let blocked { candidates.append(JobHealth(state: .blocked, detail: blocked)) }
        let streak = failingStreak(recent)
        if let threshold = job.alertAfterFailures, streak.count >= threshold,
            !alerts.contains(where: { $0.kind == .failures })
        {
            candidates.append(
                JobHealth(
                    state: .down, since: streak.oldest?.endedAt ?? streak.oldest?.scheduledAt,
                    detail: streak.count == 1 ? "1 failing run" : "\(streak.count) failing runs in a row"))
        }
        if paused { candidates.append(JobHealth(state: .paused)) }
        let last = recent.first { $0.state.isFinal && $0.state != .skipped && $0.state != .missed }
        if let last {
            if NotificationEventType.isFailing(last.state) {
                candidates.append(
                    JobHealth(
                        state: .failing, since: streak.oldest?.endedAt ?? last.endedAt,
                        detail: streak.count == 1
                            ? "the last run \(last.state.rawValue)"
                            : "\(streak.count) failing runs in a row"))
            } else if last.state == .succeeded {
                candidates.append(JobHealth(state: .ok, since: last.endedAt))
            } else {
                candidates.append(
                    JobHealth(state: .ok, since: last.endedAt, detail: "the last run \(last.state.rawValue)"))
            }
        }
        return candidates.max { $0.state < $1.state } ?? JobHealth(state: .new)
    }
}

/// An alert open on a job: the reason it is `late`, `overdue` or `down`. Alerts found by timers (`max_age`,
/// `start_grace`, missed instants) are kept in the store (``JobAlertStore``) so that a restart neither repeats them
/// nor forgets to resolve them; a failure streak follows from the executions themselves and an overdue run ends with
/// the daemon.
public struct JobAlert: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// `alert_after_failures` failing runs in a row.
        case failures
        /// No success within `max_age`.
        case maxAge = "max_age"
        /// A run past `warn_after`.
        case overdue
        /// A due instant not started within `start_grace`.
        case late
        /// Instants missed during downtime.
        case missed

        public var state: JobHealth.State {
            switch self {
            case .failures, .maxAge: .down
            case .overdue: .overdue
            case .late, .missed: .late
            }
        }

        var eventType: NotificationEventType {
            switch self {
            case .failures, .maxAge: .jobDown
            case .overdue: .jobOverdue
            case .late: .jobLate
            case .missed: .jobMissed
            }
        }
    }

    public var jobID: String
    public var kind: Kind
    public var since: Date
    public var detail: String
    /// Whether an alert went out (the job had targets): only then does its end send `alert.resolved`.
    public var alerted: Bool
    /// The event id of the alert, which its resolution's id derives from.
    public var eventID: String

    public init(jobID: String, kind: Kind, since: Date, detail: String, alerted: Bool, eventID: String) {
        self.jobID = jobID
        self.kind = kind
        self.since = since
        self.detail = detail
        self.alerted = alerted
        self.eventID = eventID
    }
}

/// The store's side of alerts found by timers: kept across restarts, written with their deliveries.
public protocol JobAlertStore: Sendable {
    /// Every open alert.
    func openAlerts() async throws -> [JobAlert]

    /// Opens (inserts or replaces, by job and kind) and closes alerts, and inserts their deliveries, in one
    /// transaction.
    func recordAlerts(opened: [JobAlert], closed: [JobAlert], enqueuing deliveries: [NotificationDelivery])
        async throws
}
