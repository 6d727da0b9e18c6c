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
    /// The schedule as written.
    public var schedule: String
    public var parsedSchedule: ScheduleExpression
    public var action: Action
    public var inheritEnvironment: Bool
    public var overlap: OverlapPolicy
    public var catchup: CatchupPolicy
    public var maxOutput: Int
    /// The largest `max_output` accepted (per stream): the daemon holds up to this much per running job.
    public static let maximumOutputLimit = 1 << 30
    public var enabled: Bool
    public var tags: [String]
    /// `job.missed` (one per gap) when instants were found missed after downtime; on unless set to false.
    public var alertOnMissed: Bool
    public var source: Source
    /// The settings most jobs leave at their defaults, out of line: every job at the defaults shares one copy
    /// (a `Job` was ~820 bytes inline, ~80 MB at 100,000 jobs; with these out of line it is ~270).
    private var settings: OutOfLine<Settings>

    /// What ``settings`` holds (the defaults are the SPEC's).
    struct Settings: Sendable, Hashable {
        var description: String = ""
        var timezone: String?
        var workingDirectory: String?
        var environment: [String: String] = [:]
        var user: String?
        var stdin: String?
        var timeout: Duration?
        var killGrace: Duration = .seconds(10)
        var retry: RetryPolicy = RetryPolicy()
        var catchupWindow: Duration = .seconds(24 * 3600)
        var jitter: Duration = .zero
        var mailTo: String?
        var onFailure: Notification?
        var onSuccess: Notification?
        var onRecovery: Notification?
        var onAlert: Notification?
        var alertAfterFailures: Int?
        var warnAfter: Duration?
        var startGrace: Duration?
        var maxAge: Duration?
        var after: [String] = []
        var afterWindow: Duration = .seconds(24 * 3600)
        var afterWait: Duration = .zero
    }

    private static let defaultSettings = OutOfLine(Settings())

    public var description: String {
        get { settings.value.description }
        set { if settings.value.description != newValue { settings.value.description = newValue } }
    }
    /// IANA zone of the schedule; `nil` means the server default.
    public var timezone: String? {
        get { settings.value.timezone }
        set { if settings.value.timezone != newValue { settings.value.timezone = newValue } }
    }
    public var workingDirectory: String? {
        get { settings.value.workingDirectory }
        set { if settings.value.workingDirectory != newValue { settings.value.workingDirectory = newValue } }
    }
    public var environment: [String: String] {
        get { settings.value.environment }
        set { if settings.value.environment != newValue { settings.value.environment = newValue } }
    }
    public var user: String? {
        get { settings.value.user }
        set { if settings.value.user != newValue { settings.value.user = newValue } }
    }
    public var stdin: String? {
        get { settings.value.stdin }
        set { if settings.value.stdin != newValue { settings.value.stdin = newValue } }
    }
    public var timeout: Duration? {
        get { settings.value.timeout }
        set { if settings.value.timeout != newValue { settings.value.timeout = newValue } }
    }
    public var killGrace: Duration {
        get { settings.value.killGrace }
        set { if settings.value.killGrace != newValue { settings.value.killGrace = newValue } }
    }
    public var retry: RetryPolicy {
        get { settings.value.retry }
        set { if settings.value.retry != newValue { settings.value.retry = newValue } }
    }
    public var catchupWindow: Duration {
        get { settings.value.catchupWindow }
        set { if settings.value.catchupWindow != newValue { settings.value.catchupWindow = newValue } }
    }
    public var jitter: Duration {
        get { settings.value.jitter }
        set { if settings.value.jitter != newValue { settings.value.jitter = newValue } }
    }
    public var mailTo: String? {
        get { settings.value.mailTo }
        set { if settings.value.mailTo != newValue { settings.value.mailTo = newValue } }
    }
    public var onFailure: Notification? {
        get { settings.value.onFailure }
        set { if settings.value.onFailure != newValue { settings.value.onFailure = newValue } }
    }
    public var onSuccess: Notification? {
        get { settings.value.onSuccess }
        set { if settings.value.onSuccess != newValue { settings.value.onSuccess = newValue } }
    }
    /// The first success after failing runs; `nil`: `on_failure`'s targets.
    public var onRecovery: Notification? {
        get { settings.value.onRecovery }
        set { if settings.value.onRecovery != newValue { settings.value.onRecovery = newValue } }
    }
    /// Health alerts (`job.down`) and their `alert.resolved`; `nil`: `on_failure`'s targets.
    public var onAlert: Notification? {
        get { settings.value.onAlert }
        set { if settings.value.onAlert != newValue { settings.value.onAlert = newValue } }
    }
    /// `job.down` once this many runs in a row failed; `nil`: no streak alert.
    public var alertAfterFailures: Int? {
        get { settings.value.alertAfterFailures }
        set { if settings.value.alertAfterFailures != newValue { settings.value.alertAfterFailures = newValue } }
    }
    /// `job.overdue` while a run is still running this long after it started (a timer, not a check at its end).
    public var warnAfter: Duration? {
        get { settings.value.warnAfter }
        set { if settings.value.warnAfter != newValue { settings.value.warnAfter = newValue } }
    }
    /// `job.late` when a due instant has not started this long after it (queues, a full machine, a stall).
    public var startGrace: Duration? {
        get { settings.value.startGrace }
        set { if settings.value.startGrace != newValue { settings.value.startGrace = newValue } }
    }
    /// `job.down` when no run has succeeded for this long (paused by mistake, always skipped, never started).
    public var maxAge: Duration? {
        get { settings.value.maxAge }
        set { if settings.value.maxAge != newValue { settings.value.maxAge = newValue } }
    }
    /// Upstream job ids (`after`): see ``isTriggered`` and the dependency rules in `Scheduler+Dependencies.swift`.
    public var after: [String] {
        get { settings.value.after }
        set { if settings.value.after != newValue { settings.value.after = newValue } }
    }
    /// An upstream success older than this does not satisfy `after`.
    public var afterWindow: Duration {
        get { settings.value.afterWindow }
        set { if settings.value.afterWindow != newValue { settings.value.afterWindow = newValue } }
    }
    /// How long a gated instant waits for `after` before it is recorded `skipped`.
    public var afterWait: Duration {
        get { settings.value.afterWait }
        set { if settings.value.afterWait != newValue { settings.value.afterWait = newValue } }
    }

    public init(
        id: String, schedule: ScheduleExpression, action: Action, name: String? = nil, description: String = "",
        timezone: String? = nil, source: Source = .api
    ) {
        self.id = id
        self.name = name ?? id
        self.schedule = schedule.description
        self.parsedSchedule = schedule
        self.action = action
        self.inheritEnvironment = true
        self.overlap = .skip
        self.catchup = .skip
        self.maxOutput = 1 << 20
        self.enabled = true
        self.tags = []
        self.alertOnMissed = true
        self.source = source
        self.settings = Self.defaultSettings
        self.description = description
        self.timezone = timezone
    }

    /// A job with `after` and no `schedule`: it runs when its dependencies have succeeded (trigger `dependency`).
    public var isTriggered: Bool { parsedSchedule == .unscheduled }

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

/// A value kept in a shared, copy-on-write box: copies of the struct holding it share one allocation until one of
/// them changes it. Equal when the boxes are the same or their values are equal.
struct OutOfLine<Value: Sendable & Hashable>: Sendable, Hashable {
    /// Mutated only while uniquely referenced (copy on write), so sharing it across threads is safe.
    private final class Storage: @unchecked Sendable {
        var value: Value
        init(_ value: Value) { self.value = value }
    }

    private var storage: Storage

    init(_ value: Value) { storage = Storage(value) }

    var value: Value {
        get { storage.value }
        set {
            if isKnownUniquelyReferenced(&storage) {
                storage.value = newValue
            } else {
                storage = Storage(newValue)
            }
        }
    }

    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.storage === rhs.storage || lhs.storage.value == rhs.storage.value
    }

    func hash(into hasher: inout Hasher) { storage.value.hash(into: &hasher) }
}
