/// A parsed cron expression: 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first),
/// or one of the macros `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`.
///
/// Matching follows Vixie/Debian cron: when day-of-month and day-of-week are both restricted (neither starts
/// with `*` or `?`), a day matches when *either* matches; otherwise both must match. Day-of-week 0 and 7 are
/// Sunday. Day-of-month also takes `L`, `LW` and `nW`; day-of-week takes `nL` and `n#k`.
///
/// The value is pure: it knows nothing of time zones. ``CronSchedule`` pairs it with a zone.
///
/// ```swift
/// let expr = try CronExpression(parsing: "30 2 * * MON-FRI")
/// expr.englishDescription // "At 02:30, Monday through Friday"
/// ```
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The text the expression was parsed from, trimmed.
    public let source: String
    /// Whether the expression had a leading seconds field.
    public let hasSeconds: Bool
    /// Bit `CronField.rawValue` set when that field's text started with `*` or `?` (the Vixie "star" flag).
    let starredBits: UInt8

    // Bit sets: bit n set when value n matches.
    let secondBits: UInt64
    let minuteBits: UInt64
    let hourBits: UInt64
    let dayOfMonthBits: UInt64
    let monthBits: UInt64
    let dayOfWeekBits: UInt64  // bits 0-6, Sunday = 0
    let lastDayOfMonth: Bool
    let lastWeekdayOfMonth: Bool
    let nearestWeekdayBits: UInt64  // bit n for `nW`
    let lastOfWeekdayBits: UInt64  // bit d for `dL`
    let nthWeekdayBits: UInt64  // bit d * 8 + k for `d#k`

    public var description: String { source }

    /// A fixed-time job in Debian cron's sense: 5 fields whose minute and hour fields both do not start with `*`.
    /// Such a job runs once on DST days; every other expression runs on real time (see ``CronSchedule``).
    public var isFixedTime: Bool {
        !hasSeconds && !isStarred(.minute) && !isStarred(.hour)
    }

    /// Whether the field's text started with `*` or `?` (the Vixie "star" flag).
    @inline(__always)
    func isStarred(_ field: CronField) -> Bool { starredBits & (1 << field.rawValue) != 0 }

    /// Set in `starredBits` (above the six field bits) for APScheduler's day rule.
    static let daysMatchBothBit: UInt8 = 1 << 7

    /// Whether day-of-month and day-of-week must both match although both are restricted (APScheduler's rule).
    public var daysMatchBoth: Bool { starredBits & Self.daysMatchBothBit != 0 }

    /// Days of the week the day-of-week field selects (0 = Sunday), ignoring `L` and `#` forms.
    public var daysOfWeek: [Int] { (0...6).filter { dayOfWeekBits & (1 << $0) != 0 } }

    /// The star flags by field, indexed by `CronField.rawValue`.
    var starred: [Bool] { CronField.allCases.map(isStarred) }

    /// Parsed items per field, indexed by `CronField.rawValue` (seconds is `[.value(0)]` for 5 fields).
    ///
    /// Parsed again from `source` when asked (descriptions, tests): the value keeps only its bit sets, so that
    /// 100,000 schedules cost a few megabytes, not a few hundred.
    public var items: [[CronFieldItem]] {
        let texts = Self.fieldTexts(source)
        return CronField.allCases.map { field in
            (try? CronFieldParser.parse(texts[field.rawValue], field: field)) ?? []
        }
    }

    /// The six field texts of an expression already known to be valid (seconds "0" added to 5 fields).
    static func fieldTexts(_ source: String) -> [String] {
        var texts: [String]
        if source.hasPrefix("@") {
            texts = (macros[source.lowercased()] ?? "").split(separator: " ").map(String.init)
        } else {
            texts = source.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        }
        if texts.count == 5 { texts.insert("0", at: 0) }
        return texts
    }

    /// Parses an expression.
    ///
    /// - Throws: ``CronParseError`` naming the field and the token, e.g. `minute: 60 is out of range 0-59`,
    ///   and for an expression that can never fire (`0 0 30 2 *`).
    ///
    /// - Parameter daysMatchBoth: require day-of-month *and* day-of-week to match even when both are restricted
    ///   (APScheduler's rule, for jobs created through ndscheduler's API) instead of Vixie cron's either.
    public init(parsing text: String, daysMatchBoth: Bool = false) throws(CronParseError) {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw CronParseError(.empty, "empty expression") }
        var fieldTexts: [String]
        if trimmed.hasPrefix("@") {
            let macro = trimmed.lowercased()
            guard let expansion = Self.macros[macro] else {
                throw CronParseError(.unknownMacro, token: trimmed, "unknown macro '\(trimmed)'")
            }
            fieldTexts = expansion.split(separator: " ").map(String.init)
        } else {
            fieldTexts = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        }
        guard fieldTexts.count == 5 || fieldTexts.count == 6 else {
            throw CronParseError(
                .fieldCount, token: trimmed,
                "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got \(fieldTexts.count)"
            )
        }
        hasSeconds = fieldTexts.count == 6
        if !hasSeconds { fieldTexts.insert("0", at: 0) }
        source = trimmed

        var items: [[CronFieldItem]] = []
        var starredBits: UInt8 = 0
        for field in CronField.allCases {
            let text = fieldTexts[field.rawValue]
            items.append(try CronFieldParser.parse(text, field: field))
            if text.hasPrefix("*") || text.hasPrefix("?") { starredBits |= 1 << field.rawValue }
        }
        if daysMatchBoth { starredBits |= Self.daysMatchBothBit }
        self.starredBits = starredBits

        var bits = [UInt64](repeating: 0, count: 6)
        var lastDay = false
        var lastWeekday = false
        var nearest: UInt64 = 0
        var lastOf: UInt64 = 0
        var nth: UInt64 = 0
        for field in CronField.allCases {
            let bounds = field == .dayOfWeek ? 0...6 : field.bounds
            for item in items[field.rawValue] {
                switch item {
                case .any:
                    for v in bounds { bits[field.rawValue] |= 1 << v }
                case .anyStep(let step):
                    for v in stride(from: bounds.lowerBound, through: bounds.upperBound, by: step) {
                        bits[field.rawValue] |= 1 << v
                    }
                case .value(let v):
                    bits[field.rawValue] |= 1 << (field == .dayOfWeek ? v % 7 : v)
                case .range(let a, let b, let step):
                    for v in stride(from: a, through: b, by: step) {
                        bits[field.rawValue] |= 1 << (field == .dayOfWeek ? v % 7 : v)
                    }
                case .lastDay: lastDay = true
                case .lastWeekdayOfMonth: lastWeekday = true
                case .nearestWeekday(let n): nearest |= 1 << n
                case .lastOfWeekday(let d): lastOf |= 1 << (d % 7)
                case .nthWeekday(let d, let k): nth |= 1 << ((d % 7) * 8 + k)
                }
            }
        }
        secondBits = bits[0]
        minuteBits = bits[1]
        hourBits = bits[2]
        dayOfMonthBits = bits[3]
        monthBits = bits[4]
        dayOfWeekBits = bits[5]
        lastDayOfMonth = lastDay
        lastWeekdayOfMonth = lastWeekday
        nearestWeekdayBits = nearest
        lastOfWeekdayBits = lastOf
        nthWeekdayBits = nth

        if !canEverFire() {
            throw CronParseError(
                .neverFires, field: .dayOfMonth, token: fieldTexts[CronField.dayOfMonth.rawValue],
                "\(fieldTexts[CronField.dayOfMonth.rawValue]) never occurs in month \(fieldTexts[CronField.month.rawValue]): the expression can never fire"
            )
        }
    }

    static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *",
        "@annually": "0 0 1 1 *",
        "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *",
        "@midnight": "0 0 * * *",
        "@hourly": "0 * * * *",
    ]

    /// Whether some day in a full 400-year Gregorian cycle (after which weekdays repeat) matches.
    private func canEverFire() -> Bool {
        // Day-of-week patterns alone always occur somewhere in a 400-year cycle, so the OR rule always can.
        if !isStarred(.dayOfMonth) && !isStarred(.dayOfWeek) && !daysMatchBoth { return true }
        for year in 2000..<2400 {
            var month = 1
            while month <= 12 {
                if monthBits & (1 << month) != 0 && dayMask(year: year, month: month) != 0 { return true }
                month += 1
            }
        }
        return false
    }

    /// Bit d set when day d of the month matches the day-of-month and day-of-week fields.
    @inline(__always)
    func dayMask(year: Int, month: Int) -> UInt64 {
        let length = CivilTime.daysInMonth(year: year, month: month)
        let firstDay = CivilTime.days(year: year, month: month, day: 1)
        let firstWeekday = CivilTime.weekday(days: firstDay)
        let monthMask: UInt64 = ((1 << UInt64(length + 1)) - 1) & ~1
        let weekdayOf = { (day: Int) in (firstWeekday + day - 1) % 7 }

        var dom = dayOfMonthBits & monthMask
        if lastDayOfMonth { dom |= 1 << length }
        if lastWeekdayOfMonth {
            let w = weekdayOf(length)
            dom |= 1 << (length - (w == 6 ? 1 : w == 0 ? 2 : 0))
        }
        if nearestWeekdayBits != 0 {
            var pending = nearestWeekdayBits & monthMask
            while pending != 0 {
                let n = pending.trailingZeroBitCount
                pending &= pending - 1
                let w = weekdayOf(n)
                // The nearest weekday never leaves the month (Quartz's rule): 1W on a Saturday is Monday the 3rd.
                let day = w == 6 ? (n == 1 ? 3 : n - 1) : w == 0 ? (n == length ? n - 2 : n + 1) : n
                dom |= 1 << day
            }
        }

        var dow: UInt64 = 0
        // Days 1, 8, 15, 22, 29 of a month share a weekday; shift that pattern to each selected weekday.
        let everySeventh: UInt64 = 1 << 1 | 1 << 8 | 1 << 15 | 1 << 22 | 1 << 29
        if dayOfWeekBits != 0 {
            var pending = dayOfWeekBits
            while pending != 0 {
                let w = pending.trailingZeroBitCount
                pending &= pending - 1
                dow |= everySeventh << ((w - firstWeekday + 7) % 7)
            }
        }
        if lastOfWeekdayBits != 0 {
            var pending = lastOfWeekdayBits
            while pending != 0 {
                let w = pending.trailingZeroBitCount
                pending &= pending - 1
                dow |= 1 << (length - (weekdayOf(length) - w + 7) % 7)
            }
        }
        if nthWeekdayBits != 0 {
            var pending = nthWeekdayBits
            while pending != 0 {
                let bit = pending.trailingZeroBitCount
                pending &= pending - 1
                let day = 1 + (bit / 8 - firstWeekday + 7) % 7 + 7 * (bit % 8 - 1)
                if day <= length { dow |= 1 << day }
            }
        }
        dow &= monthMask

        let domStar = isStarred(.dayOfMonth)
        let dowStar = isStarred(.dayOfWeek)
        return domStar || dowStar || daysMatchBoth ? dom & dow : dom | dow
    }

    /// The first local time (local seconds) at or after `start` whose wall-clock reading matches, searching no
    /// further than `limit`.
    func nextLocalMatch(atOrAfter start: Int64, limit: Int64) -> Int64? {
        var c = CivilTime.components(start)
        var cachedMonth = (year: Int.min, month: 0)
        var days: UInt64 = 0
        let limitYear = CivilTime.components(limit).year
        while c.year <= limitYear {
            if monthBits & (1 << c.month) == 0 {
                guard let m = Self.nextBit(monthBits, atOrAfter: c.month + 1) else {
                    c = .init(
                        year: c.year + 1, month: monthBits.trailingZeroBitCount, day: 1, hour: 0, minute: 0, second: 0)
                    continue
                }
                c = .init(year: c.year, month: m, day: 1, hour: 0, minute: 0, second: 0)
            }
            if cachedMonth != (c.year, c.month) {
                cachedMonth = (c.year, c.month)
                days = dayMask(year: c.year, month: c.month)
            }
            if days & (1 << c.day) == 0 {
                guard let d = Self.nextBit(days, atOrAfter: c.day + 1) else {
                    c.month += 1
                    if c.month > 12 { c.month = 1; c.year += 1 }
                    c.day = 1; c.hour = 0; c.minute = 0; c.second = 0
                    continue
                }
                c.day = d; c.hour = 0; c.minute = 0; c.second = 0
            }
            if hourBits & (1 << c.hour) == 0 {
                guard let h = Self.nextBit(hourBits, atOrAfter: c.hour + 1) else {
                    Self.advanceDay(&c)
                    continue
                }
                c.hour = h; c.minute = 0; c.second = 0
            }
            if minuteBits & (1 << c.minute) == 0 {
                guard let m = Self.nextBit(minuteBits, atOrAfter: c.minute + 1) else {
                    c.minute = 0; c.second = 0; c.hour += 1
                    if c.hour == 24 { Self.advanceDay(&c) }
                    continue
                }
                c.minute = m; c.second = 0
            }
            if secondBits & (1 << c.second) == 0 {
                guard let s = Self.nextBit(secondBits, atOrAfter: c.second + 1) else {
                    c.second = 0; c.minute += 1
                    if c.minute == 60 {
                        c.minute = 0; c.hour += 1
                        if c.hour == 24 { Self.advanceDay(&c) }
                    }
                    continue
                }
                c.second = s
            }
            let result = CivilTime.seconds(c)
            return result <= limit ? result : nil
        }
        return nil
    }

    @inline(__always)
    private static func advanceDay(_ c: inout CivilTime.Components) {
        c.hour = 0; c.minute = 0; c.second = 0
        c.day += 1
        if c.day > CivilTime.daysInMonth(year: c.year, month: c.month) {
            c.day = 1; c.month += 1
            if c.month > 12 { c.month = 1; c.year += 1 }
        }
    }

    @inline(__always)
    static func nextBit(_ bits: UInt64, atOrAfter n: Int) -> Int? {
        guard n < 64 else { return nil }
        let masked = bits & (~0 << UInt64(n))
        return masked == 0 ? nil : masked.trailingZeroBitCount
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
