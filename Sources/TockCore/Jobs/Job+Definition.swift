import CronKit
import TockJSON

extension Job {
    /// The job's definition as Tock's keys, every default written out, in ``JobKey`` order: the canonical form
    /// of a job. The API shows it (inside a Job object), the audit log compares two of them for a modification
    /// and keeps one for a deletion, and reading it back gives the same job
    /// (`JobDefinitionReader.job(id:table:)` over ``DefinitionValue/init(_:)-JSON``).
    ///
    /// - Parameter defaultTimeZone: the server's zone, written for a job that names none.
    public func definition(defaultTimeZone: String) -> [(String, JSONValue)] {
        var pairs: [(JobKey, JSONValue)] = [
            (.name, .string(name)),
            (.schedule, .string(schedule)),
            (.timezone, .string(timezone ?? defaultTimeZone)),
        ]
        if case .cron(let expression) = parsedSchedule, expression.daysMatchBoth {
            pairs.append((.cronDays, "both"))
        }
        switch action {
        case .command(let command, let shell):
            pairs.append((.command, .string(command)))
            pairs.append((.shell, .string(shell)))
        case .exec(let argv):
            pairs.append((.exec, Self.strings(argv)))
        case .custom(let kind, let arguments):
            pairs.append((.kind, .string(kind)))
            pairs.append((.args, Self.table(arguments)))
        }
        pairs += [
            (.description, .string(description)),
            (.workingDir, workingDirectory.map { .string($0) } ?? .null),
            (.env, Self.table(environment)),
            (.inheritEnv, .bool(inheritEnvironment)),
            (.user, user.map { .string($0) } ?? .null),
            (.stdin, stdin.map { .string($0) } ?? .null),
            (.timeout, Self.duration(timeout)),
            (.killGrace, Self.duration(killGrace)),
            (.retries, .int(retry.retries)),
            (.retryDelay, Self.duration(retry.delay)),
            (.retryMaxDelay, Self.duration(retry.maxDelay)),
            (.overlap, .string(overlap.rawValue)),
            (.catchup, .string(catchup.rawValue)),
            (.catchupWindow, Self.duration(catchupWindow)),
            (.jitter, Self.duration(jitter)),
            (.maxOutput, .int(maxOutput)),
            (.enabled, .bool(enabled)),
            (.tags, Self.strings(tags)),
            (.mailTo, mailTo.map { .string($0) } ?? .null),
            (.onFailure, Self.notification(onFailure)),
            (.onSuccess, Self.notification(onSuccess)),
            (.onRecovery, Self.notification(onRecovery)),
            (.onAlert, Self.notification(onAlert)),
            (.alertAfterFailures, alertAfterFailures.map { .int($0) } ?? .null),
            (.warnAfter, Self.duration(warnAfter)),
        ]
        return pairs.map { ($0.0.rawValue, $0.1) }
    }

    static func duration(_ value: Duration?) -> JSONValue {
        value.map { .string(DurationFormatter.string($0)) } ?? .null
    }

    static func strings(_ values: [String]) -> JSONValue { .array(values.map { .string($0) }) }

    static func table(_ values: [String: String]) -> JSONValue {
        .object(values.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
    }

    static func notification(_ value: Notification?) -> JSONValue {
        guard let value else { return .null }
        var pairs: [(String, JSONValue)] = []
        if !value.notify.isEmpty { pairs.append((JobKey.NotificationKey.notify.rawValue, strings(value.notify))) }
        if let webhook = value.webhook { pairs.append((JobKey.NotificationKey.webhook.rawValue, .string(webhook))) }
        if let command = value.command { pairs.append((JobKey.NotificationKey.command.rawValue, .string(command))) }
        if let mail = value.mail { pairs.append((JobKey.NotificationKey.mail.rawValue, .string(mail))) }
        return .object(pairs)
    }

    /// What changed between two definitions: keys whose values differ, in the new one's order, then removed keys.
    public static func changes(from old: [(String, JSONValue)], to new: [(String, JSONValue)]) -> [DefinitionChange] {
        let oldValues = Dictionary(old, uniquingKeysWith: { $1 })
        let newValues = Dictionary(new, uniquingKeysWith: { $1 })
        var changes: [DefinitionChange] = []
        for (key, value) in new where oldValues[key] != value {
            changes.append(DefinitionChange(key: key, old: oldValues[key], new: value))
        }
        for (key, value) in old where newValues[key] == nil {
            changes.append(DefinitionChange(key: key, old: value, new: nil))
        }
        return changes
    }
}

/// One key of a job definition that a modification changed.
public struct DefinitionChange: Sendable, Hashable {
    public var key: String
    public var old: JSONValue?
    public var new: JSONValue?

    /// `timeout: "1h" → "2h"`, as the audit log writes it.
    public var auditLine: String {
        "\(key): \(old?.jsonString ?? "(none)") → \(new?.jsonString ?? "(none)")"
    }
}
