import Foundation
import Testing

@testable import CronKit

struct TimestampTests {
    @Test(arguments: [
        ("2026-03-08T10:00:00Z", "America/Los_Angeles", "2026-03-08T03:00:00-07:00"),
        ("2026-03-08T09:59:59Z", "America/Los_Angeles", "2026-03-08T01:59:59-08:00"),
        ("2026-06-01T00:00:00+00:00", "UTC", "2026-06-01T00:00:00+00:00"),
        ("2026-06-01T00:00:00Z", "Asia/Kolkata", "2026-06-01T05:30:00+05:30"),
        ("2026-06-01T00:00:00Z", "America/St_Johns", "2026-05-31T21:30:00-02:30"),
        ("2026-01-01T00:00:00+0545", "Asia/Kathmandu", "2026-01-01T00:00:00+05:45"),
        ("2026-01-01 12:00:00-03", "UTC", "2026-01-01T15:00:00+00:00"),
        ("2026-01-01T12:00Z", "UTC", "2026-01-01T12:00:00+00:00"),
        ("2026-01-01T12:00:00.999Z", "UTC", "2026-01-01T12:00:00+00:00"),
        ("2026-01-01", "Europe/Paris", "2026-01-01T00:00:00+01:00"),
    ])
    func timestamp_roundTripsThroughZone(_ input: String, _ zone: String, _ expected: String) throws {
        let rules = try #require(ZoneRules.rules(forIdentifier: zone))
        let date = try #require(Date(parsing: input, defaultZone: rules))
        #expect(Timestamp.string(for: date, in: rules) == expected)
    }

    @Test(arguments: [
        "", "2026", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:00+25:00", "2026-01-01T00:00:00Q", "yesterday", "2026-01-01T00:00:00.Z", "2026-1-1",
    ])
    func timestamp_rejectsMalformedText(_ input: String) throws {
        let rules = try #require(ZoneRules.rules(forIdentifier: "UTC"))
        #expect(Date(parsing: input, defaultZone: rules) == nil)
    }

    @Test func timestamp_localTimeInGap_meansFirstInstantAfterIt() throws {
        let rules = try #require(ZoneRules.rules(forIdentifier: "America/New_York"))
        let date = try #require(Date(parsing: "2026-03-08T02:30:00", defaultZone: rules))
        #expect(Timestamp.string(for: date, in: rules) == "2026-03-08T03:00:00-04:00")
        let repeated = try #require(Date(parsing: "2026-11-01T01:30:00", defaultZone: rules))
        #expect(Timestamp.string(for: repeated, in: rules) == "2026-11-01T01:30:00-04:00")
    }

    @Test(arguments: [
        ("90s", 90.0), ("15m", 900), ("1h30m", 5400), ("2d", 172_800), ("500ms", 0.5), ("1d2h3m4s", 93_784),
        ("10S", 10),
    ])
    func duration_parsesEveryUnit(_ text: String, _ seconds: Double) throws {
        let duration = try Duration(parsing: text)
        let (whole, atto) = duration.components
        #expect(Double(whole) + Double(atto) / 1e18 == seconds)
    }

    @Test(arguments: [(90 as Int64, "1m30s"), (5400, "1h30m"), (86_400, "1d"), (0, "0s"), (3661, "1h1m1s")])
    func duration_formatsCompactly(_ seconds: Int64, _ text: String) {
        #expect(DurationFormatter.string(seconds: seconds) == text)
    }
}
