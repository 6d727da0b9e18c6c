import Foundation
import Testing

@testable import CronKit

/// Compares the fast engine with a slow, obviously-correct reference written straight from the documented
/// semantics: it walks time minute by minute (second by second for 6 fields), reads local time through
/// Foundation's `Calendar` (not through the engine's zone tables or civil arithmetic), matches each field item
/// literally, and applies Debian cron's DST rules the way cron itself does — by tracking the wall clock.
struct ReferenceOracleTests {
    static let zones = [
        "America/New_York", "Europe/London", "Australia/Lord_Howe", "Australia/Sydney", "America/Santiago",
        "Pacific/Chatham", "Asia/Kolkata", "Europe/Berlin", "America/Sao_Paulo", "UTC",
    ]

    /// Generated expressions that fire often enough for a two-day window.
    static func randomExpression(_ rng: inout SeededGenerator, seconds: Bool) -> String {
        func pick(_ options: [String]) -> String { options[Int(rng.next() % UInt64(options.count))] }
        func n(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(rng.next() % UInt64(range.count)) }
        let minute = pick([
            "*", "*/\(n(2...30))", "\(n(0...59))", "\(n(0...29)),\(n(30...59))", "\(n(0...20))-\(n(21...59))",
            "\(n(0...20))-\(n(30...59))/\(n(2...9))", "\(n(0...30))/\(n(5...20))", "0", "30",
        ])
        let hour = pick([
            "*", "*", "*/\(n(2...6))", "\(n(0...23))", "1", "2", "0,\(n(1...23))", "\(n(0...3))-\(n(1...5))", "23",
            "\(n(0...12))/\(n(2...5))",
        ])
        let day = pick(["*", "*", "*", "*", "L", "*/2", "1-15", "\(n(1...28))W", "LW", "?"])
        let month = pick(["*", "*", "*", "*", "1-6", "*/2"])
        let weekday = pick([
            "*", "*", "*", "1-5", "0,6", "SAT", "\(n(0...6))L", "\(n(0...6))#\(n(1...3))", "?", "MON-FRI",
        ])
        let second = pick(["*/15", "0", "30", "\(n(0...59))", "*/20"])
        let base = "\(minute) \(hour) \(day) \(month) \(weekday)"
        return seconds ? "\(second) \(base)" : base
    }

    @Test(arguments: zones)
    func nextFire_agreesWithMinuteByMinuteReference(_ zone: String) throws {
        var rng = SeededGenerator(seed: zone.utf8.reduce(7) { $0 &* 31 &+ UInt64($1) })
        let tz = try #require(TimeZone(identifier: zone))
        let starts = Self.interestingStarts(in: tz)
        var compared = 0
        for caseIndex in 0..<40 {
            let text = Self.randomExpression(&rng, seconds: caseIndex % 8 == 7)
            guard let expression = try? CronExpression(parsing: text) else { continue }  // a never-firing draw
            let schedule = CronSchedule(expression, timeZone: tz)
            let reference = Reference(expression: expression, timeZone: tz)
            let start = starts[caseIndex % starts.count] + Double(rng.next() % 7200) - 3600
            let window: TimeInterval = expression.hasSeconds ? 3 * 3600 : 2 * 86_400
            var cursor = start
            for _ in 0..<4 {
                let expected = reference.nextFire(after: cursor, within: window)
                let actual = schedule.nextFireDate(after: cursor)
                if let expected {
                    #expect(actual == expected, "'\(text)' in \(zone) after \(cursor)")
                    cursor = expected
                    compared += 1
                } else {
                    // None within the window: the engine's answer must lie beyond it.
                    #expect(actual.map { $0 > cursor + window } ?? true, "'\(text)' in \(zone) after \(cursor)")
                    break
                }
            }
        }
        #expect(compared > 40)
    }

    /// Days with rare rules (`L`, `W`, `#`, leap days) checked day by day over decades in UTC.
    @Test(arguments: [
        "0 0 L * *", "0 0 LW * *", "0 0 1W * *", "0 0 15W * *", "0 0 31W * *", "0 0 * * 5L", "0 0 * * 0#5",
        "0 0 * 2 1#5", "0 0 29 2 *", "0 0 13 * 5", "0 0 */10 * 1-5", "0 0 L 2 *", "0 0 31 * *", "0 0 ? 2 2L",
        "0 0 1,L * 3#3", "0 0 30 1-3 *", "0 0 * * 6#4", "0 0 15 * 0,6", "0 0 28-31 2 *", "0 0 LW 2 MON",
    ])
    func nextFire_rareDayRulesAgreeWithDayByDayReference(_ text: String) throws {
        let expression = try CronExpression(parsing: text)
        let utc = try #require(TimeZone(identifier: "UTC"))
        let schedule = CronSchedule(expression, timeZone: utc)
        let reference = Reference(expression: expression, timeZone: utc)
        var cursor = Date(timeIntervalSince1970: 946_684_800)  // 2000-01-01
        let end = Date(timeIntervalSince1970: 4_133_980_800)  // 2101-01-01
        var day = cursor
        var fired = 0
        while day < end {
            day += 86_400
            guard reference.dateMatches(reference.components(of: day)) else { continue }
            #expect(schedule.nextFireDate(after: cursor) == day, "'\(text)' after \(cursor)")
            cursor = day
            fired += 1
            if fired >= 60 { break }
        }
        #expect(fired > 0)
    }

    /// Instants around each offset change of 2026 (and a plain day).
    static func interestingStarts(in tz: TimeZone) -> [Date] {
        var starts = [Date(timeIntervalSince1970: 1_767_225_600 + 86_400 * 100)]
        var cursor = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01
        while let next = tz.nextDaylightSavingTimeTransition(after: cursor), next.timeIntervalSince1970 < 1_798_761_600
        {
            starts.append(next - 86_400 / 2)
            starts.append(next - 3 * 3600)
            cursor = next
        }
        return starts
    }
}

/// The slow reference engine.
struct Reference {
    let expression: CronExpression
    /// The parsed items and star flags, read once (the expression re-parses them on each access).
    let items: [[CronFieldItem]]
    let starred: [Bool]
    let timeZone: TimeZone
    let local: Calendar
    let utc: Calendar

    init(expression: CronExpression, timeZone: TimeZone) {
        self.expression = expression
        self.items = expression.items
        self.starred = expression.starred
        self.timeZone = timeZone
        var local = Calendar(identifier: .gregorian)
        local.timeZone = timeZone
        self.local = local
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        self.utc = utc
    }

    func components(of date: Date) -> DateComponents {
        local.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
    }

    /// The wall-clock reading as seconds, for comparing readings (not an instant).
    func wallClock(_ c: DateComponents) -> Int {
        let d = utc.date(
            from: DateComponents(
                year: c.year, month: c.month, day: c.day, hour: c.hour, minute: c.minute, second: c.second))!
        return Int(d.timeIntervalSince1970)
    }

    func wallClockComponents(_ seconds: Int) -> DateComponents {
        utc.dateComponents(
            [.year, .month, .day, .hour, .minute, .second, .weekday], from: Date(timeIntervalSince1970: Double(seconds))
        )
    }

    func nextFire(after start: Date, within window: TimeInterval) -> Date? {
        let step = expression.hasSeconds ? 1.0 : 60.0
        var t = (start.timeIntervalSince1970 / step).rounded(.down) * step
        let end = start.timeIntervalSince1970 + window
        if !expression.isFixedTime {
            while t <= end {
                t += step
                if t > start.timeIntervalSince1970 && matches(components(of: Date(timeIntervalSince1970: t))) {
                    return Date(timeIntervalSince1970: t)
                }
            }
            return nil
        }
        // Debian cron: run what the wall clock passes; after a jump forward, run what was skipped at once;
        // after a jump back, do not run readings already seen. Start early enough to know what was seen.
        t -= 4 * 3600
        var previous = wallClock(components(of: Date(timeIntervalSince1970: t)))
        var highest = previous
        while t <= end {
            t += 60
            let reading = wallClock(components(of: Date(timeIntervalSince1970: t)))
            var fires = false
            if reading > previous + 60 {
                var skipped = previous + 60
                while skipped <= reading {
                    if skipped > highest && matches(wallClockComponents(skipped)) { fires = true }
                    skipped += 60
                }
            } else if reading > highest {
                fires = matches(wallClockComponents(reading))
            }
            highest = max(highest, reading)
            previous = reading
            if fires && t > start.timeIntervalSince1970 { return Date(timeIntervalSince1970: t) }
        }
        return nil
    }

    func matches(_ c: DateComponents) -> Bool {
        fieldMatches(.second, c.second!) && fieldMatches(.minute, c.minute!) && fieldMatches(.hour, c.hour!)
            && fieldMatches(.month, c.month!) && dayMatches(c)
    }

    func dateMatches(_ c: DateComponents) -> Bool {
        fieldMatches(.month, c.month!) && dayMatches(c)
    }

    func dayMatches(_ c: DateComponents) -> Bool {
        let domItems = items[CronField.dayOfMonth.rawValue]
        let dowItems = items[CronField.dayOfWeek.rawValue]
        let dom = domItems.contains { domItemMatches($0, c) }
        let dow = dowItems.contains { dowItemMatches($0, c) }
        let domStar = starred[CronField.dayOfMonth.rawValue]
        let dowStar = starred[CronField.dayOfWeek.rawValue]
        return domStar || dowStar ? dom && dow : dom || dow
    }

    private func fieldMatches(_ field: CronField, _ value: Int) -> Bool {
        items[field.rawValue].contains { item in
            switch item {
            case .any: true
            case .anyStep(let step): (value - field.bounds.lowerBound) % step == 0
            case .value(let v): v == value
            case .range(let a, let b, let step): value >= a && value <= b && (value - a) % step == 0
            default: false
            }
        }
    }

    private func monthLength(_ c: DateComponents) -> Int {
        let first = utc.date(from: DateComponents(year: c.year, month: c.month, day: 1))!
        return utc.range(of: .day, in: .month, for: first)!.count
    }

    private func weekday(year: Int, month: Int, day: Int) -> Int {
        utc.component(.weekday, from: utc.date(from: DateComponents(year: year, month: month, day: day))!) - 1
    }

    private func isWeekday(_ c: DateComponents, day: Int) -> Bool {
        (1...5).contains(weekday(year: c.year!, month: c.month!, day: day))
    }

    private func domItemMatches(_ item: CronFieldItem, _ c: DateComponents) -> Bool {
        let day = c.day!
        let length = monthLength(c)
        switch item {
        case .lastDay:
            return day == length
        case .lastWeekdayOfMonth:
            return isWeekday(c, day: day)
                && !((day + 1)...max(day + 1, length)).contains { $0 <= length && isWeekday(c, day: $0) }
        case .nearestWeekday(let n):
            guard n <= length else { return false }
            if isWeekday(c, day: n) { return day == n }
            // The closest weekday to n that stays inside the month, the day before winning a tie.
            for candidate in [n - 1, n + 1, n - 2, n + 2] where candidate >= 1 && candidate <= length {
                if isWeekday(c, day: candidate) { return day == candidate }
            }
            return false
        default:
            return fieldMatches(.dayOfMonth, day)
        }
    }

    private func dowItemMatches(_ item: CronFieldItem, _ c: DateComponents) -> Bool {
        let w = c.weekday! - 1
        let day = c.day!
        switch item {
        case .lastOfWeekday(let d): return w == d % 7 && day + 7 > monthLength(c)
        case .nthWeekday(let d, let k): return w == d % 7 && (day - 1) / 7 + 1 == k
        case .any: return true
        case .anyStep(let step): return w % step == 0
        case .value(let v): return v % 7 == w
        case .range(let a, let b, let step):
            return stride(from: a, through: b, by: step).contains { $0 % 7 == w }
        default: return false
        }
    }
}
