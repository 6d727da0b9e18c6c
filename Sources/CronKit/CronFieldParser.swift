/// Parses the text of one field into items, with errors that name the field and the token.
enum CronFieldParser {
    static func parse(_ text: String, field: CronField) throws(CronParseError) -> [CronFieldItem] {
        guard !text.isEmpty else { throw CronParseError(.malformed, field: field, token: text, "empty field") }
        var items: [CronFieldItem] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            items.append(try parseItem(String(part), field: field))
        }
        return items
    }

    private static func parseItem(_ token: String, field: CronField) throws(CronParseError) -> CronFieldItem {
        guard !token.isEmpty else {
            throw CronParseError(.malformed, field: field, token: token, "empty item in list")
        }
        let upper = token.uppercased()
        if let special = try parseSpecial(upper, token: token, field: field) { return special }

        let pieces = upper.split(separator: "/", omittingEmptySubsequences: false)
        guard pieces.count <= 2 else {
            throw CronParseError(.badStep, field: field, token: token, "'\(token)' has more than one '/'")
        }
        var step: Int?
        if pieces.count == 2 {
            guard let n = Int(pieces[1]), pieces[1].allSatisfy(\.isASCIIDigit) else {
                throw CronParseError(
                    .badStep, field: field, token: token, "step '\(pieces[1])' in '\(token)' is not a number")
            }
            guard n > 0 else {
                throw CronParseError(.zeroStep, field: field, token: token, "step 0 in '\(token)' must be at least 1")
            }
            step = n
        }
        let base = String(pieces[0])
        let max = field.bounds.upperBound
        if base == "*" || base == "?" {
            if base == "?" && field != .dayOfMonth && field != .dayOfWeek {
                throw CronParseError(
                    .malformed, field: field, token: token, "'?' is allowed only in day-of-month and day-of-week")
            }
            if let step, step > 1 { return .anyStep(step) }
            return .any
        }
        let ends = base.split(separator: "-", omittingEmptySubsequences: false)
        switch ends.count {
        case 1:
            let v = try value(String(ends[0]), token: token, field: field)
            if let step { return .range(v, field == .dayOfWeek ? 6 : max, step: step) }
            return .value(v)
        case 2:
            let a = try value(String(ends[0]), token: token, field: field)
            let b = try value(String(ends[1]), token: token, field: field)
            guard a <= b else {
                throw CronParseError(
                    .reversedRange, field: field, token: token, "range '\(token)' is reversed (\(a) > \(b))")
            }
            return .range(a, b, step: step ?? 1)
        default:
            throw CronParseError(.malformed, field: field, token: token, "'\(token)' is not a value, range or step")
        }
    }

    /// `L`, `LW`, `nW` in day-of-month; `nL`, `n#k` in day-of-week.
    private static func parseSpecial(_ upper: String, token: String, field: CronField) throws(CronParseError)
        -> CronFieldItem?
    {
        switch field {
        case .dayOfMonth:
            if upper == "L" { return .lastDay }
            if upper == "LW" { return .lastWeekdayOfMonth }
            if upper.hasSuffix("W") {
                let n = try value(String(upper.dropLast()), token: token, field: field)
                return .nearestWeekday(n)
            }
        case .dayOfWeek:
            if upper == "L" {
                throw CronParseError(
                    .malformed, field: field, token: token, "'L' needs a weekday before it, e.g. '5L' (last Friday)")
            }
            if upper.hasSuffix("L") {
                let d = try value(String(upper.dropLast()), token: token, field: field)
                return .lastOfWeekday(d)
            }
            if let hash = upper.firstIndex(of: "#") {
                let d = try value(String(upper[..<hash]), token: token, field: field)
                let kText = upper[upper.index(after: hash)...]
                guard let k = Int(kText), kText.allSatisfy(\.isASCIIDigit) else {
                    throw CronParseError(
                        .malformed, field: field, token: token, "'\(kText)' in '\(token)' is not a number")
                }
                guard (1...5).contains(k) else {
                    throw CronParseError(
                        .outOfRange, field: field, token: token, "#\(k) in '\(token)' is out of range 1-5")
                }
                return .nthWeekday(d, k)
            }
        default:
            if upper.contains("L") || upper.contains("W") || upper.contains("#") {
                if field.names.isEmpty {
                    throw CronParseError(
                        .malformed, field: field, token: token,
                        "'\(token)' is not valid here: L, W and # belong to the day fields")
                }
            }
        }
        return nil
    }

    private static func value(_ text: String, token: String, field: CronField) throws(CronParseError) -> Int {
        guard !text.isEmpty else {
            throw CronParseError(.malformed, field: field, token: token, "'\(token)' is missing a value")
        }
        let v: Int
        if text.allSatisfy(\.isASCIIDigit) {
            guard let n = Int(text) else {
                throw CronParseError(
                    .outOfRange, field: field, token: token,
                    "\(text) is out of range \(field.bounds.lowerBound)-\(field.bounds.upperBound)")
            }
            v = n
        } else if let named = field.names[text.uppercased()] {
            v = named
        } else if field.names.isEmpty {
            throw CronParseError(.malformed, field: field, token: token, "'\(text)' is not a number")
        } else {
            let kind = field == .month ? "month" : "day"
            throw CronParseError(.unknownName, field: field, token: token, "unknown \(kind) name '\(text)'")
        }
        guard field.bounds.contains(v) else {
            throw CronParseError(
                .outOfRange, field: field, token: token,
                "\(v) is out of range \(field.bounds.lowerBound)-\(field.bounds.upperBound)")
        }
        return v
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
