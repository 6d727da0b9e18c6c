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

    static func strings(_ values: [String]) -> JSONValue { .array(values.map { .string($0) }) }

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
        _ status: Scheduler.JobStatus, recent: [ExecutionRecord], defaultTimeZone: String,
        redactEnvironment: Bool = false
    ) -> JSONValue {
        let job = status.job
        let fields = cronFields(job)
        // The canonical definition (name, schedule, timezone, then the rest), with ndscheduler's keys and the
        // job's state around it.
        var definition = job.definition(defaultTimeZone: defaultTimeZone)[...]
        if redactEnvironment { definition = redactingEnvironment(Array(definition))[...] }
        let name = definition.removeFirst()
        let schedule = definition.removeFirst()
        var pairs: [(String, JSONValue)] = [
            ("job_id", .string(job.id)),
            name,
            ("next_run_time", status.nextFireTime.map { .string(timeString($0)) } ?? .string("")),
            ("job_class_string", .string(jobClass(job))),
            ("pub_args", strings(pubArgs(job))),
            ("month", .string(fields["month"] ?? "")),
            ("day", .string(fields["day"] ?? "")),
            ("week", .string(fields["week"] ?? "")),
            ("day_of_week", .string(fields["day_of_week"] ?? "")),
            ("hour", .string(fields["hour"] ?? "")),
            ("minute", .string(fields["minute"] ?? "")),
            schedule,
            ("schedule_description", .string(scheduleDescription(job))),
        ]
        pairs += definition
        switch job.source {
        case .api:
            pairs.append(("source", "api"))
        case .file(let path, let line):
            pairs.append(("source", "file"))
            pairs.append(("file", .string(path)))
            pairs.append(("line", .int(line)))
        }
        pairs.append(("paused", .bool(status.paused)))
        pairs.append(("health", health(Self.health(status, recent: recent))))
        pairs.append(("running", strings(status.runningExecutionIDs.sorted())))
        pairs.append(("last_execution", recent.first.map(executionSummary) ?? .null))
        // Oldest first, for a strip of results.
        pairs.append(("recent_results", .array(recent.reversed().map { .string($0.state.rawValue) })))
        pairs += dependencyPairs(status.dependencies)
        pairs.append(("definition_mismatch", status.definitionMismatch.map(definitionMismatch) ?? .null))
        return .object(pairs)
    }

    static func health(_ status: Scheduler.JobStatus, recent: [ExecutionRecord]) -> JobHealth {
        JobHealth.evaluate(
            job: status.job, paused: status.paused, recent: recent, alerts: status.alerts,
            blocked: status.dependencies.blocked)
    }

    static func health(_ health: JobHealth) -> JSONValue {
        .object([
            ("state", .string(health.state.rawValue)), ("since", time(health.since)),
            ("detail", health.detail.map { .string($0) } ?? .null),
        ])
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
            // The daemon that recorded it: the host name alone, a node's `node_name` in a cluster.
            ("node", .string(e.host)),
            // The digest of the definition the run used (SHA-256 of the canonical definition): in a cluster whose
            // nodes' jobs.d differ, which one ran.
            ("definition_digest", e.definitionDigest.map { .string($0) } ?? .null),
        ]
        return .object(pairs)
    }

    /// The value every `env` entry shows to callers who are not admins.
    static let hidden: JSONValue = "•••"

    /// A definition's pairs with the values of `env` hidden (the names stay).
    static func redactingEnvironment(_ pairs: [(String, JSONValue)]) -> [(String, JSONValue)] {
        pairs.map { key, value in
            guard key == "env", case .object(let entries) = value else { return (key, value) }
            return (key, .object(entries.map { ($0.0, hidden) }))
        }
    }

    static func audit(_ entry: AuditEntry, redactEnvironment: Bool = false) -> JSONValue {
        var description = entry.description
        if redactEnvironment && !entry.event.isSecurity {
            description = redactedAuditDescription(entry)
        }
        return .object([
            ("job_id", .string(entry.jobID)),
            ("job_name", .string(entry.jobName)),
            ("event", .string(entry.event.rawValue)),
            ("user", .string(entry.user)),
            ("created_time", time(entry.createdAt)),
            ("description", .string(description)),
            ("id", entry.id.map { .int(Int($0)) } ?? .null),
            ("address", entry.address.map { .string($0) } ?? .null),
        ])
    }

    /// A job audit entry's description without `env` values: a deleted job's definition with them hidden, a
    /// modification's `env` line reduced to the names that changed.
    static func redactedAuditDescription(_ entry: AuditEntry) -> String {
        switch entry.event {
        case .deleted:
            guard let value = try? JSONValue.parse(Array(entry.description.utf8)), case .object(let pairs) = value
            else { return entry.description }
            return JSONValue.object(redactingEnvironment(pairs)).jsonString
        case .modified:
            return entry.description.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                line.hasPrefix("env: ") ? "env: (changed; values hidden)" : String(line)
            }.joined(separator: "\n")
        default:
            return entry.description
        }
    }
}
