import ArgumentParser
import CronKit
import Foundation

/// `tock next EXPR [--tz ZONE] [--from ISO8601] [-n COUNT] [--describe]`
struct NextCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "next",
        abstract: "Print the next fire times of a schedule.",
        discussion: """
            EXPR is a 5- or 6-field cron expression or a macro (@daily, @every 90s, …); quote it.
            Times are printed one per line in ZONE with a numeric offset, strictly after --from.
            An invalid expression prints one line naming the field and the token, and exits with status 2.
            """
    )

    @Argument(help: "The schedule, e.g. '30 2 * * MON-FRI'. Several words are joined with spaces.")
    var expression: [String]

    @Option(name: .customLong("tz"), help: "IANA time zone of the schedule and of the output.")
    var timeZone = "UTC"

    @Option(
        name: .customLong("from"), help: "Start instant, ISO 8601 (default: now). Without an offset it is read in --tz."
    )
    var from: String?

    @Option(name: .customShort("n"), help: "How many fire times to print.")
    var count = 5

    @Flag(help: "Print a plain-English description of the schedule first.")
    var describe = false

    func run() throws {
        guard let rules = ZoneRules.rules(forIdentifier: timeZone) else {
            fail("unknown time zone '\(timeZone)'")
        }
        guard (0...100_000).contains(count) else { fail("-n must be between 0 and 100000, got \(count)") }
        var start = Date()
        if let from {
            guard let parsed = Date(parsing: from, defaultZone: rules) else {
                fail("--from: '\(from)' is not an ISO 8601 time such as 2026-03-08T00:00:00-08:00")
            }
            start = parsed
        }
        let parsed: ScheduleExpression
        do {
            parsed = try ScheduleExpression(parsing: expression.joined(separator: " "))
        } catch {
            fail(error.description)
        }
        if describe { print(parsed.englishDescription) }
        guard let schedule = parsed.schedule(in: rules.timeZone) else {
            // @reboot has no fire times to list.
            if !describe { print("@reboot: once, when the daemon starts") }
            return
        }
        var output = ""
        for date in schedule.nextFireDates(after: start, count: count) {
            output += Timestamp.string(for: date, in: rules) + "\n"
        }
        print(output, terminator: "")
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("tock next: \(message)\n".utf8))
        Foundation.exit(2)
    }
}
