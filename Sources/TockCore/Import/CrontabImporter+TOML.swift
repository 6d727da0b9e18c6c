import Foundation

extension CrontabImporter {
    /// The jobs.d TOML file for an import: one `[job.ID]` table per job, each with the line it came from.
    public static func toml(_ result: Result, source: String) -> String {
        var out = "# Imported by `tock import crontab` from \(comment(source)).\n"
        out += "# Each job keeps cron's meaning: cron's minimal environment (inherit_env = false) plus the crontab's\n"
        out += "# variables, its SHELL, MAILTO and CRON_TZ. Check the warnings printed by the import.\n"
        for job in result.jobs {
            out += "\n[job.\(job.id)]\n"
            out += "# \(comment("\(job.file):\(job.line): \(job.originalLine)"))\n"
            out += "\(JobKey.schedule.rawValue) = \(quote(job.schedule))\n"
            out += "\(JobKey.command.rawValue) = \(quote(job.command))\n"
            if let shell = job.shell, shell != "/bin/sh" { out += "\(JobKey.shell.rawValue) = \(quote(shell))\n" }
            if let user = job.user { out += "\(JobKey.user.rawValue) = \(quote(user))\n" }
            if let timezone = job.timezone { out += "\(JobKey.timezone.rawValue) = \(quote(timezone))\n" }
            out += "\(JobKey.inheritEnv.rawValue) = false\n"
            if !job.environment.isEmpty {
                let pairs = job.environment.map { "\(key($0.name)) = \(quote($0.value))" }.joined(separator: ", ")
                out += "\(JobKey.env.rawValue) = { \(pairs) }\n"
            }
            if let mailTo = job.mailTo { out += "\(JobKey.mailTo.rawValue) = \(quote(mailTo))\n" }
            if let stdin = job.stdin { out += "\(JobKey.stdin.rawValue) = \(quote(stdin))\n" }
            if let minutes = job.jitterMinutes, minutes > 0 { out += "\(JobKey.jitter.rawValue) = \"\(minutes)m\"\n" }
            if !job.enabled { out += "\(JobKey.enabled.rawValue) = false\n" }
            out += "\(JobKey.description.rawValue) = \(quote("imported from \(job.file):\(job.line)"))\n"
        }
        return out
    }

    /// The jobs.d file for an import, read back by Tock's own reader first. A job the reader refuses (the
    /// importer should write none) is left out and reported at its line as an error, so one odd line never
    /// costs the other jobs of the file.
    public static func checkedTOML(_ result: inout Result, source: String) -> String {
        let text = toml(result, source: source)
        if JobDefinitionReader.parse(text, file: source).errors.isEmpty { return text }
        var kept: [ImportedJob] = []
        for job in result.jobs {
            var single = result
            single.jobs = [job]
            if let error = JobDefinitionReader.parse(toml(single, source: source), file: source).errors.first {
                result.errors.append(
                    Diagnostic(
                        file: job.file, line: job.line,
                        message: "not imported: Tock's reader refuses the job written for this line (\(error.message))")
                )
            } else {
                kept.append(job)
            }
        }
        result.jobs = kept
        result.errors.sort { $0.line < $1.line }
        return toml(result, source: source)
    }

    /// Text for a TOML comment: as it is when it can be, else as a TOML string (control bytes escaped). A
    /// comment may hold no control byte but tab, and Tock's reader takes `\u0000` after an odd number of
    /// backslashes for a NUL even there; the quoted form doubles every backslash.
    static func comment(_ text: String) -> String {
        let plain = text.unicodeScalars.allSatisfy { $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F) }
        return plain && DefinitionValue.firstNUL(in: text) == nil ? text : "(escaped) " + quote(text)
    }

    /// A TOML basic string.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\u%04X", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// A TOML key: bare when it can be, quoted otherwise.
    static func key(_ name: String) -> String {
        name.allSatisfy { ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") && $0.isASCII } ? name : quote(name)
    }
}
