/// Plain-English descriptions, for the API's schedule preview and the UI: "At 02:30, Monday through Friday".
extension CronExpression {
    public var englishDescription: String {
        let items = self.items
        var text = timePhrase(items)
        let day = dayPhrase(items)
        if !day.isEmpty { text += ", " + day }
        if !isStarred(.month) {
            let months = items[CronField.month.rawValue]
            if case .value = months.first, months.count == 1 {
                text += ", only in " + Self.list(months, name: Self.monthName)
            } else {
                text += ", in " + Self.list(months, name: Self.monthName)
            }
        }
        return text
    }

    private func timePhrase(_ items: [[CronFieldItem]]) -> String {
        let seconds = items[CronField.second.rawValue]
        let minutes = items[CronField.minute.rawValue]
        let hours = items[CronField.hour.rawValue]
        let single = { (items: [CronFieldItem]) -> Int? in
            if items.count == 1, case .value(let v) = items[0] { return v }
            return nil
        }
        let values = { (items: [CronFieldItem]) -> [Int]? in
            var out: [Int] = []
            for item in items {
                guard case .value(let v) = item else { return nil }
                out.append(v)
            }
            return out
        }
        let second = single(seconds)
        let clockSeconds = hasSeconds && second != 0
        // Exact clock times: "At 02:30", "At 09:00 and 17:00".
        if let minute = single(minutes), let hourList = values(hours), hourList.count <= 4,
            second != nil || !hasSeconds
        {
            let times = hourList.map { Self.clock($0, minute, clockSeconds ? second : nil) }
            return "At " + Self.join(times)
        }
        var text: String
        if hasSeconds && second != 0 {
            switch seconds.first {
            case .any where seconds.count == 1: text = "Every second"
            case .anyStep(let n) where seconds.count == 1: text = "Every \(n) seconds"
            default: text = "At " + Self.plural("second", seconds) + " " + Self.list(seconds, name: String.init)
            }
            if minutes.count != 1 || minutes.first != .any {
                text += ", " + minutePhrase(minutes, leading: false)
            }
        } else {
            text = minutePhrase(minutes, leading: true)
        }
        switch hours.first {
        case .any where hours.count == 1:
            if single(minutes) == 0 && !(hasSeconds && second != 0) { return "Every hour" }
            if single(minutes) != nil { text += " past every hour" }
        case .anyStep(let n) where hours.count == 1:
            text += ", every \(n) hours"
        case .range(let a, let b, 1) where hours.count == 1:
            text += ", between \(Self.clock(a, 0, nil)) and \(Self.clock(b, 59, nil))"
        default:
            text += ", in " + Self.plural("hour", hours) + " " + Self.list(hours, name: String.init)
        }
        return text
    }

    private func minutePhrase(_ minutes: [CronFieldItem], leading: Bool) -> String {
        let every = leading ? "Every" : "every"
        let at = leading ? "At" : "at"
        switch minutes.first {
        case .any where minutes.count == 1: return "\(every) minute"
        case .anyStep(let n) where minutes.count == 1: return "\(every) \(n) minutes"
        default: return "\(at) " + Self.plural("minute", minutes) + " " + Self.list(minutes, name: String.init)
        }
    }

    private func dayPhrase(_ items: [[CronFieldItem]]) -> String {
        let domStar = isStarred(.dayOfMonth)
        let dowStar = isStarred(.dayOfWeek)
        let domItems = items[CronField.dayOfMonth.rawValue]
        let dowItems = items[CronField.dayOfWeek.rawValue]
        let domRestricted = !(domItems.count == 1 && domItems[0] == .any)
        let dowRestricted = !(dowItems.count == 1 && dowItems[0] == .any)
        var parts: [String] = []
        if domRestricted { parts.append(Self.dayOfMonthPhrase(domItems)) }
        if dowRestricted { parts.append(Self.dayOfWeekPhrase(dowItems, alone: !domRestricted)) }
        if parts.count == 2 { return parts[0] + (domStar || dowStar || daysMatchBoth ? " and " : " or ") + parts[1] }
        return parts.first ?? ""
    }

    private static func dayOfMonthPhrase(_ items: [CronFieldItem]) -> String {
        var plain: [CronFieldItem] = []
        var special: [String] = []
        for item in items {
            switch item {
            case .lastDay: special.append("the last day of the month")
            case .lastWeekdayOfMonth: special.append("the last weekday of the month")
            case .nearestWeekday(let n): special.append("the weekday nearest day \(n) of the month")
            case .anyStep(let n): special.append("every \(ordinal(n)) day of the month")
            default: plain.append(item)
            }
        }
        if !plain.isEmpty {
            special.insert(plural("day", plain) + " " + list(plain, name: String.init) + " of the month", at: 0)
        }
        return "on " + join(special)
    }

    private static func dayOfWeekPhrase(_ items: [CronFieldItem], alone: Bool) -> String {
        var plain: [CronFieldItem] = []
        var special: [String] = []
        for item in items {
            switch item {
            case .lastOfWeekday(let d): special.append("on the last \(weekdayName(d)) of the month")
            case .nthWeekday(let d, let k): special.append("on the \(ordinalWord(k)) \(weekdayName(d)) of the month")
            case .anyStep(let n): special.append("every \(ordinal(n)) day of the week")
            default: plain.append(item)
            }
        }
        if !plain.isEmpty {
            let onlyOne = plain.count == 1 && { if case .value = plain[0] { return true } else { return false } }()
            let prefix = alone ? (onlyOne ? "only on " : "") : "on "
            special.insert(prefix + list(plain, name: weekdayName), at: 0)
        }
        return join(special)
    }

    private static func list(_ items: [CronFieldItem], name: (Int) -> String) -> String {
        join(
            items.map { item in
                switch item {
                case .any: "every value"
                case .anyStep(let n): "every \(ordinal(n))"
                case .value(let v): name(v)
                case .range(let a, let b, 1): "\(name(a)) through \(name(b))"
                case .range(let a, let b, let step): "every \(ordinal(step)) from \(name(a)) through \(name(b))"
                case .lastDay: "the last day"
                case .lastWeekdayOfMonth: "the last weekday"
                case .nearestWeekday(let n): "the weekday nearest day \(n)"
                case .lastOfWeekday(let d): "the last \(weekdayName(d))"
                case .nthWeekday(let d, let k): "the \(ordinalWord(k)) \(weekdayName(d))"
                }
            })
    }

    private static func plural(_ word: String, _ items: [CronFieldItem]) -> String {
        if items.count == 1, case .value = items[0] { return word }
        return word + "s"
    }

    private static func join(_ parts: [String]) -> String {
        switch parts.count {
        case 0: ""
        case 1: parts[0]
        default: parts.dropLast().joined(separator: ", ") + " and " + parts[parts.count - 1]
        }
    }

    private static func clock(_ hour: Int, _ minute: Int, _ second: Int?) -> String {
        let two = { (n: Int) in n < 10 ? "0\(n)" : "\(n)" }
        return two(hour) + ":" + two(minute) + (second.map { ":" + two($0) } ?? "")
    }

    private static func ordinal(_ n: Int) -> String {
        let suffix: String
        switch (n % 10, n % 100) {
        case (1, let t) where t != 11: suffix = "st"
        case (2, let t) where t != 12: suffix = "nd"
        case (3, let t) where t != 13: suffix = "rd"
        default: suffix = "th"
        }
        return "\(n)\(suffix)"
    }

    private static func ordinalWord(_ k: Int) -> String {
        ["", "first", "second", "third", "fourth", "fifth"][k]
    }

    static func weekdayName(_ d: Int) -> String {
        ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"][d % 7]
    }

    static func monthName(_ m: Int) -> String {
        [
            "", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
            "November", "December",
        ][m]
    }
}

extension ScheduleExpression {
    /// A plain-English description of the schedule.
    public var englishDescription: String {
        switch self {
        case .cron(let expression): expression.englishDescription
        case .every(let seconds): "Every \(DurationFormatter.string(seconds: seconds))"
        case .reboot: "Once, when the daemon starts"
        case .unscheduled: "No schedule of its own"
        }
    }
}
