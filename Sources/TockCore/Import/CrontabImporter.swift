import CronKit
import Foundation

/// Reads crontabs as cronie and Debian cron read them (crontab(5)) and turns each job line into a Tock job that
/// does what cron would have done, with a warning for every line whose meaning could surprise.
///
/// Kept: schedules (every field form and macro), the command with every byte cron passes on (control bytes
/// too), `SHELL` (→ `shell`), other variables, `TZ` among them (→ `env`), cron's minimal environment
/// (→ `inherit_env = false`), `MAILTO` (→ `mail_to`), `CRON_TZ` (→ `timezone`: cron schedules by it alone),
/// cronie's `RANDOM_DELAY` in minutes (→ `jitter`), the user column of system crontabs (→ `user`), and `%`:
/// the first unescaped `%` ends the command and the rest, with further `%` as newlines, becomes `stdin`; `\%` is
/// a literal `%`.
///
/// Lines cron would not run are never imported as running jobs: a line that is neither a variable (cronie's
/// `load_env` grammar) nor a job, a command starting with `*` (cron's "bad command"), a line holding a NUL byte
/// are reported as errors at their FILE:LINE and skipped; a last line without a final newline, which cron never
/// reads, is imported with `enabled = false` and a warning.
public enum CrontabImporter {
    /// One `NAME=value` line of a crontab, in the order the file gives them.
    public struct EnvironmentVariable: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// One imported job.
    public struct ImportedJob: Sendable, Equatable {
        public var id: String
        public var schedule: String
        public var command: String
        public var user: String?
        public var shell: String?
        public var environment: [EnvironmentVariable]
        public var mailTo: String?
        public var timezone: String?
        public var jitterMinutes: Int?
        public var stdin: String?
        public var file: String
        public var line: Int
        public var originalLine: String
        /// `false` for a line cron never runs (the last line of a file without a final newline): imported, with
        /// `enabled = false`, so the migration changes nothing that runs.
        public var enabled = true

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
        let (lines, firstCRLF) = sourceLines(text)
        let systemFormat = system ?? detectSystemFormat(lines.map(\.text), file: file, userExists: userExists)
        result.systemFormat = systemFormat
        if system == nil && systemFormat {
            result.warnings.append(
                Diagnostic(file: file, line: 1, message: "read as a system crontab (a user column after the schedule)"))
        }
        if let firstCRLF {
            result.warnings.append(
                Diagnostic(
                    file: file, line: firstCRLF,
                    message:
                        "CRLF line ends: cron keeps each line's \\r as the last byte of its command, which the shell reads as part of the last word; the import drops it"
                ))
        }
        var environment: [EnvironmentVariable] = []
        var shell: String?
        var mailTo: String?
        var mailToSet = false
        var timezone: String?
        var jitter: Int?
        var lastComment: String?
        var usedIDs: Set<String> = []
        var sawJob = false
        // The first line Debian's cron rejects, for which it ignores the whole file.
        var firstRejected: Int?

        for source in lines {
            let number = source.number
            let raw = source.text
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
            if let column = nulColumn(raw) {
                result.errors.append(
                    Diagnostic(
                        file: file, line: number,
                        message:
                            "a NUL byte at column \(column): cron reads the line only up to it, and a job file cannot hold one; not imported"
                    ))
                lastComment = nil
                continue
            }
            let malformedVariable: String?
            switch variableLine(afterBlanks(raw)) {
            case .variable(let name, let value):
                // cron's load_env stops at the end of the file before reading a line without a newline.
                guard source.terminated else {
                    firstRejected = firstRejected ?? number
                    continue
                }
                if name.isEmpty {
                    result.warnings.append(
                        Diagnostic(
                            file: file, line: number,
                            message:
                                "a variable with an empty name: cron passes '=\(value)' to the jobs, which nothing reads; skipped"
                        ))
                    continue
                }
                switch name {
                case "SHELL": shell = value
                case "MAILTO":
                    mailTo = value
                    mailToSet = true
                case "CRON_TZ":
                    // cron schedules by CRON_TZ alone; an empty one is the daemon's own zone again.
                    if value.isEmpty {
                        timezone = nil
                    } else if ZoneRules.rules(forIdentifier: value) == nil {
                        result.errors.append(
                            Diagnostic(file: file, line: number, message: "CRON_TZ: unknown time zone '\(value)'"))
                    } else {
                        timezone = value
                    }
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
                    // TZ too: cron passes it to the job and never schedules by it.
                    environment.removeAll { $0.name == name }
                    environment.append(EnvironmentVariable(name: name, value: value))
                }
                continue
            case .notVariable: malformedVariable = nil
            case .malformed(let reason): malformedVariable = reason
            }
            let errorCount = result.errors.count
            let warningCount = result.warnings.count
            guard
                var job = jobLine(
                    line, system: systemFormat, file: file, number: number, result: &result, userExists: userExists)
            else {
                if let malformedVariable {
                    // Not a job either (a line of NAME= form never is): say what broke cron's variable grammar.
                    result.errors.removeSubrange(errorCount...)
                    result.warnings.removeSubrange(warningCount...)
                    result.errors.append(
                        Diagnostic(
                            file: file, line: number, message: "neither a variable nor a job: \(malformedVariable)"))
                }
                // A comment just above a skipped line was about that line.
                lastComment = nil
                firstRejected = firstRejected ?? number
                continue
            }
            sawJob = true
            job.shell = shell
            job.environment = environment
            job.mailTo = mailToSet ? mailTo : nil
            job.timezone = timezone
            job.jitterMinutes = jitter
            job.originalLine = raw
            job.id = uniqueID(base: lastComment.map(slug) ?? idFromCommand(job.command), used: &usedIDs)
            lastComment = nil
            if !source.terminated {
                firstRejected = firstRejected ?? number
                job.enabled = false
                result.warnings.append(
                    Diagnostic(
                        file: file, line: number,
                        message:
                            "no newline at the end of the file: cron never runs this last line (cronie drops it, Debian's cron ignores the file, crontab(1) refuses it: \"missing newline before EOF\"); imported with \(JobKey.enabled.rawValue) = false"
                    ))
            }
            result.jobs.append(job)
        }
        if let firstRejected {
            result.warnings.append(
                Diagnostic(
                    file: file, line: firstRejected,
                    message:
                        "Debian's and Ubuntu's cron ignore a whole file that has a line they reject or no final newline (\"this crontab file will be ignored\"); cronie, like this import, skips only the line: if this file ran under Debian's cron, its other jobs may never have run there"
                ))
        }
        if sawJob && !mailToSet {
            result.warnings.append(
                Diagnostic(
                    file: file, line: 1,
                    message:
                        "no MAILTO: cron mails each job's output to the crontab's owner; Tock records the output and mails only jobs with mail_to (add MAILTO=owner@example.com at the top of the crontab, or mail_to to the jobs, to keep those mails: they go through the local sendmail with cron's headers)"
                ))
        }
        return result
    }

    // MARK: - Jobs

    private static func jobLine(
        _ line: String, system: Bool, file: String, number: Int, result: inout Result, userExists: (String) -> Bool
    ) -> ImportedJob? {
        var rest = Substring(line).unicodeScalars
        func isBlank(_ c: Unicode.Scalar) -> Bool { c == " " || c == "\t" }
        func word() -> String? {
            rest = rest.drop(while: isBlank)
            guard !rest.isEmpty else { return nil }
            let token = rest.prefix(while: { !isBlank($0) })
            rest = rest[token.endIndex...]
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
        // cronie's entry.c: "check for premature EOL and catch a common typo" — a '*' right after the schedule
        // (the user's column in the system format) is a "bad command".
        if rest.drop(while: isBlank).first == "*" {
            result.errors.append(
                Diagnostic(
                    file: file, line: number,
                    message: system
                        ? "the user starts with '*': cron rejects the line (\"bad command\"); a schedule of 6 or 7 fields (seconds, years) pasted into a 5-field crontab? Not imported"
                        : "the command starts with '*': cron rejects the line (\"bad command\"); a schedule of 6 or 7 fields (seconds, years) pasted into a 5-field crontab? Not imported"
                ))
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
        let commandText = String(rest.drop(while: isBlank))
        guard !commandText.isEmpty else {
            result.errors.append(
                Diagnostic(file: file, line: number, message: "the line has a schedule but no command"))
            return nil
        }
        let (command, stdin, sawPercent) = splitPercent(commandText)
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
}

/// Whether a user exists in the system's user database.
public enum UserLookup {
    public static func exists(_ name: String) -> Bool { UserAccount.lookup(name) != nil }
}
