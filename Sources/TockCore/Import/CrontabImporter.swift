import CronKit
import Foundation

/// Reads crontabs as cronie and Debian cron read them (crontab(5)) and turns each job line into a Tock job that
/// does what cron would have done, with a warning for every line whose meaning could surprise.
///
/// Kept: schedules (every field form and macro), the command, `SHELL` (→ `shell`), other variables (→ `env`),
/// cron's minimal environment (→ `inherit_env = false`), `MAILTO` (→ `mail_to`), `CRON_TZ`/`TZ` (→ `timezone`),
/// cronie's `RANDOM_DELAY` in minutes (→ `jitter`), the user column of system crontabs (→ `user`), and `%`:
/// the first unescaped `%` ends the command and the rest, with further `%` as newlines, becomes `stdin`; `\%` is
/// a literal `%`.
public enum CrontabImporter {
    /// One imported job.
    public struct ImportedJob: Sendable, Equatable {
        public var id: String
        public var schedule: String
        public var command: String
        public var user: String?
        public var shell: String?
        public var environment: [(String, String)]
        public var mailTo: String?
        public var timezone: String?
        public var jitterMinutes: Int?
        public var stdin: String?
        public var file: String
        public var line: Int
        public var originalLine: String

        public static func == (a: ImportedJob, b: ImportedJob) -> Bool {
            a.id == b.id && a.schedule == b.schedule && a.command == b.command && a.user == b.user
                && a.shell == b.shell
                && a.environment.map { $0.0 + "=" + $0.1 } == b.environment.map { $0.0 + "=" + $0.1 }
                && a.mailTo == b.mailTo && a.timezone == b.timezone && a.jitterMinutes == b.jitterMinutes
                && a.stdin == b.stdin && a.file == b.file && a.line == b.line
        }
    }

    /// A located message: `FILE:LINE: message`.
    public struct Diagnostic: Sendable, Equatable, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var message: String
        public var description: String { "\(file):\(line): \(message)" }
    }

    public struct Result: Sendable {
        public var jobs: [ImportedJob] = []
        public var warnings: [Diagnostic] = []
        /// Malformed lines, reported and skipped.
        public var errors: [Diagnostic] = []
        /// Whether the user column of the system format was read (given or detected).
        public var systemFormat = false
    }

    /// Imports a crontab's text.
    ///
    /// - Parameters:
    ///   - system: `true` for the system format (a user column after the schedule), `false` for a user crontab,
    ///     `nil` to detect it (and say so in a warning).
    ///   - userExists: whether a user exists on this machine (for warnings).
    public static func parse(
        _ text: String, file: String, system: Bool? = nil, userExists: (String) -> Bool = { UserLookup.exists($0) }
    ) -> Result {
        var result = Result()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        let systemFormat = system ?? detectSystemFormat(lines, file: file, userExists: userExists)
        result.systemFormat = systemFormat
        if system == nil && systemFormat {
            result.warnings.append(
                Diagnostic(file: file, line: 1, message: "read as a system crontab (a user column after the schedule)"))
        }
        var environment: [(String, String)] = []
        var shell: String?
        var mailTo: String?
        var mailToSet = false
        var timezone: String?
        var jitter: Int?
        var lastComment: String?
        var usedIDs: Set<String> = []
        var sawJob = false

        for (index, raw) in lines.enumerated() {
            let number = index + 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty {
                lastComment = nil
                continue
            }
            if line.hasPrefix("#") {
                let comment = line.drop(while: { $0 == "#" }).trimmingCharacters(in: .whitespaces)
                // The usual column header ("m h dom mon dow command") names no job.
                let isHeader = comment.lowercased().contains("dom mon dow")
                lastComment = isHeader ? nil : comment.isEmpty ? lastComment : comment
                continue
            }
            if let (name, value) = environmentAssignment(line) {
                switch name {
                case "SHELL": shell = value
                case "MAILTO":
                    mailTo = value
                    mailToSet = true
                case "CRON_TZ", "TZ":
                    if ZoneRules.rules(forIdentifier: value) == nil {
                        result.errors.append(
                            Diagnostic(file: file, line: number, message: "\(name): unknown time zone '\(value)'"))
                    } else {
                        timezone = value
                    }
                    if name == "TZ" { environment.removeAll { $0.0 == "TZ" }; environment.append(("TZ", value)) }
                case "RANDOM_DELAY":
                    if let minutes = Int(value), minutes >= 0 {
                        jitter = minutes
                    } else {
                        result.errors.append(
                            Diagnostic(
                                file: file, line: number, message: "RANDOM_DELAY: '\(value)' is not a number of minutes"
                            ))
                    }
                default:
                    environment.removeAll { $0.0 == name }
                    environment.append((name, value))
                }
                continue
            }
            guard
                var job = jobLine(
                    line, system: systemFormat, file: file, number: number, result: &result, userExists: userExists)
            else { continue }
            sawJob = true
            job.shell = shell
            job.environment = environment
            job.mailTo = mailToSet ? mailTo : nil
            job.timezone = timezone
            job.jitterMinutes = jitter
            job.originalLine = raw
            job.id = uniqueID(base: lastComment.map(slug) ?? idFromCommand(job.command), used: &usedIDs)
            lastComment = nil
            result.jobs.append(job)
        }
        if sawJob && !mailToSet {
            result.warnings.append(
                Diagnostic(
                    file: file, line: 1,
                    message:
                        "no MAILTO: cron mails each job's output to the crontab's owner; Tock records the output and mails nobody (set mail_to to keep mails)"
                ))
        }
        return result
    }

    /// `NAME = value`, `NAME=value`, `NAME = "quoted value"` (crontab(5)); `nil` when the line is not one.
    static func environmentAssignment(_ line: String) -> (String, String)? {
        guard let equals = line.firstIndex(of: "=") else { return nil }
        let name = line[..<equals].trimmingCharacters(in: .whitespaces)
        guard let first = name.first, first.isLetter || first == "_",
            name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
        else { return nil }
        var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        if value.count >= 2, let q = value.first, q == "\"" || q == "'", value.last == q {
            value = String(value.dropFirst().dropLast())
        }
        return (name, value)
    }

    private static func jobLine(
        _ line: String, system: Bool, file: String, number: Int, result: inout Result, userExists: (String) -> Bool
    ) -> ImportedJob? {
        var rest = Substring(line)
        func word() -> String? {
            rest = rest.drop(while: { $0 == " " || $0 == "\t" })
            guard !rest.isEmpty else { return nil }
            let token = rest.prefix(while: { $0 != " " && $0 != "\t" })
            rest = rest.dropFirst(token.count)
            return String(token)
        }
        var fields: [String] = []
        if line.hasPrefix("-") {
            // cronie: a leading '-' turns off syslog logging of the job; Tock always records.
            rest = rest.dropFirst()
            result.warnings.append(
                Diagnostic(
                    file: file, line: number, message: "the leading '-' (no syslog) is dropped: Tock records every run")
            )
        }
        guard let first = word() else { return nil }
        if first.hasPrefix("@") {
            fields = [first]
        } else {
            fields = [first]
            for _ in 0..<4 {
                guard let next = word() else {
                    result.errors.append(
                        Diagnostic(file: file, line: number, message: "expected 5 schedule fields and a command"))
                    return nil
                }
                fields.append(next)
            }
        }
        let schedule = fields.joined(separator: " ")
        do {
            _ = try ScheduleExpression(parsing: schedule)
        } catch {
            result.errors.append(
                Diagnostic(file: file, line: number, message: "schedule '\(schedule)': \(error.description)"))
            return nil
        }
        var user: String?
        if system {
            guard let name = word() else {
                result.errors.append(
                    Diagnostic(file: file, line: number, message: "expected a user and a command after the schedule"))
                return nil
            }
            user = name
            if !userExists(name) {
                result.warnings.append(
                    Diagnostic(file: file, line: number, message: "user '\(name)' does not exist on this machine"))
            }
        }
        let commandText = rest.drop(while: { $0 == " " || $0 == "\t" })
        guard !commandText.isEmpty else {
            result.errors.append(
                Diagnostic(file: file, line: number, message: "the line has a schedule but no command"))
            return nil
        }
        let (command, stdin, sawPercent) = splitPercent(String(commandText))
        if sawPercent {
            result.warnings.append(
                Diagnostic(
                    file: file, line: number,
                    message:
                        "an unescaped % ends the command; the text after it is fed to stdin (write \\% if a literal % was meant, as in date +\\%F)"
                ))
        }
        warnAboutSchedule(fields, file: file, number: number, result: &result)
        return ImportedJob(
            id: "", schedule: schedule, command: command, user: user, shell: nil, environment: [], mailTo: nil,
            timezone: nil, jitterMinutes: nil, stdin: stdin, file: file, line: number, originalLine: line)
    }

    /// Cron's `%` rule: `\%` is a literal `%`; the first unescaped `%` ends the command; in the rest, each
    /// unescaped `%` is a newline, and a final newline is added (as cron writes the job's stdin).
    static func splitPercent(_ text: String) -> (command: String, stdin: String?, sawPercent: Bool) {
        var command = ""
        var input: String?
        var iterator = Array(text).makeIterator()
        while let c = iterator.next() {
            if c == "\\" {
                guard let next = iterator.next() else {
                    if input != nil { input!.append(c) } else { command.append(c) }
                    break
                }
                if next == "%" {
                    if input != nil { input!.append("%") } else { command.append("%") }
                } else {
                    if input != nil {
                        input!.append(c); input!.append(next)
                    } else {
                        command.append(c); command.append(next)
                    }
                }
            } else if c == "%" {
                if input == nil { input = "" } else { input!.append("\n") }
            } else if input != nil {
                input!.append(c)
            } else {
                command.append(c)
            }
        }
        if var text = input {
            if !text.hasSuffix("\n") { text.append("\n") }
            return (command.trimmingCharacters(in: .whitespaces), text, true)
        }
        return (command, nil, false)
    }

    private static func warnAboutSchedule(_ fields: [String], file: String, number: Int, result: inout Result) {
        if fields.count == 1 {
            if fields[0].lowercased() == "@reboot" {
                result.warnings.append(
                    Diagnostic(
                        file: file, line: number,
                        message: "@reboot runs when tock serve starts (and restarts), not only when the machine boots"))
            }
            return
        }
        let dom = fields[2]
        let dow = fields[4]
        let domStar = dom.hasPrefix("*") || dom.hasPrefix("?")
        let dowStar = dow.hasPrefix("*") || dow.hasPrefix("?")
        if !domStar && !dowStar {
            result.warnings.append(
                Diagnostic(
                    file: file, line: number,
                    message:
                        "day-of-month '\(dom)' and day-of-week '\(dow)' are both set: cron runs on days matching EITHER (Tock does the same)"
                ))
        }
        let days = dom.split(separator: ",").compactMap { Int($0.split(separator: "-").last ?? "") }
        if let late = days.first(where: { $0 >= 29 }) {
            result.warnings.append(
                Diagnostic(
                    file: file, line: number,
                    message: "day \(late) does not exist in every month: those months are skipped"))
        }
    }

    // MARK: - Ids

    static func idFromCommand(_ command: String) -> String {
        let words = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var parts: [String] = []
        for word in words {
            if word.contains("=") && parts.isEmpty { continue }  // VAR=value prefixes
            let name = (word as NSString).lastPathComponent
            if ["sudo", "nice", "ionice", "env", "cd", "&&", ";", "|", "-n", "timeout"].contains(name) { continue }
            if word.hasPrefix("-") || word.hasPrefix(">") || word.hasPrefix("2>") { continue }
            let base = (word as NSString).lastPathComponent
            let cleaned = slugText(base)
            if !cleaned.isEmpty { parts.append(cleaned) }
            if parts.count == 2 { break }
        }
        return parts.isEmpty ? "job" : parts.joined(separator: "-")
    }

    static func slug(_ text: String) -> String {
        let out = slugText(text)
        return out.isEmpty ? "job" : out
    }

    /// Lower-case letters and digits joined by single dashes, at most 40 characters; possibly empty.
    static func slugText(_ text: String) -> String {
        var out = ""
        var lastDash = false
        for c in text.lowercased() {
            if (c.isLetter || c.isNumber) && c.isASCII {
                out.append(c)
                lastDash = false
            } else if !lastDash && !out.isEmpty {
                out.append("-")
                lastDash = true
            }
            if out.count >= 40 { break }
        }
        while out.hasSuffix("-") { out.removeLast() }
        return out
    }

    static func uniqueID(base: String, used: inout Set<String>) -> String {
        var id = base
        var n = 2
        while used.contains(id) {
            id = "\(base)-\(n)"
            n += 1
        }
        used.insert(id)
        return id
    }

    static func detectSystemFormat(_ lines: [String], file: String, userExists: (String) -> Bool) -> Bool {
        if file == "/etc/crontab" || file.hasPrefix("/etc/cron.d/") { return true }
        var votes = 0
        var total = 0
        for raw in lines {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#"), environmentAssignment(line) == nil else { continue }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            let userIndex = line.hasPrefix("@") ? 1 : 5
            guard words.count > userIndex + 1 else { continue }
            total += 1
            if userExists(String(words[userIndex])) { votes += 1 }
        }
        // Most job lines have an existing user where a user crontab has the command's first word.
        return total > 0 && votes * 2 > total
    }
}

/// Whether a user exists in the system's user database.
public enum UserLookup {
    public static func exists(_ name: String) -> Bool { UserAccount.lookup(name) != nil }
}
