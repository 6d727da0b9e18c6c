import CronKit
import Foundation

/// A compact binary form of ``Job`` values, for the definition cache of jobs.d (``JobDefinitionCacheFile``):
/// decoding 100,000 jobs takes a fraction of parsing their TOML.
///
/// Every stored property of `Job` is written; ``jobFields`` lists them, and a test compares that list with the
/// properties `Job` has, so a property added to `Job` without a place here fails the tests (and changes the cache
/// file's identity, so older caches are ignored).
enum JobBinaryCodec {
    /// `Job`'s stored properties, in the order written.
    static let jobFields = [
        "id", "name", "description", "schedule", "parsedSchedule", "timezone", "action", "workingDirectory",
        "environment", "inheritEnvironment", "user", "stdin", "timeout", "killGrace", "retry", "overlap", "catchup",
        "catchupWindow", "jitter", "maxOutput", "enabled", "tags", "mailTo", "onFailure", "onSuccess", "onRecovery",
        "onAlert", "alertAfterFailures", "warnAfter", "startGrace", "maxAge", "alertOnMissed", "after", "afterWindow",
        "afterWait", "source",
    ]

    struct Corrupt: Error {}

    struct Writer {
        var bytes: [UInt8] = []

        mutating func int(_ value: Int64) {
            // Zig-zag, then 7 bits a byte.
            var v = UInt64(bitPattern: (value << 1) ^ (value >> 63))
            while v >= 0x80 {
                bytes.append(UInt8(v & 0x7F) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }
        mutating func int(_ value: Int) { int(Int64(value)) }
        mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
        mutating func string(_ value: String) {
            int(value.utf8.count)
            bytes.append(contentsOf: value.utf8)
        }
        mutating func string(_ value: String?) {
            bool(value != nil)
            if let value { string(value) }
        }
        mutating func strings(_ values: [String]) {
            int(values.count)
            for value in values { string(value) }
        }
        mutating func duration(_ value: Duration) {
            int(value.components.seconds)
            int(value.components.attoseconds)
        }
        mutating func duration(_ value: Duration?) {
            bool(value != nil)
            if let value { duration(value) }
        }
        mutating func notification(_ value: Notification?) {
            bool(value != nil)
            guard let value else { return }
            strings(value.notify)
            string(value.webhook)
            string(value.command)
            string(value.mail)
        }

        mutating func job(_ job: Job) {
            string(job.id)
            string(job.name)
            string(job.description)
            string(job.schedule)
            switch job.parsedSchedule {
            case .cron(let expression):
                int(0)
                string(expression.source)
                bool(expression.daysMatchBoth)
            case .every(let seconds):
                int(1)
                int(seconds)
            case .reboot: int(2)
            case .unscheduled: int(3)
            }
            string(job.timezone)
            switch job.action {
            case .command(let command, let shell):
                int(0)
                string(command)
                string(shell)
            case .exec(let argv):
                int(1)
                strings(argv)
            case .custom(let kind, let arguments):
                int(2)
                string(kind)
                int(arguments.count)
                for key in arguments.keys.sorted() {
                    string(key)
                    string(arguments[key]!)
                }
            }
            string(job.workingDirectory)
            int(job.environment.count)
            for key in job.environment.keys.sorted() {
                string(key)
                string(job.environment[key]!)
            }
            bool(job.inheritEnvironment)
            string(job.user)
            string(job.stdin)
            duration(job.timeout)
            duration(job.killGrace)
            int(job.retry.retries)
            duration(job.retry.delay)
            duration(job.retry.maxDelay)
            string(job.overlap.rawValue)
            string(job.catchup.rawValue)
            duration(job.catchupWindow)
            duration(job.jitter)
            int(job.maxOutput)
            bool(job.enabled)
            strings(job.tags)
            string(job.mailTo)
            notification(job.onFailure)
            notification(job.onSuccess)
            notification(job.onRecovery)
            notification(job.onAlert)
            bool(job.alertAfterFailures != nil)
            if let count = job.alertAfterFailures { int(count) }
            duration(job.warnAfter)
            duration(job.startGrace)
            duration(job.maxAge)
            bool(job.alertOnMissed)
            strings(job.after)
            duration(job.afterWindow)
            duration(job.afterWait)
            switch job.source {
            case .file(let path, let line):
                int(0)
                string(path)
                int(line)
            case .api: int(1)
            }
        }
    }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0
        /// Cron expressions by text and flag: a jobs.d repeats few schedules, and each costs a parse.
        var schedules: [String: CronExpression] = [:]
        var bothSchedules: [String: CronExpression] = [:]
        /// Tag lists read so far: equal lists share one array (jobs repeat a few; each array is ~64 bytes).
        var tagLists: Set<[String]> = []

        init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
            self.bytes = bytes
            self.offset = offset
        }

        var atEnd: Bool { offset >= bytes.count }

        mutating func byte() throws(Corrupt) -> UInt8 {
            guard offset < bytes.count else { throw Corrupt() }
            defer { offset += 1 }
            return bytes[offset]
        }
        mutating func int64() throws(Corrupt) -> Int64 {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let b = try byte()
                guard shift < 64 else { throw Corrupt() }
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { break }
                shift += 7
            }
            return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
        }
        mutating func int() throws(Corrupt) -> Int { Int(try int64()) }
        mutating func count() throws(Corrupt) -> Int {
            let n = try int()
            guard n >= 0, n <= bytes.count - offset else { throw Corrupt() }
            return n
        }
        mutating func bool() throws(Corrupt) -> Bool {
            switch try byte() {
            case 0: false
            case 1: true
            default: throw Corrupt()
            }
        }
        mutating func string() throws(Corrupt) -> String {
            let n = try count()
            defer { offset += n }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]), as: UTF8.self)
        }
        mutating func optionalString() throws(Corrupt) -> String? { try bool() ? try string() : nil }
        mutating func strings() throws(Corrupt) -> [String] {
            let n = try count()
            var values: [String] = []
            values.reserveCapacity(n)
            for _ in 0..<n { values.append(try string()) }
            return values
        }
        mutating func duration() throws(Corrupt) -> Duration {
            let seconds = try int64()
            let attoseconds = try int64()
            return Duration(secondsComponent: seconds, attosecondsComponent: attoseconds)
        }
        mutating func optionalDuration() throws(Corrupt) -> Duration? { try bool() ? try duration() : nil }
        mutating func notification() throws(Corrupt) -> Notification? {
            guard try bool() else { return nil }
            return Notification(
                notify: try strings(), webhook: try optionalString(), command: try optionalString(),
                mail: try optionalString())
        }
        mutating func cron(_ source: String, daysMatchBoth: Bool) throws(Corrupt) -> CronExpression {
            if let known = (daysMatchBoth ? bothSchedules : schedules)[source] { return known }
            guard let expression = try? CronExpression(parsing: source, daysMatchBoth: daysMatchBoth) else {
                throw Corrupt()
            }
            if daysMatchBoth { bothSchedules[source] = expression } else { schedules[source] = expression }
            return expression
        }

        mutating func job() throws(Corrupt) -> Job {
            let id = try string()
            let name = try string()
            let description = try string()
            let scheduleText = try string()
            let parsed: ScheduleExpression
            switch try int() {
            case 0:
                let source = try string()
                parsed = .cron(try cron(source, daysMatchBoth: try bool()))
            case 1: parsed = .every(seconds: try int64())
            case 2: parsed = .reboot
            case 3: parsed = .unscheduled
            default: throw Corrupt()
            }
            let timezone = try optionalString()
            let action: Job.Action
            switch try int() {
            case 0: action = .command(try string(), shell: try string())
            case 1: action = .exec(try strings())
            case 2:
                let kind = try string()
                var arguments: [String: String] = [:]
                for _ in 0..<(try count()) {
                    let key = try string()
                    arguments[key] = try string()
                }
                action = .custom(kind: kind, arguments: arguments)
            default: throw Corrupt()
            }
            var job = Job(
                id: id, schedule: parsed, action: action, name: name, description: description, timezone: timezone)
            job.schedule = scheduleText
            job.workingDirectory = try optionalString()
            let environmentCount = try count()
            if environmentCount > 0 {
                var environment: [String: String] = [:]
                environment.reserveCapacity(environmentCount)
                for _ in 0..<environmentCount {
                    let key = try string()
                    environment[key] = try string()
                }
                job.environment = environment
            }
            job.inheritEnvironment = try bool()
            job.user = try optionalString()
            job.stdin = try optionalString()
            job.timeout = try optionalDuration()
            job.killGrace = try duration()
            let retries = try int()
            job.retry = RetryPolicy(retries: retries, delay: try duration(), maxDelay: try duration())
            guard let overlap = OverlapPolicy(rawValue: try string()),
                let catchup = CatchupPolicy(rawValue: try string())
            else { throw Corrupt() }
            job.overlap = overlap
            job.catchup = catchup
            job.catchupWindow = try duration()
            job.jitter = try duration()
            job.maxOutput = try int()
            job.enabled = try bool()
            let tags = try strings()
            job.tags = tags.isEmpty ? tags : tagLists.insert(tags).memberAfterInsert
            job.mailTo = try optionalString()
            job.onFailure = try notification()
            job.onSuccess = try notification()
            job.onRecovery = try notification()
            job.onAlert = try notification()
            job.alertAfterFailures = try bool() ? try int() : nil
            job.warnAfter = try optionalDuration()
            job.startGrace = try optionalDuration()
            job.maxAge = try optionalDuration()
            job.alertOnMissed = try bool()
            job.after = try strings()
            job.afterWindow = try duration()
            job.afterWait = try duration()
            switch try int() {
            case 0: job.source = .file(path: try string(), line: try int())
            case 1: job.source = .api
            default: throw Corrupt()
            }
            return job
        }
    }
}
