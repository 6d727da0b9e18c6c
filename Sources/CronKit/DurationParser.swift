/// Durations as job files and `@every` write them: `90s`, `15m`, `1h30m`, `2d`, `500ms`.
public enum DurationParser {
    /// Parses a duration.
    ///
    /// - Throws: ``CronParseError`` with code `.badDuration` naming the token.
    public static func parse(_ text: String) throws(CronParseError) -> Duration {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw CronParseError(.badDuration, token: text, "empty duration") }
        var total = Duration.zero
        var number = ""
        var unit = ""
        func flush() throws(CronParseError) {
            guard let n = Int64(number) else {
                throw CronParseError(
                    .badDuration, token: trimmed, "'\(trimmed)' is not a duration (write e.g. 90s, 15m, 1h30m, 2d)")
            }
            let part: Duration
            switch unit {
            case "ms": part = .milliseconds(n)
            case "s": part = .seconds(n)
            case "m": part = .seconds(n * 60)
            case "h": part = .seconds(n * 3600)
            case "d": part = .seconds(n * 86_400)
            default:
                throw CronParseError(
                    .badDuration, token: trimmed, "unknown unit '\(unit)' in '\(trimmed)' (use ms, s, m, h, d)")
            }
            total += part
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
                        .badDuration, token: trimmed, "'\(trimmed)' is not a duration (write e.g. 90s, 15m, 1h30m, 2d)")
                }
                unit.append(contentsOf: ch.lowercased())
            } else {
                throw CronParseError(.badDuration, token: trimmed, "unexpected '\(ch)' in duration '\(trimmed)'")
            }
        }
        if !number.isEmpty && unit.isEmpty {
            throw CronParseError(
                .badDuration, token: trimmed, "'\(trimmed)' needs a unit (s, m, h, d), e.g. \(number)s")
        }
        try flush()
        return total
    }
}
