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
