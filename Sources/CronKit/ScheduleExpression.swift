import Foundation

/// Anything a job's `schedule` key may hold: a cron expression or macro, `@every DURATION`, or `@reboot`.
///
/// ```swift
/// let expr = try ScheduleExpression(parsing: "@every 1h30m")
/// let schedule = expr.schedule(in: TimeZone(identifier: "Europe/Paris")!)
/// ```
public enum ScheduleExpression: Sendable, Hashable, CustomStringConvertible {
    case cron(CronExpression)
    /// A fixed interval in whole seconds.
    case every(seconds: Int64)
    /// Once, when the daemon starts.
    case reboot
    /// No time of its own: something else starts the job (Tock's `after`, a job run when its dependencies have
    /// succeeded). Never parsed from text; written as an empty string.
    case unscheduled

    public init(parsing text: String) throws(CronParseError) {
        let trimmed = text.trimmingWhitespace()
        let lower = trimmed.lowercased()
        if lower == "@reboot" {
            self = .reboot
        } else if lower.hasPrefix("@every") {
            let rest = trimmed.dropFirst("@every".count)
            guard rest.first?.isWhitespace == true else {
                throw CronParseError(.badDuration, token: trimmed, "'@every' needs a duration, e.g. '@every 90s'")
            }
            let duration: Duration
            do { duration = try Duration(parsing: String(rest)) } catch {
                throw CronParseError(.badDuration, token: error.token, error.message)
            }
            let seconds = duration.components.seconds
            guard seconds >= 1 else {
                throw CronParseError(.badDuration, token: trimmed, "'@every' needs an interval of at least 1s")
            }
            self = .every(seconds: seconds)
        } else {
            self = .cron(try CronExpression(parsing: trimmed))
        }
    }

    /// The schedule in a zone, or `nil` for `@reboot`, which has no fire times of its own.
    public func schedule(in timeZone: TimeZone) -> (any Schedule)? {
        switch self {
        case .cron(let expression): CronSchedule(expression, timeZone: timeZone)
        case .every(let seconds): IntervalSchedule(seconds: seconds)
        case .reboot, .unscheduled: nil
        }
    }

    public var description: String {
        switch self {
        case .cron(let expression): expression.source
        case .every(let seconds): "@every \(DurationFormatter.string(seconds: seconds))"
        case .reboot: "@reboot"
        case .unscheduled: ""
        }
    }
}
