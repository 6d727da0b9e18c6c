import CronKit
import Foundation

/// A job: what to run, when, and with which policies (SPEC §3).
public struct Job: Sendable, Hashable {
    public enum Action: Sendable, Hashable {
        /// `command`, run by `shell -c`.
        case command(String, shell: String)
        /// `exec`: an argv run without a shell.
        case exec([String])
        /// `kind` (with `args`): a job kind registered by an embedding package.
        case custom(kind: String, arguments: [String: String])
    }

    /// Where a job was defined.
    public enum Source: Sendable, Hashable {
        case file(path: String, line: Int)
        case api
    }

    public var id: String
    public var name: String
    public var description: String
    /// The schedule as written.
    public var schedule: String
    public var parsedSchedule: ScheduleExpression
    /// IANA zone of the schedule; `nil` means the server default.
    public var timezone: String?
    public var action: Action
    public var workingDirectory: String?
    public var environment: [String: String]
    public var inheritEnvironment: Bool
    public var user: String?
    public var stdin: String?
    public var timeout: Duration?
    public var killGrace: Duration
    public var retry: RetryPolicy
    public var overlap: OverlapPolicy
    public var catchup: CatchupPolicy
    public var catchupWindow: Duration
    public var jitter: Duration
    public var maxOutput: Int
    /// The largest `max_output` accepted (per stream): the daemon holds up to this much per running job.
    public static let maximumOutputLimit = 1 << 30
    public var enabled: Bool
    public var tags: [String]
    public var mailTo: String?
    public var onFailure: Notification?
    public var onSuccess: Notification?
    /// The first success after failing runs; `nil`: `on_failure`'s targets.
    public var onRecovery: Notification?
    /// Health alerts (`job.down`) and their `alert.resolved`; `nil`: `on_failure`'s targets.
    public var onAlert: Notification?
    /// `job.down` once this many runs in a row failed; `nil`: no streak alert.
    public var alertAfterFailures: Int?
    /// `job.overdue` while a run is still running this long after it started (a timer, not a check at its end).
    public var warnAfter: Duration?
    public var source: Source

    public init(
        id: String, schedule: ScheduleExpression, action: Action, name: String? = nil, description: String = "",
        timezone: String? = nil, source: Source = .api
    ) {
        self.id = id
        self.name = name ?? id
        self.description = description
        self.schedule = schedule.description
        self.parsedSchedule = schedule
        self.timezone = timezone
        self.action = action
        self.workingDirectory = nil
        self.environment = [:]
        self.inheritEnvironment = true
        self.user = nil
        self.stdin = nil
        self.timeout = nil
        self.killGrace = .seconds(10)
        self.retry = RetryPolicy()
        self.overlap = .skip
        self.catchup = .skip
        self.catchupWindow = .seconds(24 * 3600)
        self.jitter = .zero
        self.maxOutput = 1 << 20
        self.enabled = true
        self.tags = []
        self.mailTo = nil
        self.onFailure = nil
        self.onSuccess = nil
        self.onRecovery = nil
        self.onAlert = nil
        self.alertAfterFailures = nil
        self.warnAfter = nil
        self.source = source
    }

    /// Characters allowed in a job id.
    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty
            && id.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
                    || c == 0x2E
                    || c == 0x2D
            }
    }
}

/// What a due run does while the previous run of the same job is still running.
public enum OverlapPolicy: String, Sendable, Hashable, CaseIterable, Codable {
    case skip, allow, queue, replace
}

/// Runs missed while the daemon was down.
public enum CatchupPolicy: String, Sendable, Hashable, CaseIterable, Codable {
    case skip, latest, all
}

/// `on_failure` / `on_success` / `on_recovery`: where an event goes — named notifiers of the server configuration,
/// a webhook to POST to, a command to run, addresses to mail a summary to (any together).
public struct Notification: Sendable, Hashable {
    public var notify: [String]
    public var webhook: String?
    public var command: String?
    public var mail: String?
    public init(notify: [String] = [], webhook: String? = nil, command: String? = nil, mail: String? = nil) {
        self.notify = notify
        self.webhook = webhook
        self.command = command
        self.mail = mail
    }

    /// Whether it names no target at all.
    public var isEmpty: Bool { notify.isEmpty && webhook == nil && command == nil && mail == nil }
}
