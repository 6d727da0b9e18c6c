import Foundation
import Logging
import Synchronization

/// How `tock serve` writes its log to stderr: one event per line, in each format with the same keys.
///
/// - `text`, for people: `2026-03-08T10:00:00.123Z info run finished job=backup execution=… state=succeeded …`
/// - `logfmt`: `time=… level=info msg="run finished" job=backup execution=… state=succeeded duration=0.52 exit_status=0`
/// - `json`: `{"time":"…","level":"info","msg":"run finished","job":"backup",…}`
///
/// The keys of runs are stable: `job`, `execution`, `state`, `duration` (seconds), `exit_status`, `trigger`,
/// `attempts`; other metadata keys are written with `_` for `.` (`not.recorded` → `not_recorded`). Under journald
/// (`JOURNAL_STREAM` names stderr) there is no timestamp — the journal has its own — and each line starts with
/// its syslog priority (`<6>`), which journald turns into the entry's priority (`journalctl -p warning`).
public enum LogFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    case text, json, logfmt

    public var description: String { rawValue }

    /// Parses a format name, with a message naming the choices.
    public init(parsing name: String) throws(TockConfiguration.Problem) {
        guard let format = LogFormat(rawValue: name) else {
            throw TockConfiguration.Problem(
                "log_format: '\(name)' is not one of \(Self.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = format
    }

    /// Installs ``TockLogHandler`` (writing to stderr) as the process's log handler; returns the control of its level.
    /// Call once, before the first logger is made.
    public static func bootstrap(_ format: LogFormat, level: Logger.Level) -> LogLevelControl {
        let control = LogLevelControl(level)
        let underJournal = isStandardErrorJournal(environment: ProcessInfo.processInfo.environment)
        LoggingSystem.bootstrap { label in
            TockLogHandler(
                label: label, format: format, control: control, journal: underJournal,
                write: { line in writeToStandardError(line) })
        }
        return control
    }

    /// Whether stderr is connected to journald: systemd sets `JOURNAL_STREAM` to `DEVICE:INODE` of that stream
    /// (a child that redirected its stderr keeps the variable, hence the check of the descriptor itself).
    static func isStandardErrorJournal(environment: [String: String]) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(STDERR_FILENO, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    static func writeToStandardError(_ line: String) {
        var line = line
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}

/// The log level of every ``TockLogHandler`` of the process, changeable while it runs (SIGUSR1, SIGUSR2, the
/// config file's `log_level` on SIGHUP).
public final class LogLevelControl: Sendable {
    private let raw: Atomic<Int>
    private static let levels = Logger.Level.allCases

    public init(_ level: Logger.Level) {
        raw = Atomic(Self.levels.firstIndex(of: level) ?? 2)
    }

    public var level: Logger.Level { Self.levels[raw.load(ordering: .relaxed)] }

    public func set(_ level: Logger.Level) {
        raw.store(Self.levels.firstIndex(of: level) ?? 2, ordering: .relaxed)
    }

    /// One step more verbose (`info` → `debug` → `trace`); returns the new level.
    @discardableResult
    public func moreVerbose() -> Logger.Level { step(by: -1) }

    /// One step less verbose (`info` → `notice` → `warning` … `critical`); returns the new level.
    @discardableResult
    public func lessVerbose() -> Logger.Level { step(by: 1) }

    private func step(by delta: Int) -> Logger.Level {
        let count = Self.levels.count
        var current = raw.load(ordering: .relaxed)
        while true {
            let next = min(max(current + delta, 0), count - 1)
            let (exchanged, original) = raw.compareExchange(
                expected: current, desired: next, ordering: .relaxed)
            if exchanged { return Self.levels[next] }
            current = original
        }
    }
}

/// Writes log events as lines of ``LogFormat``; its level is the shared ``LogLevelControl``'s.
public struct TockLogHandler: LogHandler {
    public let label: String
    public let format: LogFormat
    public let control: LogLevelControl
    /// Under journald: no timestamp, a syslog priority prefix.
    public let journal: Bool
    let write: @Sendable (String) -> Void
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public init(
        label: String, format: LogFormat, control: LogLevelControl, journal: Bool = false,
        write: @escaping @Sendable (String) -> Void
    ) {
        self.label = label
        self.format = format
        self.control = control
        self.journal = journal
        self.write = write
    }

    /// The process-wide level: setting it on one logger sets it for all (it is the daemon's one log).
    public var logLevel: Logger.Level {
        get { control.level }
        set { control.set(newValue) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error { merged["error"] = "\(error)" }
        write(
            Self.line(
                format: format, level: event.level, message: event.message.description, metadata: merged,
                time: journal ? nil : Date(), priorityPrefix: journal))
    }

    /// Keys renamed so that runs carry the same keys in every format and version.
    static let stableKeys: [String: String] = [
        "job.id": "job", "execution.id": "execution", "exit.status": "exit_status",
    ]
    /// Keys written first, in this order; the rest follow sorted.
    static let leadingKeys = ["job", "execution", "state", "trigger", "duration", "exit_status", "attempts"]

    /// One event as a line (with its newline); `time` `nil`: no timestamp (under journald).
    public static func line(
        format: LogFormat, level: Logger.Level, message: String, metadata: Logger.Metadata, time: Date?,
        priorityPrefix: Bool = false
    ) -> String {
        var fields: [(String, String)] = []
        for (key, value) in metadata {
            let name = stableKeys[key] ?? key.replacingOccurrences(of: ".", with: "_")
            var text = Self.text(of: value)
            // A Duration's description ("0.52 seconds"): the number of seconds.
            if name == "duration", text.hasSuffix(" seconds") { text = String(text.dropLast(" seconds".count)) }
            fields.append((name, text))
        }
        fields.sort { a, b in
            let ia = leadingKeys.firstIndex(of: a.0) ?? leadingKeys.count
            let ib = leadingKeys.firstIndex(of: b.0) ?? leadingKeys.count
            return ia != ib ? ia < ib : a.0 < b.0
        }
        var out = priorityPrefix ? "<\(syslogPriority(level))>" : ""
        let timestamp = time.map(Self.timestamp)
        switch format {
        case .text:
            if let timestamp { out += timestamp + " " }
            out += level.rawValue + " " + escapedLine(message)
            for (key, value) in fields { out += " " + key + "=" + logfmtValue(value) }
        case .logfmt:
            var pairs: [String] = []
            if let timestamp { pairs.append("time=" + timestamp) }
            pairs.append("level=" + level.rawValue)
            pairs.append("msg=" + logfmtValue(message))
            for (key, value) in fields { pairs.append(key + "=" + logfmtValue(value)) }
            out += pairs.joined(separator: " ")
        case .json:
            var pairs: [String] = []
            if let timestamp { pairs.append("\"time\":" + jsonString(timestamp)) }
            pairs.append("\"level\":" + jsonString(level.rawValue))
            pairs.append("\"msg\":" + jsonString(message))
            for (key, value) in fields { pairs.append(jsonString(key) + ":" + jsonString(value)) }
            out += "{" + pairs.joined(separator: ",") + "}"
        }
        return out + "\n"
    }

    static func text(of value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): text
        case .stringConvertible(let item): item.description
        default: value.description
        }
    }

    /// syslog(3) priorities, as journald reads them from a line's `<N>` prefix.
    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// UTC, milliseconds: `2026-03-08T10:00:00.123Z`.
    static func timestamp(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970
        var whole = time_t(seconds.rounded(.down))
        let millis = min(Int((seconds - Double(whole)) * 1000), 999)
        var parts = tm()
        gmtime_r(&whole, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }

    /// A message on one line: line breaks written as `\n`.
    static func escapedLine(_ text: String) -> String {
        guard text.contains(where: { $0.isNewline }) else { return text }
        return text.replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// A logfmt value: bare when it can be, else quoted with `"` and `\` escaped and line breaks as `\n`.
    static func logfmtValue(_ text: String) -> String {
        let bare = !text.isEmpty && !text.unicodeScalars.contains { $0.value <= 0x20 || $0 == "=" || $0 == "\"" }
        if bare { return text }
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
