import CronKit
import Foundation
import TockCore

extension TockConfiguration {
    static let notificationKeys: Set<String> = [
        "default_on_failure", "mailer", "mail_from", "mail_cron_env", "secret_file", "retry_delays", "webhook_timeout",
        "command_timeout", "max_in_flight", "max_in_flight_per_target", "max_per_hour",
    ]
    static let notifierKeys: Set<String> = [
        "webhook", "command", "mail", "format", "secret", "secret_file", "timeout", "include_output",
        "max_per_hour",
    ]

    /// Reads `[notifications]` and every `[notifier.NAME]` of a config file.
    mutating func applyNotifications(_ table: DefinitionValue, path: String) throws(Problem) {
        if let section = table["notifications"] {
            guard section.table != nil else { throw Problem("\(path): notifications must be a table") }
            try Self.checkKeys(section, Self.notificationKeys, "notifications", path)
            if let names = try Self.strings(section, "default_on_failure", "notifications", path) {
                notifications.defaultOnFailure = names
            }
            if let mailer = try Self.string(section, "mailer", "notifications", path) {
                notifications.mailer = mailer == "off" ? nil : mailer
            }
            if let from = try Self.string(section, "mail_from", "notifications", path) { notifications.mailFrom = from }
            if let value = section["mail_cron_env"] {
                guard let flag = value.bool else {
                    throw Problem("\(path): notifications.mail_cron_env must be true or false")
                }
                notifications.mailCronEnvironment = flag
            }
            if let file = try Self.string(section, "secret_file", "notifications", path) {
                notifications.inlineWebhookSecret = try Self.readSecret(file, "notifications.secret_file")
            }
            if let texts = try Self.strings(section, "retry_delays", "notifications", path) {
                var delays: [Duration] = []
                for text in texts {
                    do { delays.append(try Duration(parsing: text)) } catch {
                        throw Problem("\(path): notifications.retry_delays: \(error)")
                    }
                }
                guard !delays.isEmpty else { throw Problem("\(path): notifications.retry_delays must not be empty") }
                notifications.retryDelays = delays
            }
            if let value = try Self.duration(section, "webhook_timeout", "notifications", path) {
                notifications.webhookTimeout = value
            }
            if let value = try Self.duration(section, "command_timeout", "notifications", path) {
                notifications.commandTimeout = value
            }
            if let number = try Self.count(section, "max_in_flight", "notifications", path, zeroMeansNone: false) {
                notifications.maxInFlight = number
            }
            if let number = try Self.count(
                section, "max_in_flight_per_target", "notifications", path, zeroMeansNone: false)
            {
                notifications.maxInFlightPerTarget = number
            }
            if let number = try Self.count(section, "max_per_hour", "notifications", path, zeroMeansNone: true) {
                notifications.maxPerHour = number
            }
        }
        if let section = table["notifier"] {
            guard section.table != nil else {
                throw Problem("\(path): notifier must hold tables, e.g. [notifier.ops-slack]")
            }
            for name in section.keys.sorted() {
                guard let entry = section[name], entry.table != nil else {
                    throw Problem("\(path): notifier.\(name) must be a table")
                }
                let where_ = "notifier.\(name)"
                try Self.checkKeys(entry, Self.notifierKeys, where_, path)
                var notifier = NotifierConfiguration(
                    name: name, webhook: try Self.string(entry, "webhook", where_, path),
                    command: try Self.string(entry, "command", where_, path),
                    mail: try Self.string(entry, "mail", where_, path))
                if notifier.webhook == nil && notifier.command == nil && notifier.mail == nil {
                    throw Problem("\(path): \(where_) needs a webhook, a command or mail")
                }
                if let webhook = notifier.webhook {
                    guard let url = URL(string: webhook), ["http", "https"].contains(url.scheme ?? ""), url.host != nil
                    else { throw Problem("\(path): \(where_).webhook '\(webhook)' is not an http:// or https:// URL") }
                }
                if let format = try Self.string(entry, "format", where_, path) {
                    guard let value = NotifierConfiguration.Format(rawValue: format) else {
                        throw Problem("\(path): \(where_).format must be json, slack or teams")
                    }
                    notifier.format = value
                }
                if let secret = try Self.string(entry, "secret", where_, path) { notifier.secret = secret }
                if let file = try Self.string(entry, "secret_file", where_, path) {
                    notifier.secret = try Self.readSecret(file, "\(where_).secret_file")
                }
                notifier.timeout = try Self.duration(entry, "timeout", where_, path)
                if let value = entry["include_output"] {
                    guard let flag = value.bool else {
                        throw Problem("\(path): \(where_).include_output must be true or false")
                    }
                    notifier.includeOutput = flag
                }
                if let number = try Self.count(entry, "max_per_hour", where_, path, zeroMeansNone: true) {
                    notifier.maxPerHour = number
                }
                notifications.notifiers[name] = notifier
            }
        }
    }

    private static func checkKeys(_ table: DefinitionValue, _ known: Set<String>, _ section: String, _ path: String)
        throws(Problem)
    {
        for key in table.keys.sorted() where !known.contains(key) {
            throw Problem(
                "\(path): \(section): unknown key '\(key)' (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    private static func string(_ table: DefinitionValue, _ key: String, _ section: String, _ path: String)
        throws(Problem) -> String?
    {
        guard let value = table[key] else { return nil }
        guard let text = value.string else { throw Problem("\(path): \(section).\(key) must be a string") }
        return text
    }

    private static func strings(_ table: DefinitionValue, _ key: String, _ section: String, _ path: String)
        throws(Problem) -> [String]?
    {
        guard let value = table[key] else { return nil }
        guard let items = value.array?.compactMap(\.string), items.count == value.array?.count else {
            throw Problem("\(path): \(section).\(key) must be an array of strings")
        }
        return items
    }

    private static func duration(_ table: DefinitionValue, _ key: String, _ section: String, _ path: String)
        throws(Problem) -> Duration?
    {
        guard let text = try string(table, key, section, path) else { return nil }
        do { return try Duration(parsing: text) } catch { throw Problem("\(path): \(section).\(key): \(error)") }
    }

    /// A count: a positive integer, or also 0 where 0 means "no limit".
    private static func count(
        _ table: DefinitionValue, _ key: String, _ section: String, _ path: String, zeroMeansNone: Bool
    ) throws(Problem) -> Int? {
        guard let value = table[key] else { return nil }
        guard let number = value.int, number > 0 || (zeroMeansNone && number == 0) else {
            let expected = zeroMeansNone ? "0 (no limit) or a positive integer" : "a positive integer"
            throw Problem("\(path): \(section).\(key) must be \(expected)")
        }
        return number
    }

    /// A secret file's first line (a `whsec_…` secret).
    private static func readSecret(_ file: String, _ key: String) throws(Problem) -> String {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw Problem("\(key): cannot read \(file)")
        }
        let secret = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard !secret.isEmpty else { throw Problem("\(key): \(file) is empty") }
        return secret
    }
}
