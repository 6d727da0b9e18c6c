/// A schedule given as ndscheduler's split cron fields, read with APScheduler 3's rules, and its Tock equivalent.
///
/// ndscheduler's API takes `month`, `day`, `week`, `day_of_week`, `hour` and `minute` separately and hands them to
/// APScheduler's `CronTrigger`, whose rules differ from Vixie cron in three ways this type translates:
/// - `day_of_week` counts from Monday (0 = Monday … 6 = Sunday; names `mon`–`sun`);
/// - a field left out takes `*` if it is more significant than the least significant field given, and its
///   minimum otherwise (`{"hour": "9"}` is 09:00:00 every day, not every minute of hour 9);
/// - `day` and `day_of_week` both restricted means both must match (Vixie cron: either).
///
/// ```swift
/// let cron = try APSchedulerCron(fields: ["day_of_week": "mon-fri", "hour": "9", "minute": "30"])
/// cron.expression.source   // "30 9 * * 1-5"
/// ```
public struct APSchedulerCron: Sendable, Hashable {
    /// A field ndscheduler's API knows, in APScheduler's order (most significant first).
    public static let fieldNames = ["month", "day", "week", "day_of_week", "hour", "minute"]

    /// A field that cannot be read, named as the API names it.
    public struct FieldError: Error, Sendable, Hashable, CustomStringConvertible {
        public let field: String
        public let message: String
        public var description: String { "\(field): \(message)" }
    }

    /// Every field with its effective value (defaults filled in), as ndscheduler reports them.
    public let fields: [String: String]
    /// The same schedule as a Tock cron expression (Vixie day-of-week numbering).
    public let expression: CronExpression

    /// Reads the fields present in `given` (at least one of ``fieldNames``).
    public init(fields given: [String: String]) throws(FieldError) {
        let present = Self.fieldNames.filter { given[$0] != nil }
        guard let least = present.last.flatMap({ Self.fieldNames.firstIndex(of: $0) }) else {
            throw FieldError(
                field: "schedule",
                message: "give 'schedule', or at least one of \(Self.fieldNames.joined(separator: ", "))")
        }
        let minimums = ["month": "1", "day": "1", "week": "*", "day_of_week": "*", "hour": "0", "minute": "0"]
        var effective: [String: String] = [:]
        for (index, name) in Self.fieldNames.enumerated() {
            if let value = given[name] {
                let trimmed = value.trimmingWhitespace().lowercased()
                guard !trimmed.isEmpty, !trimmed.contains(" ") || name == "day" else {
                    throw FieldError(field: name, message: "'\(value)' is not a cron field")
                }
                effective[name] = trimmed
            } else {
                effective[name] = index > least ? minimums[name]! : "*"
            }
        }
        guard effective["week"] == "*" else {
            throw FieldError(field: "week", message: "ISO week numbers are not supported; use '*'")
        }
        let day = try Self.vixieDay(effective["day"]!)
        let dayOfWeek = try Self.vixieDayOfWeek(effective["day_of_week"]!)
        let text = [effective["minute"]!, effective["hour"]!, day, effective["month"]!, dayOfWeek]
        let restrictedBoth = day != "*" && dayOfWeek != "*"
        do {
            expression = try CronExpression(parsing: text.joined(separator: " "), daysMatchBoth: restrictedBoth)
        } catch {
            let name: String =
                switch error.field {
                case .minute: "minute"
                case .hour: "hour"
                case .dayOfMonth: "day"
                case .month: "month"
                case .dayOfWeek: "day_of_week"
                case .second, nil: "schedule"
                }
            throw FieldError(field: name, message: error.message)
        }
        fields = effective
    }

    /// ndscheduler's fields for a Tock cron expression (day-of-week written with APScheduler's names).
    public static func fields(of expression: CronExpression) -> [String: String] {
        let texts = CronExpression.fieldTexts(expression.source)
        var fields = [
            "minute": texts[1], "hour": texts[2], "day": texts[3], "month": texts[4], "week": "*",
            "day_of_week": texts[5],
        ]
        let plainWeekdays = expression.items[CronField.dayOfWeek.rawValue].allSatisfy { item in
            switch item {
            case .any, .anyStep, .value, .range: true
            default: false
            }
        }
        if expression.isStarred(.dayOfWeek) {
            fields["day_of_week"] = "*"
        } else if plainWeekdays {
            // Monday-first order, consecutive days as ranges: `mon-fri`, `sat,sun`.
            let days = expression.daysOfWeek.map { ($0 + 6) % 7 }.sorted()
            fields["day_of_week"] = runs(days).map {
                $0.count > 2 ? "\(names[$0.first!])-\(names[$0.last!])" : $0.map { names[$0] }.joined(separator: ",")
            }
            .joined(separator: ",")
        }
        if texts[3].uppercased() == "L" { fields["day"] = "last" }
        return fields
    }

    static let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    /// Sorted numbers cut into runs of consecutive values.
    static func runs(_ sorted: [Int]) -> [[Int]] {
        var result: [[Int]] = []
        for value in sorted {
            if let last = result.last?.last, last + 1 == value {
                result[result.count - 1].append(value)
            } else {
                result.append([value])
            }
        }
        return result
    }

    /// APScheduler's `day`: Vixie's, plus `last` for the month's last day.
    static func vixieDay(_ text: String) throws(FieldError) -> String {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { (item) throws(FieldError) -> String in
            if item == "last" { return "L" }
            if item.contains(" ") || item.hasPrefix("last") {
                throw FieldError(
                    field: "day", message: "'\(item)' (an 'Nth weekday' form) is not supported; use day_of_week")
            }
            return String(item)
        }.joined(separator: ",")
    }

    /// APScheduler's `day_of_week` (0 = Monday) as a Vixie list (0 = Sunday), or `*` for every day.
    static func vixieDayOfWeek(_ text: String) throws(FieldError) -> String {
        var days = Set<Int>()
        func value(_ token: Substring) throws(FieldError) -> Int {
            if let index = names.firstIndex(of: String(token)) { return index }
            guard let number = Int(token), (0...6).contains(number) else {
                throw FieldError(
                    field: "day_of_week", message: "'\(token)' is not a weekday (0-6 with 0 = Monday, or mon-sun)")
            }
            return number
        }
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, !parts[0].isEmpty else {
                throw FieldError(field: "day_of_week", message: "'\(item)' is not a weekday expression")
            }
            var step = 1
            if parts.count == 2 {
                guard let n = Int(parts[1]), n > 0 else {
                    throw FieldError(field: "day_of_week", message: "'\(item)': the step must be a positive number")
                }
                step = n
            }
            let range: ClosedRange<Int>
            if parts[0] == "*" {
                range = 0...6
            } else if let dash = parts[0].firstIndex(of: "-") {
                let first = try value(parts[0][..<dash])
                let last = try value(parts[0][parts[0].index(after: dash)...])
                guard first <= last else {
                    throw FieldError(field: "day_of_week", message: "'\(item)': the range is reversed")
                }
                range = first...last
            } else {
                let first = try value(parts[0])
                range = first...(parts.count == 2 ? 6 : first)
            }
            for day in stride(from: range.lowerBound, through: range.upperBound, by: step) { days.insert(day) }
        }
        if days.count == 7 { return "*" }
        // Vixie numbering: Monday 0 -> 1, …, Sunday 6 -> 0; consecutive days as ranges (`1-5`).
        return runs(days.map { ($0 + 1) % 7 }.sorted()).map {
            $0.count > 2 ? "\($0.first!)-\($0.last!)" : $0.map(String.init).joined(separator: ",")
        }
        .joined(separator: ",")
    }
}
