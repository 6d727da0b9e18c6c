import Foundation

/// A cron expression evaluated in a time zone, with Debian cron's daylight-saving behaviour.
///
/// - Important: Two rules, as Debian cron has them:
///   - A **fixed-time** expression (5 fields whose minute and hour fields both do not start with `*`, e.g.
///     `30 2 * * *`, `@daily`) is read on the wall clock. A local time that falls into a spring-forward gap
///     fires once, at the first instant after the gap (`30 2 * * *` in Los Angeles on 2026-03-08 fires at
///     03:00-07:00); a local time that occurs twice in a fall-back overlap fires once, at its first occurrence.
///   - **Every other** expression (minute or hour starting with `*`, `@hourly`, any 6-field expression) runs on
///     real time: an instant fires when its local reading matches, so a local time that does not exist never
///     fires and a repeated one fires twice (`0 * * * *` fires at 01:00-04:00 and 01:00-05:00 on New York's
///     fall-back day).
///
/// The search looks at most 400 years ahead (a full Gregorian cycle); expressions that can never fire are
/// rejected when parsed.
public struct CronSchedule: Schedule, Hashable {
    public let expression: CronExpression
    public let rules: ZoneRules

    static let searchLimit: Int64 = 400 * 366 * CivilTime.secondsPerDay

    public init(_ expression: CronExpression, timeZone: TimeZone) {
        self.expression = expression
        self.rules = ZoneRules.rules(for: timeZone)
    }

    public var timeZone: TimeZone { rules.timeZone }

    public func nextFireDate(after date: Date) -> Date? {
        let after = Int64(date.timeIntervalSince1970.rounded(.down))
        let next = expression.isFixedTime ? nextWallClockFire(after: after) : nextRealTimeFire(after: after)
        return next.map { Date(timeIntervalSince1970: Double($0)) }
    }

    /// Walks segments of constant UTC offset: within one, local time and real time move together.
    func nextRealTimeFire(after: Int64) -> Int64? {
        var start = after + 1
        let limit = after + Self.searchLimit
        while start <= limit {
            let segment = rules.segment(containing: start)
            guard
                let local = expression.nextLocalMatch(atOrAfter: start + segment.offset, limit: limit + segment.offset)
            else { return nil }
            let instant = local - segment.offset
            if instant < segment.end { return instant }
            start = segment.end
        }
        return nil
    }

    /// Walks matching wall-clock readings and maps each to its instant (first occurrence; after a gap).
    func nextWallClockFire(after: Int64) -> Int64? {
        var local = after + Int64(rules.offset(at: after))
        let limit = local + Self.searchLimit
        while let match = expression.nextLocalMatch(atOrAfter: local, limit: limit) {
            let instant = rules.instant(forLocal: match)
            if instant > after { return instant }
            local = match + 1
        }
        return nil
    }

    public static func == (a: CronSchedule, b: CronSchedule) -> Bool {
        a.expression == b.expression && a.rules.timeZone.identifier == b.rules.timeZone.identifier
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(expression)
        hasher.combine(rules.timeZone.identifier)
    }
}
