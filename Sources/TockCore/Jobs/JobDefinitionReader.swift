import CronKit
import Foundation

/// Reads one job file (TOML, SPEC §3): every `[job.ID]` table becomes a ``Job``.
///
/// Every problem is reported with its file and line — TOML syntax, unknown keys (almost always typos), wrong
/// types, bad schedules, durations, sizes and zones — and a file with any problem yields no job at all, so a
/// half-understood file never runs.
public enum JobDefinitionReader {
    static let jobKeys = JobKey.names(withKinds: false)
    static let notificationKeys = Set(JobKey.NotificationKey.allCases.map(\.rawValue))

    /// Parses the text of a job file.
    ///
    /// - Parameter kinds: names of the job kinds an embedding package registered; only then are the keys
    ///   `kind` and `args` known.
    public static func parse(_ text: String, file: String, kinds: Set<String> = []) -> (
        jobs: [Job], errors: [JobFileError]
    ) {
        let table: DefinitionValue
        do {
            table = try DefinitionValue.parse(text)
        } catch {
            return ([], [JobFileError(file: file, line: error.line, message: "TOML: \(error.message)")])
        }
        let index = TOMLLineIndex(text)
        var errors: [JobFileError] = []
        var jobs: [Job] = []
        for key in table.keys.sorted() where key != "job" {
            errors.append(
                JobFileError(
                    file: file, line: index.line(table: key),
                    message: "unknown top-level key '\(key)': jobs are tables named [job.ID]"))
        }
        guard let jobTables = table["job"]?.table else {
            if table["job"] != nil {
                errors.append(
                    JobFileError(
                        file: file, line: index.line(table: "job"), message: "'job' must be a table of jobs, [job.ID]"))
            }
            return ([], errors)
        }
        // A jobs.d of many jobs repeats few schedules: each text is parsed once per file.
        let schedules = ScheduleMemo()
        for id in jobTables.keys {
            var reader = JobReader(id: id, file: file, index: index, kinds: kinds, schedules: schedules)
            if let job = reader.read(jobTables[id]) { jobs.append(job) }
            errors += reader.errors
        }
        jobs.sort { ($0.sourceLine, $0.id) < ($1.sourceLine, $1.id) }
        errors.sort { ($0.line, $0.message) < ($1.line, $1.message) }
        return (errors.isEmpty ? jobs : [], errors)
    }

    /// Reads one job from a table of job keys that did not come from a file (a job created through the API);
    /// errors carry the key at fault and no line.
    public static func job(
        id: String, table: DefinitionValue, source: Job.Source, kinds: Set<String> = []
    ) -> (job: Job?, errors: [JobFileError]) {
        var reader = JobReader(id: id, file: "", index: nil, kinds: kinds)
        var job = reader.read(table)
        job?.source = source
        return (reader.errors.isEmpty ? job : nil, reader.errors)
    }

    /// Parses a file on disk; an unreadable file is an error at line 1.
    public static func parse(contentsOf path: String, kinds: Set<String> = []) -> (jobs: [Job], errors: [JobFileError])
    {
        guard let data = FileManager.default.contents(atPath: path) else {
            return ([], [JobFileError(file: path, line: 1, message: "cannot read the file")])
        }
        return parse(data, file: path, kinds: kinds)
    }

    /// Parses the bytes of a job file (which must be UTF-8).
    public static func parse(_ data: Data, file path: String, kinds: Set<String> = []) -> (
        jobs: [Job], errors: [JobFileError]
    ) {
        guard let text = String(data: data, encoding: .utf8) else {
            return ([], [JobFileError(file: path, line: 1, message: "the file is not valid UTF-8")])
        }
        return parse(text, file: path, kinds: kinds)
    }
}

/// Schedules parsed within one file, by their text (parsing is a pure function of it), and the file's tag lists.
final class ScheduleMemo {
    private var parsed: [String: Result<ScheduleExpression, CronParseError>] = [:]
    private var tagLists: Set<[String]> = []

    /// `tags`, sharing the storage of an equal list read before: the jobs of a file mostly repeat a few tag lists,
    /// and each array is ~64 bytes of heap (6 MB at 100,000 jobs).
    func intern(_ tags: [String]) -> [String] {
        tags.isEmpty ? tags : tagLists.insert(tags).memberAfterInsert
    }

    func parse(_ text: String) throws(CronParseError) -> ScheduleExpression {
        if let known = parsed[text] { return try known.get() }
        let result = Result { () throws(CronParseError) in try ScheduleExpression(parsing: text) }
        parsed[text] = result
        return try result.get()
    }
}

extension Job {
    var sourceLine: Int {
        if case .file(_, let line) = source { return line }
        return 0
    }
}

/// Reads one `[job.ID]` table, collecting every error instead of stopping at the first.
struct JobReader {
    let id: String
    let file: String
    let index: TOMLLineIndex?
    let kinds: Set<String>
    var schedules: ScheduleMemo? = nil
    var errors: [JobFileError] = []

    init(id: String, file: String, index: TOMLLineIndex?, kinds: Set<String>, schedules: ScheduleMemo? = nil) {
        self.id = id
        self.file = file
        self.index = index
        self.kinds = kinds
        self.schedules = schedules
    }

    var tablePath: String { "job.\(id)" }

    mutating func fail(_ key: JobKey, _ message: String) { fail(key.rawValue, message) }

    mutating func fail(_ key: String?, _ message: String) {
        let where_ = key.map { "job '\(id)': \($0): " } ?? "job '\(id)': "
        errors.append(
            JobFileError(
                file: file, line: index?.line(table: tablePath, key: key) ?? 0, message: where_ + message, key: key,
                reason: message))
    }

    mutating func read(_ value: DefinitionValue?) -> Job? {
        guard let table = value?.table else {
            fail(nil, "must be a table ([job.\(id)])")
            return nil
        }
        if !Job.isValidID(id) { fail(nil, "the id may only contain letters, digits, '_', '.' and '-'") }
        let known = kinds.isEmpty ? JobDefinitionReader.jobKeys : JobKey.names(withKinds: true)
        for key in table.keys.sorted() where !known.contains(key) {
            let hint =
                JobDefinitionReader.closest(key, in: JobDefinitionReader.jobKeys).map { " (did you mean '\($0)'?)" }
                ?? ""
            fail(key, "unknown key\(hint)")
        }

        var schedule: ScheduleExpression?
        // A job with `after` and no schedule is triggered by its dependencies.
        if let text = string(table, .schedule, required: table[.after] == nil) {
            do {
                if let schedules {
                    schedule = try schedules.parse(text)
                } else {
                    schedule = try ScheduleExpression(parsing: text)
                }
            } catch {
                fail(.schedule, "'\(text)': \(error.description)")
            }
        } else if table[.schedule] == nil && table[.after] != nil {
            schedule = .unscheduled
        }
        if let days = string(table, .cronDays) {
            switch (days, schedule) {
            case ("either", _), (_, nil): break
            case ("both", .cron(let expression)?):
                schedule = .cron((try? CronExpression(parsing: expression.source, daysMatchBoth: true)) ?? expression)
            case ("both", _):
                fail(.cronDays, "applies to a cron schedule only")
            default:
                fail(
                    .cronDays,
                    "must be \"either\" (cron's rule: the day of the month or the day of the week) or \"both\" "
                        + "(APScheduler's rule, as in ndscheduler: both must match)")
            }
        }
        let command = string(table, .command)
        let exec = stringArray(table, .exec)
        let shell = string(table, .shell) ?? "/bin/sh"
        var action: Job.Action?
        if !kinds.isEmpty, let kind = string(table, .kind) {
            if command != nil || exec != nil { fail(.kind, "a job has one of 'command', 'exec' and 'kind'") }
            if !kinds.contains(kind) {
                fail(.kind, "unknown kind '\(kind)' (registered: \(kinds.sorted().joined(separator: ", ")))")
            }
            var arguments: [String: String] = [:]
            if let args = table[.args] {
                if let argsTable = args.table {
                    for key in argsTable.keys.sorted() {
                        if let value = argsTable[key]?.string {
                            arguments[key] = value
                        } else {
                            fail(.args, "\(key) must be a string")
                        }
                    }
                } else {
                    fail(.args, "must be a table of strings, e.g. args = { path = \"/\" }")
                }
            }
            action = .custom(kind: kind, arguments: arguments)
        } else if table[.args] != nil && !kinds.isEmpty {
            fail(.args, "goes with 'kind'")
        }
        switch (command, exec) {
        case _ where action != nil: break
        case (let command?, nil): action = .command(command, shell: shell)
        case (nil, let argv?):
            if argv.isEmpty { fail(.exec, "must name a program: [\"/path/to/program\", \"arg\", …]") }
            if table[.shell] != nil { fail(.shell, "applies to 'command' only; 'exec' runs without a shell") }
            action = .exec(argv)
        case (.some, .some): fail(nil, "has both 'command' and 'exec'; give exactly one")
        case (nil, nil):
            if table[.command] == nil && table[.exec] == nil && table[.kind] == nil {
                fail(nil, "needs 'command' or 'exec'")
            }
        }

        var timezone: String?
        if let zone = string(table, .timezone) {
            if ZoneRules.rules(forIdentifier: zone) == nil {
                fail(.timezone, "unknown time zone '\(zone)' (use an IANA name such as Europe/Paris)")
            } else {
                timezone = zone
            }
        }

        guard let schedule, let action else {
            // Read the rest anyway so every error of the job is reported at once.
            validatePolicies(table)
            return nil
        }
        var job = Job(
            id: id, schedule: schedule, action: action, name: string(table, .name),
            description: string(table, .description) ?? "", timezone: timezone,
            source: .file(path: file, line: index?.line(table: tablePath) ?? 0))
        readPolicies(table, into: &job)
        return errors.isEmpty ? job : nil
    }

    /// Validates the policy keys of a job whose schedule or action is already known to be broken.
    private mutating func validatePolicies(_ table: DefinitionValue) {
        var scratch = Job(id: id, schedule: .reboot, action: .exec(["true"]))
        readPolicies(table, into: &scratch)
    }

    private mutating func readPolicies(_ table: DefinitionValue, into job: inout Job) {
        if let dir = string(table, .workingDir) {
            if dir.isEmpty { fail(.workingDir, "must not be empty") } else { job.workingDirectory = dir }
        }
        if let env = table[.env] {
            if let envTable = env.table {
                for key in envTable.keys.sorted() {
                    if let value = envTable[key]?.string {
                        if let problem = Self.nulProblem(key + value) {
                            errors.append(
                                JobFileError(
                                    file: file,
                                    line: index?.line(table: "\(tablePath).\(JobKey.env.rawValue)", key: key) ?? 0,
                                    message: "job '\(id)': env.\(key): \(problem)", key: JobKey.env.rawValue,
                                    reason: problem))
                        }
                        job.environment[key] = value
                    } else {
                        errors.append(
                            JobFileError(
                                file: file,
                                line: index?.line(table: "\(tablePath).\(JobKey.env.rawValue)", key: key) ?? 0,
                                message: "job '\(id)': env.\(key): must be a string", key: JobKey.env.rawValue,
                                reason: "\(key) must be a string"))
                    }
                }
            } else {
                fail(.env, "must be a table of strings, e.g. env = { PATH = \"/usr/bin:/bin\" }")
            }
        }
        if let inherit = bool(table, .inheritEnv) { job.inheritEnvironment = inherit }
        if let user = string(table, .user) {
            if user.isEmpty { fail(.user, "must not be empty") } else { job.user = user }
        }
        job.stdin = string(table, .stdin)
        job.timeout = duration(table, .timeout, allowZero: false)
        job.killGrace = duration(table, .killGrace, allowZero: true) ?? job.killGrace
        if let retries = int(table, .retries) {
            if retries < 0 || retries > 100 {
                fail(.retries, "\(retries) is out of range 0-100")
            } else {
                job.retry.retries = retries
            }
        }
        job.retry.delay = duration(table, .retryDelay, allowZero: true) ?? job.retry.delay
        job.retry.maxDelay = duration(table, .retryMaxDelay, allowZero: true) ?? job.retry.maxDelay
        if let text = string(table, .overlap) {
            if let policy = OverlapPolicy(rawValue: text) {
                job.overlap = policy
            } else {
                fail(.overlap, "'\(text)' is not one of skip, allow, queue, replace")
            }
        }
        if let text = string(table, .catchup) {
            if let policy = CatchupPolicy(rawValue: text) {
                job.catchup = policy
            } else {
                fail(.catchup, "'\(text)' is not one of skip, latest, all")
            }
        }
        job.catchupWindow = duration(table, .catchupWindow, allowZero: true) ?? job.catchupWindow
        job.jitter = duration(table, .jitter, allowZero: true) ?? job.jitter
        if let value = table[.maxOutput] {
            if let bytes = value.string.flatMap { ByteSize(parsing: $0)?.bytes } ?? value.int, bytes >= 0 {
                if bytes > Job.maximumOutputLimit {
                    fail(.maxOutput, "\(bytes) bytes is too large (at most 1GiB per stream)")
                } else {
                    job.maxOutput = bytes
                }
            } else {
                fail(
                    .maxOutput, "'\(value.string ?? value.type)' is not a size (write e.g. 512KiB, 1MiB)")
            }
        }
        if let enabled = bool(table, .enabled) { job.enabled = enabled }
        if let tags = stringArray(table, .tags) { job.tags = schedules?.intern(tags) ?? tags }
        if let mail = string(table, .mailTo) { job.mailTo = mail.isEmpty ? nil : mail }
        job.onFailure = notification(table, .onFailure)
        job.onSuccess = notification(table, .onSuccess)
        job.onRecovery = notification(table, .onRecovery)
        job.onAlert = notification(table, .onAlert)
        job.warnAfter = duration(table, .warnAfter, allowZero: false)
        job.startGrace = duration(table, .startGrace, allowZero: false)
        job.maxAge = duration(table, .maxAge, allowZero: false)
        if let missed = bool(table, .alertOnMissed) { job.alertOnMissed = missed }
        readDependencies(table, into: &job)
        if let count = int(table, .alertAfterFailures) {
            if count < 1 || count > 1000 {
                fail(.alertAfterFailures, "\(count) is out of range 1-1000")
            } else {
                job.alertAfterFailures = count
            }
        }
    }

    private mutating func notification(_ table: DefinitionValue, _ jobKey: JobKey) -> Notification? {
        let key = jobKey.rawValue
        guard let value = table[key] else { return nil }
        guard let inner = value.table else {
            fail(key, "must be a table, e.g. \(key) = { webhook = \"https://…\" }")
            return nil
        }
        for unknown in inner.keys.sorted() where !JobDefinitionReader.notificationKeys.contains(unknown) {
            fail(key, "unknown key '\(unknown)' (expected notify, webhook, command, mail)")
        }
        var notify: [String] = []
        if let value = inner[JobKey.NotificationKey.notify.rawValue] {
            if let names = value.array?.compactMap(\.string), names.count == value.array?.count {
                notify = names
            } else if let name = value.string {
                notify = [name]
            } else {
                fail(key, "notify must be an array of notifier names, e.g. notify = [\"ops-slack\"]")
            }
        }
        let mail = inner[JobKey.NotificationKey.mail.rawValue]?.string
        if inner[JobKey.NotificationKey.mail.rawValue] != nil && mail == nil { fail(key, "mail must be a string") }
        let webhook = inner[JobKey.NotificationKey.webhook.rawValue]?.string
        let command = inner[JobKey.NotificationKey.command.rawValue]?.string
        if inner[JobKey.NotificationKey.webhook.rawValue] != nil && webhook == nil {
            fail(key, "webhook must be a string")
        }
        if inner[JobKey.NotificationKey.command.rawValue] != nil && command == nil {
            fail(key, "command must be a string")
        }
        if let webhook, !(webhook.hasPrefix("http://") || webhook.hasPrefix("https://")) {
            fail(key, "webhook '\(webhook)' must be an http:// or https:// URL")
        }
        return Notification(
            notify: notify, webhook: webhook, command: command, mail: mail?.isEmpty == true ? nil : mail)
    }
}
