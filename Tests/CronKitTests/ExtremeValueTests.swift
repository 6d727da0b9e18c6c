import Foundation
import Testing

@testable import CronKit

/// Values from the far end of every range: durations that overflow 64 bits, intervals of centuries, years past
/// 9999. Each must give an error naming the token or a correct answer — never a trap.
struct ExtremeValueTests {
    @Test(arguments: [
        "999999999999999999m", "9223372036854775807s", "9223372036854775808s", "10000000000000s",
        "1000000000000000000000000000000s", "36501d", "36500d1s", "99999999999999999999999999ms", "106751991167300d",
        "2562047788015215h", "153722867280912930m", "1d1d1d99999999999999999d",
    ])
    func durations_tooLong_areErrorsNamingTheToken(_ text: String) throws {
        let error = #expect(throws: DurationParseError.self) { try Duration(parsing: text) }
        #expect(error?.token == text, "\(String(describing: error))")
        #expect(error?.message.contains("too long") == true, "\(String(describing: error))")
    }

    @Test func durations_atTheBound_andWithLeadingZeros_areAccepted() throws {
        #expect(try Duration(parsing: "36500d") == .seconds(36_500 * 86_400))
        #expect(try Duration(parsing: "0000000000000000000000001s") == .seconds(1))
        #expect(try Duration(parsing: "1h30m") == .seconds(5400))
        #expect(try Duration(parsing: "1500ms") == .milliseconds(1500))
    }

    @Test(arguments: ["-1s", "1e400s", "0x10s", "1.5h", "\u{0}1s", "1s\u{0}", "ſ1s", "１s"])
    func durations_malformed_areErrors(_ text: String) throws {
        #expect(throws: DurationParseError.self) { try Duration(parsing: text) }
    }

    @Test(arguments: ["@every 10000000000000s", "@every 999999999999999999m", "@every 9223372036854775807s"])
    func everyWithAnOverflowingInterval_isAnError(_ text: String) throws {
        let error = #expect(throws: CronParseError.self) { try ScheduleExpression(parsing: text) }
        #expect(error?.code == .badDuration)
    }

    @Test func everyAtTheBound_firesACenturyLater_withoutTrapping() throws {
        let expression = try ScheduleExpression(parsing: "@every 36500d")
        let schedule = try #require(expression.schedule(in: TimeZone(identifier: "UTC")!))
        let start = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01
        let next = try #require(schedule.nextFireDate(after: start))
        let rules = try #require(ZoneRules.rules(forIdentifier: "UTC"))
        #expect(Timestamp.string(for: next, in: rules) == "2125-12-08T00:00:00+00:00")
    }

    @Test func yearsPastFourDigits_printEveryDigit() throws {
        let rules = try #require(ZoneRules.rules(forIdentifier: "UTC"))
        // 10000-01-01T00:00:00Z and 12345-06-07T08:09:10Z.
        #expect(
            Timestamp.string(for: Date(timeIntervalSince1970: 253_402_300_800), in: rules)
                == "10000-01-01T00:00:00+00:00")
        #expect(
            Timestamp.string(for: Date(timeIntervalSince1970: 327_416_976_550), in: rules, microseconds: true)
                == "12345-06-07T08:09:10+00:00")
        #expect(
            Timestamp.string(for: Date(timeIntervalSince1970: 253_402_300_799), in: rules)
                == "9999-12-31T23:59:59+00:00")
    }

    @Test func cronFromTheYear9999_givesFiveDigitYears() throws {
        let expression = try CronExpression(parsing: "0 0 1 1 *")
        let schedule = CronSchedule(expression, timeZone: TimeZone(identifier: "UTC")!)
        let rules = try #require(ZoneRules.rules(forIdentifier: "UTC"))
        let next = try #require(schedule.nextFireDate(after: Date(timeIntervalSince1970: 253_402_300_799)))
        #expect(Timestamp.string(for: next, in: rules) == "10000-01-01T00:00:00+00:00")
    }
}
