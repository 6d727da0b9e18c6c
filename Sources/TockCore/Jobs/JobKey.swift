/// Every key of a job definition (SPEC §3), in the order a definition is written: the one place a key's name is
/// spelled. The reader (files and API bodies), the canonical writer (`Job.definition`), the API rendering, the
/// audit diff and the crontab importer all name keys through this type.
public enum JobKey: String, CaseIterable, Sendable, Hashable {
    case name
    case schedule
    case timezone
    /// `"both"`: a cron schedule's day of month and day of week must both match (APScheduler's rule, as
    /// ndscheduler's jobs have it); `"either"` (the default): cron's rule when both are restricted.
    case cronDays = "cron_days"
    case command
    case shell
    case exec
    case kind
    case args
    case description
    case workingDir = "working_dir"
    case env
    case inheritEnv = "inherit_env"
    case user
    case stdin
    case timeout
    case killGrace = "kill_grace"
    case retries
    case retryDelay = "retry_delay"
    case retryMaxDelay = "retry_max_delay"
    case overlap
    case catchup
    case catchupWindow = "catchup_window"
    case jitter
    case maxOutput = "max_output"
    case enabled
    case tags
    case mailTo = "mail_to"
    case onFailure = "on_failure"
    case onSuccess = "on_success"
    case onRecovery = "on_recovery"
    case onAlert = "on_alert"
    case alertAfterFailures = "alert_after_failures"
    case warnAfter = "warn_after"
    case startGrace = "start_grace"
    case maxAge = "max_age"
    case alertOnMissed = "alert_on_missed"
    /// Upstream jobs: without a `schedule` the job runs once each has succeeded since it last ran (triggered);
    /// with one, each instant runs only then (gated).
    case after
    /// An upstream success older than this no longer counts (default 24h).
    case afterWindow = "after_window"
    /// How long a gated instant may wait for its dependencies before it is recorded `skipped` (default 0s).
    case afterWait = "after_wait"

    /// Keys only known when an embedding package registered job kinds.
    public static let kindKeys: Set<JobKey> = [.kind, .args]

    /// The names a job file may use (with `kinds`, also `kind` and `args`).
    public static func names(withKinds: Bool) -> Set<String> {
        Set(allCases.filter { withKinds || !kindKeys.contains($0) }.map(\.rawValue))
    }

    /// Keys of a notification table (`on_failure = { webhook = "…" }`).
    public enum NotificationKey: String, CaseIterable, Sendable {
        case notify, webhook, command, mail
    }
}

extension DefinitionValue {
    /// The value of a job key in a job's table.
    subscript(key: JobKey) -> DefinitionValue? { self[key.rawValue] }
}
