import CronKit
import Foundation
import TockCore
import TockJSON

/// JSON shapes of the API: ndscheduler's keys first (so its clients keep working), then Tock's.
enum Render {
    /// ndscheduler's timestamp form: UTC, `+00:00`, microseconds when not whole.
    static func time(_ date: Date?) -> JSONValue {
        guard let date else { return .null }
        return .string(timeString(date))
    }

    static func timeString(_ date: Date) -> String {
        Timestamp.string(for: date, in: .utc, microseconds: true)
    }

    static func duration(_ value: Duration?) -> JSONValue {
        value.map { .string(DurationFormatter.string($0)) } ?? .null
    }

    static func strings(_ values: [String]) -> JSONValue { .array(values.map { .string($0) }) }

    static func table(_ values: [String: String]) -> JSONValue {
        .object(values.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
    }

    static func pubArgs(_ job: Job) -> [String] {
        switch job.action {
        case .command(let command, let shell): [shell, "-c", command]
        case .exec(let argv): argv
        case .custom: []
        }
    }

    static func jobClass(_ job: Job) -> String {
        if case .custom(let kind, _) = job.action { return kind }
        return APIJobDefinition.shellJobClass
    }

    /// ndscheduler's cron fields of a job; empty strings for schedules that are not cron.
    static func cronFields(_ job: Job) -> [String: String] {
        if case .cron(let expression) = job.parsedSchedule { return APSchedulerCron.fields(of: expression) }
        return Dictionary(uniqueKeysWithValues: APSchedulerCron.fieldNames.map { ($0, "") })
    }

    static func scheduleDescription(_ job: Job) -> String {
        job.parsedSchedule.englishDescription
    }

    static func job(
        _ status: Scheduler.JobStatus, recent: [ExecutionRecord], defaultTimeZone: String
    ) -> JSONValue {
        let job = status.job
        let fields = cronFields(job)
        var pairs: [(String, JSONValue)] = [
            ("job_id", .string(job.id)),
            ("name", .string(job.name)),
            ("next_run_time", status.nextFireTime.map { .string(timeString($0)) } ?? .string("")),
            ("job_class_string", .string(jobClass(job))),
            ("pub_args", strings(pubArgs(job))),
            ("month", .string(fields["month"] ?? "")),
            ("day", .string(fields["day"] ?? "")),
            ("week", .string(fields["week"] ?? "")),
            ("day_of_week", .string(fields["day_of_week"] ?? "")),
            ("hour", .string(fields["hour"] ?? "")),
            ("minute", .string(fields["minute"] ?? "")),
            ("schedule", .string(job.schedule)),
            ("schedule_description", .string(scheduleDescription(job))),
            ("timezone", .string(job.timezone ?? defaultTimeZone)),
        ]
        switch job.action {
        case .command(let command, let shell):
            pairs.append(("command", .string(command)))
            pairs.append(("shell", .string(shell)))
        case .exec(let argv):
            pairs.append(("exec", strings(argv)))
        case .custom(let kind, let arguments):
            pairs.append(("kind", .string(kind)))
            pairs.append(("args", table(arguments)))
        }
        pairs += [
            ("description", .string(job.description)),
            ("working_dir", job.workingDirectory.map { .string($0) } ?? .null),
            ("env", table(job.environment)),
            ("inherit_env", .bool(job.inheritEnvironment)),
            ("user", job.user.map { .string($0) } ?? .null),
            ("stdin", job.stdin.map { .string($0) } ?? .null),
            ("timeout", duration(job.timeout)),
            ("kill_grace", duration(job.killGrace)),
            ("retries", .int(job.retry.retries)),
            ("retry_delay", duration(job.retry.delay)),
            ("retry_max_delay", duration(job.retry.maxDelay)),
            ("overlap", .string(job.overlap.rawValue)),
            ("catchup", .string(job.catchup.rawValue)),
            ("catchup_window", duration(job.catchupWindow)),
            ("jitter", duration(job.jitter)),
            ("max_output", .int(job.maxOutput)),
            ("enabled", .bool(job.enabled)),
            ("tags", strings(job.tags)),
            ("mail_to", job.mailTo.map { .string($0) } ?? .null),
            ("on_failure", notification(job.onFailure)),
            ("on_success", notification(job.onSuccess)),
        ]
        switch job.source {
        case .api:
            pairs.append(("source", "api"))
        case .file(let path, let line):
            pairs.append(("source", "file"))
            pairs.append(("file", .string(path)))
            pairs.append(("line", .int(line)))
        }
        pairs.append(("paused", .bool(status.paused)))
        pairs.append(("running", strings(status.runningExecutionIDs.sorted())))
        pairs.append(("last_execution", recent.first.map(executionSummary) ?? .null))
        // Oldest first, for a strip of results.
        pairs.append(("recent_results", .array(recent.reversed().map { .string($0.state.rawValue) })))
        return .object(pairs)
    }

    /// Keys of ``job(_:recent:defaultTimeZone:)`` that are not the job's definition: its state, and ndscheduler's
    /// spellings of keys already there.
    static let derivedKeys: Set<String> = [
        "job_id", "next_run_time", "job_class_string", "pub_args", "month", "day", "week", "day_of_week", "hour",
        "minute", "schedule_description", "source", "file", "line", "paused", "running", "last_execution",
        "recent_results",
    ]

    /// A job's definition as Tock's keys with every default written out: what a modification is compared on.
    static func definition(_ job: Job, defaultTimeZone: String) -> [(String, JSONValue)] {
        let rendered = Render.job(Scheduler.JobStatus(job: job), recent: [], defaultTimeZone: defaultTimeZone)
        return (rendered.objectPairs ?? []).filter { !derivedKeys.contains($0.0) }
    }

    static func notification(_ value: TockCore.Notification?) -> JSONValue {
        guard let value else { return .null }
        var pairs: [(String, JSONValue)] = []
        if let webhook = value.webhook { pairs.append(("webhook", .string(webhook))) }
        if let command = value.command { pairs.append(("command", .string(command))) }
        return .object(pairs)
    }

    static func executionSummary(_ e: ExecutionRecord) -> JSONValue {
        .object([
            ("execution_id", .string(e.id)),
            ("state", .string(e.state.rawValue)),
            ("scheduled_time", time(e.scheduledAt)),
            ("started_time", time(e.startedAt)),
            ("ended_time", time(e.endedAt)),
            ("exit_code", e.exitCode.map { .int(Int($0)) } ?? .null),
        ])
    }

    /// ndscheduler's `result` (`{"returncode": N}` for a shell job) or what went wrong.
    static func result(_ e: ExecutionRecord) -> JSONValue {
        if let code = e.exitCode { return .string("{\n    \"returncode\": \(code)\n}") }
        if let signal = e.signal { return .string("killed by signal \(signal)" + (e.message.map { " (\($0))" } ?? "")) }
        return e.message.map { .string($0) } ?? .null
    }

    /// ndscheduler's `job` object inside an execution.
    static func executionJob(_ job: Job) -> JSONValue {
        let fields = cronFields(job)
        return .object([
            ("job_id", .string(job.id)), ("name", .string(job.name)), ("task_name", .string(jobClass(job))),
            ("pub_args", strings(pubArgs(job))), ("month", .string(fields["month"] ?? "")),
            ("day", .string(fields["day"] ?? "")), ("week", .string(fields["week"] ?? "")),
            ("day_of_week", .string(fields["day_of_week"] ?? "")), ("hour", .string(fields["hour"] ?? "")),
            ("minute", .string(fields["minute"] ?? "")),
        ])
    }

    static func execution(_ e: ExecutionRecord, job: Job?) -> JSONValue {
        execution(e, jobName: job?.name, jobObject: job.map(executionJob))
    }

    /// An execution; `jobObject` (ndscheduler's `job`) is left out when the job no longer exists.
    static func execution(_ e: ExecutionRecord, jobName: String?, jobObject: JSONValue?) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("execution_id", .string(e.id)),
            ("state", .string(e.state.rawValue)),
            ("hostname", .string(e.host)),
            ("pid", e.pid.map { .int(Int($0)) } ?? .null),
            ("task_id", .null),
            ("description", .string(e.message ?? "hostname: \(e.host) | pid: \(e.pid.map(String.init) ?? "-")")),
            ("result", result(e)),
            ("scheduled_time", time(e.scheduledAt)),
            ("updated_time", time(e.endedAt ?? e.startedAt ?? e.scheduledAt)),
        ]
        if let jobObject { pairs.append(("job", jobObject)) }
        let duration: JSONValue =
            if let start = e.startedAt, let end = e.endedAt {
                .double((end.timeIntervalSince(start) * 1000).rounded() / 1000)
            } else {
                .null
            }
        pairs += [
            ("job_id", .string(e.jobID)),
            ("job_name", jobName.map { .string($0) } ?? .null),
            ("trigger", .string(e.trigger.rawValue)),
            ("started_time", time(e.startedAt)),
            ("ended_time", time(e.endedAt)),
            ("duration", duration),
            ("attempt", .int(e.attempt)),
            ("exit_code", e.exitCode.map { .int(Int($0)) } ?? .null),
            ("signal", e.signal.map { .int(Int($0)) } ?? .null),
            ("message", e.message.map { .string($0) } ?? .null),
            ("stdout_bytes", .int(e.stdoutBytes)),
            ("stderr_bytes", .int(e.stderrBytes)),
        ]
        return .object(pairs)
    }

    static func audit(_ entry: AuditEntry) -> JSONValue {
        .object([
            ("job_id", .string(entry.jobID)),
            ("job_name", .string(entry.jobName)),
            ("event", .string(entry.event.rawValue)),
            ("user", .string(entry.user)),
            ("created_time", time(entry.createdAt)),
            ("description", .string(entry.description)),
            ("id", entry.id.map { .int(Int($0)) } ?? .null),
        ])
    }
}
