import CronKit
import Foundation
import TockJSON

/// Converts ndscheduler's jobs (as its `GET /api/v1/jobs` returns them) into Tock jobs with the same meaning, and
/// its executions and audit log into Tock's history.
///
/// - Schedules: ndscheduler's split cron fields read with APScheduler 3's rules (``APSchedulerCron``: Monday-based
///   weekdays, less significant fields at their minimum). When `day` and `day_of_week` are both restricted,
///   APScheduler needs both to match; cron needs either: such a job gets `cron_days = "both"`.
/// - Job classes of ndscheduler's reference scheduler: `ShellJob` runs its argv without a shell (`exec`);
///   `CurlJob` becomes an `exec` of curl (its 10 s timeout; a non-2xx answer fails unless told otherwise — it
///   succeeded under ndscheduler); `SlackJob` posts the same JSON with curl to `$SIMPLE_SCHEDULER_SLACK_URL`, read
///   from the daemon's environment as ndscheduler read it. Any other class is custom Python: skipped, said so.
/// - Defaults ndscheduler applied to every job: up to 3 runs at once (`overlap = "allow"`), misfires within an
///   hour coalesced into one run (`catchup = "latest"`, `catchup_window = "1h"`).
public enum NdschedulerImporter {
    public static let shellJob = "simple_scheduler.jobs.shell_job.ShellJob"
    public static let curlJob = "simple_scheduler.jobs.curl_job.CurlJob"
    public static let slackJob = "simple_scheduler.jobs.slack_job.SlackJob"

    public struct Options: Sendable {
        /// ndscheduler's `TIMEZONE` setting (its default: UTC).
        public var timezone = "UTC"
        /// Whether a `CurlJob` fails on an HTTP error status (ndscheduler: never).
        public var curlFailsOnHTTPError = true
        /// When the jobs were read: the next fire times are compared with ndscheduler's after it.
        public var now = Date()

        public init() {}
    }

    /// One job, converted.
    public struct ImportedJob: Sendable, Hashable {
        public var id: String
        public var name: String
        public var jobClass: String
        public var pubArgs: [String]
        public var schedule: String
        public var cronDaysBoth: Bool
        public var exec: [String]?
        public var command: String?
        public var environment: [String: String] = [:]
        public var retries = 0
        public var paused: Bool
        public var timezone: String
        /// Lines for the job's comment in the TOML file.
        public var notes: [String] = []
    }

    /// Something the user should read: a skipped job, a changed meaning, a schedule that could not be matched.
    public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
        public var jobID: String
        public var name: String
        public var message: String
        public var description: String { "job \(jobID) (\(name)): \(message)" }
    }

    public struct Result: Sendable {
        public var jobs: [ImportedJob] = []
        public var warnings: [Diagnostic] = []
        /// Jobs not imported, with why.
        public var skipped: [Diagnostic] = []
    }

    /// Converts every job of ndscheduler's `{"jobs": [...]}` (or the array).
    public static func convert(_ jobs: [JSONValue], options: Options = Options()) -> Result {
        var result = Result()
        let zone = ZoneRules.rules(forIdentifier: options.timezone) ?? .utc
        for value in jobs {
            let id = value["job_id"]?.stringValue ?? ""
            let name = value["name"]?.stringValue ?? id
            func skip(_ message: String) { result.skipped.append(Diagnostic(jobID: id, name: name, message: message)) }
            func warn(_ message: String) { result.warnings.append(Diagnostic(jobID: id, name: name, message: message)) }
            guard Job.isValidID(id) else {
                skip("'\(id)' is not an id Tock can keep")
                continue
            }
            let jobClass = value["job_class_string"]?.stringValue ?? ""
            var pubArgs: [String] = []
            if case .array(let items)? = value["pub_args"] { pubArgs = items.map { $0.stringValue ?? $0.jsonString } }
            var fields: [String: String] = [:]
            for field in APSchedulerCron.fieldNames {
                if let text = value[field]?.stringValue, !text.isEmpty { fields[field] = text }
            }
            let cron: APSchedulerCron
            do { cron = try APSchedulerCron(fields: fields) } catch {
                skip("its schedule cannot be read: \(error)")
                continue
            }
            let nextText = value["next_run_time"]?.stringValue ?? ""
            var job = ImportedJob(
                id: id, name: name, jobClass: jobClass, pubArgs: pubArgs, schedule: cron.expression.source,
                cronDaysBoth: cron.expression.daysMatchBoth, paused: nextText.isEmpty, timezone: options.timezone)
            job.notes.append(
                "ndscheduler job \(id): \(jobClass) \(JSONValue.array(pubArgs.map { .string($0) }).jsonString)")
            job.notes.append(
                "fields: " + APSchedulerCron.fieldNames.map { "\($0)=\(cron.fields[$0] ?? "*")" }.joined(separator: " ")
            )
            if job.cronDaysBoth {
                job.notes.append("day and day_of_week both restricted: both must match (cron_days = \"both\")")
            }
            switch jobClass {
            case shellJob:
                guard !pubArgs.isEmpty else {
                    skip("a ShellJob without arguments has nothing to run")
                    continue
                }
                job.exec = pubArgs
            case curlJob:
                guard let url = pubArgs.first else {
                    skip("a CurlJob needs its URL as the first argument")
                    continue
                }
                let method = pubArgs.count > 1 ? pubArgs[1].uppercased() : "GET"
                job.exec =
                    ["curl", "--silent", "--show-error", "--location", "--max-time", "10", "--request", method]
                    + (options.curlFailsOnHTTPError ? ["--fail"] : []) + ["--", url]
                if options.curlFailsOnHTTPError {
                    warn(
                        "CurlJob: a response with an HTTP error status now fails the run (ndscheduler recorded it "
                            + "succeeded); import with --curl-keep-status for the old meaning")
                }
            case slackJob:
                guard pubArgs.count >= 4 else {
                    skip("a SlackJob needs channel, name, icon_emoji and message")
                    continue
                }
                let payload: JSONValue = .object([
                    ("channel", .string(pubArgs[0])), ("username", .string(pubArgs[1])), ("text", .string(pubArgs[3])),
                    ("icon_emoji", .string(pubArgs[2])), ("link_names", 1),
                ])
                job.command =
                    #"curl --silent --show-error --fail --max-time 10 --retry 3 -H 'Content-Type: application/json' "#
                    + #"--data "$TOCK_SLACK_PAYLOAD" "$SIMPLE_SCHEDULER_SLACK_URL""#
                job.environment["TOCK_SLACK_PAYLOAD"] = payload.jsonString
                warn(
                    "SlackJob: posts with curl to $SIMPLE_SCHEDULER_SLACK_URL, which must be in tock serve's "
                        + "environment as it was in ndscheduler's")
            default:
                skip(
                    "job class '\(jobClass)' is custom Python and cannot run in Tock; rewrite it as a command, or as "
                        + "a custom job kind (README: Tock as a library)")
                continue
            }
            // The same next fire time as ndscheduler reports, or a warning saying both.
            if !job.paused, let reported = Date(parsing: nextText, defaultZone: zone),
                let schedule = ScheduleExpression.cron(cron.expression).schedule(in: zone.timeZone)
            {
                let now = min(options.now, reported.addingTimeInterval(-1))
                if let ours = schedule.nextFireDate(after: now), abs(ours.timeIntervalSince(reported)) >= 1 {
                    warn(
                        "ndscheduler's next run is \(nextText), Tock's would be "
                            + Timestamp.string(for: ours, in: zone) + " (is its TIMEZONE setting \(options.timezone)? "
                            + "see --timezone)")
                }
            }
            if job.paused { job.notes.append("paused in ndscheduler") }
            result.jobs.append(job)
        }
        return result
    }

    // MARK: - Output

    /// The jobs as Tock's keys (a job file's table as JSON), for `POST /api/v1/jobs`.
    public static func apiBody(_ job: ImportedJob) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("job_id", .string(job.id)), (JobKey.name.rawValue, .string(job.name)),
            (JobKey.schedule.rawValue, .string(job.schedule)), (JobKey.timezone.rawValue, .string(job.timezone)),
        ]
        if job.cronDaysBoth { pairs.append((JobKey.cronDays.rawValue, "both")) }
        if let exec = job.exec { pairs.append((JobKey.exec.rawValue, .array(exec.map { .string($0) }))) }
        if let command = job.command { pairs.append((JobKey.command.rawValue, .string(command))) }
        if !job.environment.isEmpty {
            pairs.append(
                (
                    JobKey.env.rawValue,
                    .object(job.environment.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
                ))
        }
        pairs += [
            (JobKey.overlap.rawValue, "allow"), (JobKey.catchup.rawValue, "latest"),
            (JobKey.catchupWindow.rawValue, "1h"), (JobKey.tags.rawValue, .array([.string("ndscheduler")])),
            (JobKey.description.rawValue, .string("imported from ndscheduler job \(job.id)")),
        ]
        return .object(pairs)
    }

    /// A jobs.d file with every imported job. Paused jobs are written `enabled = false` (a job file has no
    /// paused state; the comment says so).
    public static func toml(_ result: Result, source: String) -> String {
        var out = "# Imported by `tock import ndscheduler` from \(CrontabImporter.comment(source)).\n"
        out += "# Each job keeps ndscheduler's schedule (APScheduler's reading of its fields) and its id; ndscheduler\n"
        out +=
            "# ran up to 3 runs of a job at once and coalesced misfires within an hour: overlap and catchup say so.\n"
        for job in result.jobs {
            out += "\n[job.\(CrontabImporter.key(job.id))]\n"
            for note in job.notes { out += "# \(CrontabImporter.comment(note))\n" }
            guard case .object(let pairs) = apiBody(job) else { continue }
            for (key, value) in pairs where key != "job_id" {
                out += "\(key) = \(tomlValue(value))\n"
            }
            if job.paused {
                out += "# Paused in ndscheduler: set enabled = true (or remove the line) to run it.\n"
                out += "\(JobKey.enabled.rawValue) = false\n"
            }
        }
        return out
    }

    static func tomlValue(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return CrontabImporter.quote(text)
        case .array(let items): return "[" + items.map(tomlValue).joined(separator: ", ") + "]"
        case .object(let pairs):
            return "{ " + pairs.map { "\(CrontabImporter.key($0.0)) = \(tomlValue($0.1))" }.joined(separator: ", ")
                + " }"
        default: return value.jsonString
        }
    }

    // MARK: - History

    /// One of ndscheduler's executions as a Tock execution (same id: importing twice replaces, never adds).
    /// Runs ndscheduler left `running`, `scheduled` or `stopping` (it crashed) become `interrupted`.
    public static func execution(_ value: JSONValue, manualIDs: Set<String>, zone: ZoneRules) -> ExecutionRecord? {
        guard let id = value["execution_id"]?.stringValue, !id.isEmpty,
            let jobID = value["job"]?["job_id"]?.stringValue ?? value["job_id"]?.stringValue,
            let scheduledText = value["scheduled_time"]?.stringValue,
            let scheduled = Date(parsing: scheduledText, defaultZone: zone)
        else { return nil }
        let stateText = value["state"]?.stringValue ?? ""
        let state: ExecutionState
        var message = "imported from ndscheduler"
        switch stateText {
        case "running", "scheduled", "stopping":
            state = .interrupted
            message += " (left \(stateText) by ndscheduler)"
        default:
            guard let known = ExecutionState(rawValue: stateText) else { return nil }
            state = known
        }
        var record = ExecutionRecord(
            id: id, jobID: jobID, state: state, trigger: manualIDs.contains(id) ? .manual : .schedule,
            scheduledAt: scheduled, host: value["hostname"]?.stringValue ?? "ndscheduler")
        record.startedAt = scheduled
        if let updated = value["updated_time"]?.stringValue.flatMap({ Date(parsing: $0, defaultZone: zone) }) {
            record.endedAt = max(updated, scheduled)
        }
        if case .int(let pid)? = value["pid"], let small = Int32(exactly: pid) { record.pid = small }
        let result = value["result"]?.stringValue ?? ""
        if let parsed = try? JSONValue.parse(Array(result.utf8)), case .int(let code)? = parsed["returncode"],
            let small = Int32(exactly: code)
        {
            record.exitCode = small
        }
        record.message = message
        record.stdout = Array(result.utf8)
        record.stdoutBytes = record.stdout.count
        return record
    }

    /// One of ndscheduler's audit entries as Tock's (an empty user is `ndscheduler`).
    public static func auditEntry(_ value: JSONValue, zone: ZoneRules) -> AuditEntry? {
        guard let event = value["event"]?.stringValue.flatMap(AuditEntry.Event.init(rawValue:)), !event.isSecurity,
            let jobID = value["job_id"]?.stringValue,
            let created = value["created_time"]?.stringValue.flatMap({ Date(parsing: $0, defaultZone: zone) })
        else { return nil }
        let user = value["user"]?.stringValue ?? ""
        return AuditEntry(
            jobID: jobID, jobName: value["job_name"]?.stringValue ?? jobID, event: event,
            user: user.isEmpty ? "ndscheduler" : user, createdAt: created,
            description: value["description"]?.stringValue ?? "")
    }
}
