// Next-fire computations per second, release build: `scripts/bench-cron` runs this and records the table.
import CronKit
import Foundation

struct Case {
    let expression: String
    let zone: String
    let note: String
}

let cases = [
    Case(expression: "*/5 * * * *", zone: "UTC", note: "typical: every 5 minutes"),
    Case(expression: "30 2 * * 1-5", zone: "UTC", note: "typical: weekdays at 02:30"),
    Case(expression: "0 9 * * MON", zone: "Europe/Berlin", note: "typical: weekly, DST zone"),
    Case(expression: "30 2 * * *", zone: "America/New_York", note: "fixed-time, DST zone"),
    Case(expression: "0 * * * *", zone: "America/New_York", note: "real-time hourly, DST zone"),
    Case(expression: "*/10 * * * * *", zone: "UTC", note: "6 fields, every 10 s"),
    Case(expression: "0 0 L * *", zone: "UTC", note: "last day of month"),
    Case(expression: "0 0 * * 5#3", zone: "UTC", note: "third Friday"),
    Case(expression: "0 0 29 2 *", zone: "UTC", note: "pathological: Feb 29 (up to 8 years ahead)"),
    Case(expression: "0 0 * 2 1#5", zone: "UTC", note: "pathological: fifth Monday in February (up to 40 years)"),
]

func measure(_ body: (Int) -> Int, minimumSeconds: Double = 0.5) -> Double {
    var iterations = 1000
    while true {
        let clock = ContinuousClock()
        var sink = 0
        let elapsed = clock.measure { sink &+= body(iterations) }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if sink == 42 { print("") }  // keep the work observable
        if seconds >= minimumSeconds { return Double(iterations) / seconds }
        iterations *= seconds > 0.05 ? Int((minimumSeconds / seconds).rounded(.up)) : 10
    }
}

let start = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z
print("| expression | zone | case | next-fire computations/s |")
print("|---|---|---|---:|")
for c in cases {
    let schedule = CronSchedule(try CronExpression(parsing: c.expression), timeZone: TimeZone(identifier: c.zone)!)
    // Walk forward from varying instants, as a scheduler does, instead of asking the same question repeatedly.
    let rate = measure { n in
        var cursor = start
        var total = 0
        for i in 0..<n {
            let from = i % 64 == 0 ? start.addingTimeInterval(Double(i % 100_000) * 3_607) : cursor
            guard let next = schedule.nextFireDate(after: from) else { break }
            cursor = next < start.addingTimeInterval(3e9) ? next : start
            total &+= Int(next.timeIntervalSince1970)
        }
        return total
    }
    print("| `\(c.expression)` | \(c.zone) | \(c.note) | \(Int(rate).formatted()) |")
}

// Reference: Foundation's Calendar.nextDate for the same weekday-02:30 rule, what a naive engine would call.
var calendar = Calendar(identifier: .gregorian)
calendar.timeZone = TimeZone(identifier: "UTC")!
let foundationRate = measure(
    { n in
        var cursor = start
        var total = 0
        for _ in 0..<n {
            guard
                let next = calendar.nextDate(
                    after: cursor, matching: DateComponents(hour: 2, minute: 30), matchingPolicy: .nextTime)
            else { break }
            cursor = next
            total &+= Int(next.timeIntervalSince1970)
        }
        return total
    }, minimumSeconds: 0.3)
print(
    "| (reference) Foundation `Calendar.nextDate(after:matching:)`, 02:30 daily | UTC | what a Calendar-based engine costs | \(Int(foundationRate).formatted()) |"
)

let parseRate = measure { n in
    var total = 0
    for _ in 0..<n { total &+= (try? CronExpression(parsing: "0 9-17/2 * * MON-FRI"))?.source.count ?? 0 }
    return total
}
print(
    "| (parse) `0 9-17/2 * * MON-FRI` | – | parsing, including the can-it-ever-fire check | \(Int(parseRate).formatted()) |"
)
