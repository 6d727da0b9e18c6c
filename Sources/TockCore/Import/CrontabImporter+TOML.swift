import Foundation

extension CrontabImporter {
    /// The jobs.d TOML file for an import: one `[job.ID]` table per job, each with the line it came from.
    public static func toml(_ result: Result, source: String) -> String {
        var out = "# Imported by `tock import crontab` from \(source).\n"
        out += "# Each job keeps cron's meaning: cron's minimal environment (inherit_env = false) plus the crontab's\n"
        out += "# variables, its SHELL, MAILTO and CRON_TZ. Check the warnings printed by the import.\n"
        for job in result.jobs {
            out += "\n[job.\(job.id)]\n"
            out += "# \(job.file):\(job.line): \(job.originalLine.replacingOccurrences(of: "\n", with: " "))\n"
            out += "schedule = \(quote(job.schedule))\n"
            out += "command = \(quote(job.command))\n"
            if let shell = job.shell, shell != "/bin/sh" { out += "shell = \(quote(shell))\n" }
            if let user = job.user { out += "user = \(quote(user))\n" }
            if let timezone = job.timezone { out += "timezone = \(quote(timezone))\n" }
            out += "inherit_env = false\n"
            if !job.environment.isEmpty {
                let pairs = job.environment.map { "\(key($0.0)) = \(quote($0.1))" }.joined(separator: ", ")
                out += "env = { \(pairs) }\n"
            }
            if let mailTo = job.mailTo { out += "mail_to = \(quote(mailTo))\n" }
            if let stdin = job.stdin { out += "stdin = \(quote(stdin))\n" }
            if let minutes = job.jitterMinutes, minutes > 0 { out += "jitter = \"\(minutes)m\"\n" }
            out += "description = \(quote("imported from \(job.file):\(job.line)"))\n"
        }
        return out
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
