import Foundation

/// cron's output mail, as cronie writes it (`src/do_command.c`): the same command line and headers, so that mail
/// filters keyed on `Subject: Cron <` and `(Cron Daemon)` keep working for imported crontabs.
public enum CronMail {
    /// cronie's mailer command line: `sendmail -FCronDaemon -i -odi -oem -oi -t -f FROM` (recipients from `To:`).
    public static func arguments(mailer: String, from: String) -> [String] {
        [mailer, "-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", from]
    }

    /// The sender: the job env's `MAILFROM` when set and safe, else the configured default (cronie: `root`).
    public static func sender(environment: [String: String], default fallback: String) -> String {
        if let from = environment["MAILFROM"], !from.isEmpty, isSafe(from) { return from }
        return fallback
    }

    /// cronie's `safe_p`: printable ASCII letters and digits, and after the first character `@!:%-.,_+`. An
    /// address that is not safe is never handed to the mailer.
    public static func isSafe(_ text: String) -> Bool {
        guard !text.isEmpty else { return false }
        for (index, byte) in text.utf8.enumerated() {
            let alphanumeric =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            if alphanumeric || (index > 0 && "@!:%-.,_+".utf8.contains(byte)) { continue }
            return false
        }
        return true
    }

    /// The text cron puts after `Cron <user@host>`: the command, or an `exec` argv joined by spaces.
    public static func commandText(_ job: Job) -> String {
        switch job.action {
        case .command(let command, _): command
        case .exec(let argv): argv.joined(separator: " ")
        case .custom(let kind, _): "[\(kind)]"
        }
    }

    /// The whole message handed to the mailer's stdin: cronie's headers, then the output.
    ///
    /// - Parameters:
    ///   - user: the crontab's owner (the job's `user`, else the daemon's).
    ///   - host: this machine's name; cron uses it up to the first dot.
    ///   - environment: the job's own env (`CONTENT_TYPE`, `CONTENT_TRANSFER_ENCODING`; `X-Cron-Env` when
    ///     `cronEnvironment` is set).
    public static func message(
        job: Job, record: ExecutionRecord, to: String, from: String, user: String, host: String,
        environment: [String: String], cronEnvironment: Bool
    ) -> [UInt8] {
        let shortHost =
            host.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
            ?? host
        var headers = [
            "From: \(from) (Cron Daemon)",
            "To: \(to)",
            "Subject: Cron <\(user)@\(shortHost)> \(singleLine(commandText(job)))",
        ]
        if let type = environment["CONTENT_TYPE"] {
            headers.append("Content-Type: \(singleLine(type))")
        } else {
            headers.append("Content-Type: text/plain; charset=UTF-8")
        }
        if let encoding = environment["CONTENT_TRANSFER_ENCODING"] {
            headers.append("Content-Transfer-Encoding: \(singleLine(encoding))")
        }
        headers.append("Auto-Submitted: auto-generated")
        if cronEnvironment {
            for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
                headers.append("X-Cron-Env: <\(singleLine("\(name)=\(value)"))>")
            }
        }
        headers += [
            "X-Tock-Job: \(singleLine(job.id))", "X-Tock-Execution: \(record.id)",
            "X-Tock-State: \(record.state.rawValue)",
        ]
        var bytes = Array((headers.joined(separator: "\n") + "\n\n").utf8)
        bytes += record.stdout
        if !record.stdout.isEmpty && !record.stderr.isEmpty {
            if record.stdout.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
            bytes += Array("\n[stderr]\n".utf8)
        }
        bytes += record.stderr
        return bytes
    }

    /// A summary mail of an event (`mail = "…"` in `on_failure`), not cron's output mail.
    public static func summary(
        eventText: String, eventJSON: [UInt8], to: String, from: String, host: String
    ) -> [UInt8] {
        let headers = [
            "From: \(from) (Tock)", "To: \(to)", "Subject: \(singleLine(eventText))",
            "Content-Type: text/plain; charset=UTF-8", "Auto-Submitted: auto-generated",
        ]
        return Array((headers.joined(separator: "\n") + "\n\n\(eventText)\n\n").utf8) + eventJSON + [0x0A]
    }

    /// Newlines blanked (cronie does this for `CONTENT_TYPE`: a header value must not start another header).
    static func singleLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r" || $0 == "\r\n" ? " " : $0 })
    }
}
