/// Durations as job files and `@every` write them: `90s`, `15m`, `1h30m`, `2d`, `500ms`.
public enum DurationParser {
    /// The longest duration accepted anywhere (about 100 years). Anything longer is almost certainly a mistake,
    /// and keeping every duration below it keeps every date computed from one far from overflowing.
    public static let maximumSeconds: Int64 = 36_500 * 86_400

    /// Parses a duration.
    ///
    /// - Throws: ``CronParseError`` with code `.badDuration` naming the token, also for a duration longer than
    ///   ``maximumSeconds`` (never a trap, however many digits).
    public static func parse(_ text: String) throws(CronParseError) -> Duration {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw CronParseError(.badDuration, token: text, "empty duration") }
        // Messages quote the token; a megabyte of digits is quoted by its start.
        let shown = trimmed.count > 40 ? trimmed.prefix(40) + "…" : trimmed
        let tooLong = CronParseError(
            .badDuration, token: trimmed, "'\(shown)' is too long (at most 36500d, about 100 years)")
        // Milliseconds, checked at every step: no input can overflow.
        var totalMilliseconds: Int64 = 0
        var number = ""
        var unit = ""
        func flush() throws(CronParseError) {
            guard !number.isEmpty, number.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw CronParseError(
                    .badDuration, token: trimmed, "'\(shown)' is not a duration (write e.g. 90s, 15m, 1h30m, 2d)")
            }
            let millisecondsPerUnit: Int64
            switch unit {
            case "ms": millisecondsPerUnit = 1
            case "s": millisecondsPerUnit = 1000
            case "m": millisecondsPerUnit = 60_000
            case "h": millisecondsPerUnit = 3_600_000
            case "d": millisecondsPerUnit = 86_400_000
            default:
                throw CronParseError(
                    .badDuration, token: trimmed, "unknown unit '\(unit)' in '\(shown)' (use ms, s, m, h, d)")
            }
            // More digits than any accepted duration has: too long, whatever they say.
            let significant = number.drop { $0 == "0" }
            guard significant.utf8.count <= 18, let n = Int64(significant.isEmpty ? "0" : significant) else {
                throw tooLong
            }
            let (part, overflow) = n.multipliedReportingOverflow(by: millisecondsPerUnit)
            let (sum, overflow2) = totalMilliseconds.addingReportingOverflow(part)
            guard !overflow, !overflow2, sum <= maximumSeconds * 1000 else { throw tooLong }
            totalMilliseconds = sum
            number = ""
            unit = ""
        }
        for ch in trimmed {
            if ch.isASCIIDigit {
                if !unit.isEmpty { try flush() }
                number.append(ch)
            } else if ch.isLetter {
                guard !number.isEmpty else {
                    throw CronParseError(
                        .badDuration, token: trimmed, "'\(shown)' is not a duration (write e.g. 90s, 15m, 1h30m, 2d)")
                }
                unit.append(contentsOf: ch.lowercased())
            } else {
                throw CronParseError(.badDuration, token: trimmed, "unexpected '\(ch)' in duration '\(shown)'")
            }
        }
        if !number.isEmpty && unit.isEmpty {
            throw CronParseError(
                .badDuration, token: trimmed, "'\(shown)' needs a unit (s, m, h, d), e.g. \(number.prefix(20))s")
        }
        try flush()
        return .milliseconds(totalMilliseconds)
    }
}
