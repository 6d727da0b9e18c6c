/// A text that is not a duration, with the token at fault and what is wrong.
public struct DurationParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public let token: String
    public let message: String
    public var description: String { message }
}

/// Durations as job files and `@every` write them: `90s`, `15m`, `1h30m`, `2d`, `500ms`.
extension Duration {
    /// The longest duration accepted anywhere (about 100 years). Anything longer is almost certainly a mistake,
    /// and keeping every duration below it keeps every date computed from one far from overflowing.
    public static let maximumParsedSeconds: Int64 = 36_500 * 86_400

    /// Reads a duration.
    ///
    /// - Throws: ``DurationParseError`` naming the token, also for a duration longer than
    ///   ``maximumParsedSeconds`` (never a trap, however many digits).
    public init(parsing text: String) throws(DurationParseError) {
        self = try Self.parse(text)
    }

    private static func parse(_ text: String) throws(DurationParseError) -> Duration {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw DurationParseError(token: text, message: "empty duration") }
        // Messages quote the token; a megabyte of digits is quoted by its start.
        let shown = trimmed.count > 40 ? trimmed.prefix(40) + "…" : trimmed
        let tooLong = DurationParseError(
            token: trimmed, message: "'\(shown)' is too long (at most 36500d, about 100 years)")
        // Milliseconds, checked at every step: no input can overflow.
        var totalMilliseconds: Int64 = 0
        var number = ""
        var unit = ""
        func flush() throws(DurationParseError) {
            guard !number.isEmpty, number.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw DurationParseError(
                    token: trimmed, message: "'\(shown)' is not a duration (write e.g. 90s, 15m, 1h30m, 2d)")
            }
            let millisecondsPerUnit: Int64
            switch unit {
            case "ms": millisecondsPerUnit = 1
            case "s": millisecondsPerUnit = 1000
            case "m": millisecondsPerUnit = 60_000
            case "h": millisecondsPerUnit = 3_600_000
            case "d": millisecondsPerUnit = 86_400_000
            default:
                throw DurationParseError(
                    token: trimmed, message: "unknown unit '\(unit)' in '\(shown)' (use ms, s, m, h, d)")
            }
            // More digits than any accepted duration has: too long, whatever they say.
            let significant = number.drop { $0 == "0" }
            guard significant.utf8.count <= 18, let n = Int64(significant.isEmpty ? "0" : significant) else {
                throw tooLong
            }
            let (part, overflow) = n.multipliedReportingOverflow(by: millisecondsPerUnit)
            let (sum, overflow2) = totalMilliseconds.addingReportingOverflow(part)
            guard !overflow, !overflow2, sum <= maximumParsedSeconds * 1000 else { throw tooLong }
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
                    throw DurationParseError(
                        token: trimmed, message: "'\(shown)' is not a duration (write e.g. 90s, 15m, 1h30m, 2d)")
                }
                unit.append(contentsOf: ch.lowercased())
            } else {
                throw DurationParseError(token: trimmed, message: "unexpected '\(ch)' in duration '\(shown)'")
            }
        }
        if !number.isEmpty && unit.isEmpty {
            throw DurationParseError(
                token: trimmed, message: "'\(shown)' needs a unit (s, m, h, d), e.g. \(number.prefix(20))s")
        }
        try flush()
        return .milliseconds(totalMilliseconds)
    }
}
