import Foundation
import Testing

@testable import CronKit

/// Formats fire times the way `tock next` prints them, so expectations read like its output.
func fireTimes(_ expression: String, tz: String = "UTC", from: String, count: Int) throws -> [String] {
    let rules = try #require(ZoneRules.rules(forIdentifier: tz), "unknown zone \(tz)")
    let start = try #require(Date(parsing: from, defaultZone: rules), "bad --from \(from)")
    let parsed = try ScheduleExpression(parsing: expression)
    let schedule = try #require(parsed.schedule(in: rules.timeZone))
    return schedule.nextFireDates(after: start, count: count).map { Timestamp.string(for: $0, in: rules) }
}

/// A tiny deterministic random generator (SplitMix64), so generated cases are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One expected run of fire times.
struct FireCase: CustomTestStringConvertible, Sendable {
    let expression: String
    let tz: String
    let from: String
    let expected: [String]
    init(_ expression: String, tz: String = "UTC", from: String, _ expected: [String]) {
        self.expression = expression
        self.tz = tz
        self.from = from
        self.expected = expected
    }
    var testDescription: String { "'\(expression)' in \(tz) after \(from)" }
}
