import CronKit
import Foundation
import TockJSON

/// A job created through the API: the JSON body it was created from, and its reading into a ``Job``.
///
/// The body may use Tock's keys (those of a job file, SPEC §3) or ndscheduler's: `job_class_string` naming a
/// shell job with `pub_args` as its argv, and the split cron fields `month`, `day`, `week`, `day_of_week`,
/// `hour`, `minute`, read with APScheduler's rules (see ``APSchedulerCron``). Where both spell the same thing,
/// Tock's key wins, so a job read with `GET` can be sent back with `PUT` (response-only keys are ignored).
///
/// The definition is stored as given (less the ignored keys) and read again through this type on every start,
/// so a stored job means exactly what it meant when it was accepted.
public struct APIJobDefinition: Sendable, Hashable {
    public let id: String
    /// The body's keys in the order given.
    public let body: JSONValue

    /// The `job_class_string` of ndscheduler's shell job.
    public static let shellJobClass = "simple_scheduler.jobs.shell_job.ShellJob"
    static let ndschedulerKeys: Set<String> = Set(APSchedulerCron.fieldNames).union(["job_class_string", "pub_args"])
    /// Keys a response carries that a request may send back; ignored.
    static let responseOnlyKeys: Set<String> = [
        "job_id", "id", "next_run_time", "source", "file", "line", "paused", "last_execution", "running",
        "schedule_description", "task_name", "recent_results", "health", "downstream", "dependencies", "waiting_on",
        "blocked", "definition_mismatch",
    ]

    /// A body that cannot become a job: the key at fault (if one) and what is wrong.
    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public let field: String?
        public let message: String
        public init(field: String?, _ message: String) {
            self.field = field
            self.message = message
        }
        public var description: String { field.map { "\($0): \(message)" } ?? message }
    }

    public init(id: String, body: JSONValue) {
        self.id = id
        self.body = body
    }

    /// Reads the body into a job (source `.api`); every problem found, first the most useful.
    public func job(kinds: Set<String> = []) throws(Problem) -> Job {
        let problems = self.problems(kinds: kinds)
        if let first = problems.problems.first { throw first }
        return problems.job!
    }

    /// The body without the keys a response carries.
    public var storedBody: JSONValue {
        guard let pairs = body.objectPairs else { return body }
        return .object(pairs.filter { !Self.responseOnlyKeys.contains($0.0) })
    }

    /// Reads the body into a job, or lists every problem. Tock's keys go to the job reader as they are; this only
    /// translates ndscheduler's spellings (split cron fields, `job_class_string` + `pub_args`).
    public func problems(kinds: Set<String>) -> (job: Job?, problems: [Problem]) {
        guard let pairs = body.objectPairs else {
            return (nil, [Problem(field: nil, "the body must be a JSON object of job keys, not \(body.typeName)")])
        }
        var problems = unknownKeys(in: pairs, kinds: kinds)
        var table = Translation()
        for (key, value) in pairs where JobKey(rawValue: key) != nil {
            if let converted = DefinitionValue(json: value) { table.set(key, converted) }  // null: as if absent
        }
        let apscheduler = translateSchedule(into: &table, problems: &problems)
        translateAction(into: &table, problems: &problems)
        let scheduleFields = Set(APSchedulerCron.fieldNames + [JobKey.schedule.rawValue])
        if problems.contains(where: { scheduleFields.contains($0.field ?? "") }) {
            table.set(JobKey.schedule.rawValue, nil)
        }
        let (job, errors) = JobDefinitionReader.job(id: id, table: table.tree, source: .api, kinds: kinds)
        // A schedule already reported in ndscheduler's terms is not reported again as missing.
        for error in errors where !(table.values[JobKey.schedule.rawValue] == nil && error.missingKey == .schedule) {
            problems.append(Problem(field: error.key, error.reason))
        }
        guard var job, problems.isEmpty else { return (nil, problems) }
        if let apscheduler { job.parsedSchedule = .cron(apscheduler.expression) }
        return (job, [])
    }

    /// The table handed to the job reader, in the body's key order.
    struct Translation {
        var values: [String: DefinitionValue] = [:]
        var order: [String] = []
        mutating func set(_ key: String, _ value: DefinitionValue?) {
            if values[key] == nil, value != nil { order.append(key) }
            values[key] = value
            if value == nil { order.removeAll { $0 == key } }
        }
        var tree: DefinitionValue { .table(values, order: order) }
    }

    func unknownKeys(in pairs: [(String, JSONValue)], kinds: Set<String>) -> [Problem] {
        let known = JobKey.names(withKinds: !kinds.isEmpty).union(Self.ndschedulerKeys).union(Self.responseOnlyKeys)
        return pairs.filter { !known.contains($0.0) }.map { key, _ in
            let hint =
                JobDefinitionReader.closest(key, in: JobDefinitionReader.jobKeys).map { " (did you mean '\($0)'?)" }
                ?? ""
            return Problem(field: key, "unknown key\(hint)")
        }
    }

    /// A value the body gives (null counts as absent).
    func given(_ key: String) -> JSONValue? {
        guard let found = body[key], found != .null else { return nil }
        return found
    }

    /// ndscheduler's split cron fields, when the body has no `schedule`.
    func translateSchedule(into table: inout Translation, problems: inout [Problem]) -> APSchedulerCron? {
        guard table.values[JobKey.schedule.rawValue] == nil else { return nil }
        // No schedule and `after`: a job triggered by its dependencies.
        // (A job read with GET carries ndscheduler's fields as empty strings: as if absent.)
        let noFields = APSchedulerCron.fieldNames.allSatisfy { given($0) == nil || given($0) == .string("") }
        if table.values[JobKey.after.rawValue] != nil && noFields {
            return nil
        }
        var fields: [String: String] = [:]
        for name in APSchedulerCron.fieldNames {
            switch given(name) {
            case nil: continue
            case .string(let text)?: fields[name] = text
            case .int(let number)?: fields[name] = String(number)
            case let other?:
                problems.append(Problem(field: name, "must be a string such as \"*/5\", not \(other.typeName)"))
            }
        }
        guard !fields.isEmpty else {
            if problems.isEmpty {
                problems.append(
                    Problem(
                        field: JobKey.schedule.rawValue,
                        "is required (a cron expression, @every DURATION, …; or ndscheduler's minute, hour, day, month, day_of_week)"
                    ))
            }
            return nil
        }
        do {
            let cron = try APSchedulerCron(fields: fields)
            table.set(JobKey.schedule.rawValue, .string(cron.expression.source))
            return cron
        } catch {
            problems.append(Problem(field: error.field, error.message))
            return nil
        }
    }

    /// ndscheduler's job class and argv, unless Tock's own action keys are there.
    func translateAction(into table: inout Translation, problems: inout [Problem]) {
        let actionKeys: [JobKey] = [.command, .exec, .kind]
        guard actionKeys.allSatisfy({ table.values[$0.rawValue] == nil }) else { return }
        guard let jobClass = given("job_class_string") else {
            if given("pub_args") != nil { problems.append(Problem(field: "pub_args", "goes with job_class_string")) }
            return
        }
        if jobClass.stringValue != Self.shellJobClass {
            problems.append(
                Problem(
                    field: "job_class_string",
                    "\(jobClass.stringValue.map { "'\($0)'" } ?? jobClass.typeName) is not a job class Tock runs; use '\(Self.shellJobClass)' with pub_args as the argv, or 'command'/'exec'"
                ))
        }
        switch given("pub_args") {
        case .array(let items) where !items.isEmpty:
            if let argv = DefinitionValue(json: .array(items)) { table.set(JobKey.exec.rawValue, argv) }
        case nil, .array:
            problems.append(
                Problem(field: "pub_args", "ShellJob needs the program to run: [\"/bin/sh\", \"-c\", \"…\"]"))
        case let other?:
            problems.append(Problem(field: "pub_args", "must be an array of strings, not \(other.typeName)"))
        }
    }

}
