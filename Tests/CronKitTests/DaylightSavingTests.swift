import Testing

@testable import CronKit

/// Debian cron's DST rules (SPEC §2): fixed-time jobs run once — after a gap, at the first of a repeated
/// hour; everything else follows real time. Transition times checked with GNU `date` against tzdata.
struct DaylightSavingTests {
    static let cases: [FireCase] = [
        // America/New_York 2026: 03-08 02:00 EST -> 03:00 EDT; 11-01 02:00 EDT -> 01:00 EST.
        FireCase(
            "30 2 * * *", tz: "America/Los_Angeles", from: "2026-03-07T12:00:00-08:00",
            ["2026-03-08T03:00:00-07:00", "2026-03-09T02:30:00-07:00"]),
        FireCase(
            "30 2 * * *", tz: "America/New_York", from: "2026-03-07T12:00:00-05:00",
            ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]),
        FireCase(
            "0 2 * * *", tz: "America/New_York", from: "2026-03-07T12:00:00-05:00",
            ["2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"]),
        FireCase(
            "0,30 2 * * *", tz: "America/New_York", from: "2026-03-07T12:00:00-05:00",
            ["2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00", "2026-03-09T02:30:00-04:00"]),
        FireCase(
            "0,30 2,3 * * *", tz: "America/New_York", from: "2026-03-08T00:00:00-05:00",
            ["2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:00:00-04:00"]),
        FireCase(
            "*/30 * * * *", tz: "America/New_York", from: "2026-03-08T01:00:00-05:00",
            ["2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"]),
        FireCase(
            "30 2 * * * *", tz: "America/New_York", from: "2026-03-08T01:30:00-05:00", ["2026-03-08T03:02:30-04:00"]),
        FireCase(
            "0 30 2 * * *", tz: "America/New_York", from: "2026-03-07T12:00:00-05:00", ["2026-03-09T02:30:00-04:00"]),
        FireCase("* 2 * * *", tz: "America/New_York", from: "2026-03-08T00:00:00-05:00", ["2026-03-09T02:00:00-04:00"]),
        FireCase(
            "30 1 * * *", tz: "America/New_York", from: "2026-10-31T12:00:00Z",
            ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]),
        FireCase(
            "0 * * * *", tz: "America/New_York", from: "2026-11-01T00:30:00-04:00",
            ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"]),
        FireCase(
            "@hourly", tz: "America/New_York", from: "2026-11-01T00:30:00-04:00",
            ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"]),
        FireCase(
            "*/20 1 * * *", tz: "America/New_York", from: "2026-11-01T00:30:00-04:00",
            [
                "2026-11-01T01:00:00-04:00", "2026-11-01T01:20:00-04:00", "2026-11-01T01:40:00-04:00",
                "2026-11-01T01:00:00-05:00", "2026-11-01T01:20:00-05:00", "2026-11-01T01:40:00-05:00",
                "2026-11-02T01:00:00-05:00",
            ]),
        FireCase(
            "15 1 * * *", tz: "America/New_York", from: "2026-11-01T01:30:00-04:00", ["2026-11-02T01:15:00-05:00"]),
        FireCase(
            "15 1 * * *", tz: "America/New_York", from: "2026-11-01T01:10:00-05:00", ["2026-11-02T01:15:00-05:00"]),
        FireCase(
            "15 1 * * *", tz: "America/New_York", from: "2026-11-01T01:10:00-04:00",
            ["2026-11-01T01:15:00-04:00", "2026-11-02T01:15:00-05:00"]),
        FireCase(
            "0 30 1 * * *", tz: "America/New_York", from: "2026-11-01T00:00:00-04:00",
            ["2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-02T01:30:00-05:00"]),
        FireCase(
            "0 1-2 * * *", tz: "America/New_York", from: "2026-11-01T00:00:00-04:00",
            ["2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-02T01:00:00-05:00"]),
        // Europe/London 2026: 03-29 01:00 GMT -> 02:00 BST; 10-25 02:00 BST -> 01:00 GMT.
        FireCase(
            "30 1 * * *", tz: "Europe/London", from: "2026-03-28T12:00:00Z",
            ["2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00"]),
        FireCase(
            "30 1 * * *", tz: "Europe/London", from: "2026-10-24T12:00:00Z",
            ["2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00+00:00"]),
        FireCase(
            "*/30 1 * * *", tz: "Europe/London", from: "2026-10-25T00:00:00+01:00",
            [
                "2026-10-25T01:00:00+01:00", "2026-10-25T01:30:00+01:00", "2026-10-25T01:00:00+00:00",
                "2026-10-25T01:30:00+00:00",
            ]),
        // Australia/Sydney (southern hemisphere) 2026: 04-05 03:00 AEDT -> 02:00 AEST; 10-04 02:00 AEST -> 03:00 AEDT.
        FireCase(
            "30 2 * * *", tz: "Australia/Sydney", from: "2026-10-03T12:00:00+10:00",
            ["2026-10-04T03:00:00+11:00", "2026-10-05T02:30:00+11:00"]),
        FireCase(
            "30 2 * * *", tz: "Australia/Sydney", from: "2026-04-04T12:00:00+11:00",
            ["2026-04-05T02:30:00+11:00", "2026-04-06T02:30:00+10:00"]),
        FireCase(
            "0 * * * *", tz: "Australia/Sydney", from: "2026-04-05T01:30:00+11:00",
            ["2026-04-05T02:00:00+11:00", "2026-04-05T02:00:00+10:00", "2026-04-05T03:00:00+10:00"]),
        // Australia/Lord_Howe shifts by 30 minutes: 04-05 02:00 (+11) -> 01:30 (+10:30); 10-04 02:00 -> 02:30.
        FireCase(
            "15 2 * * *", tz: "Australia/Lord_Howe", from: "2026-10-03T12:00:00+10:30",
            ["2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"]),
        FireCase(
            "*/15 * * * *", tz: "Australia/Lord_Howe", from: "2026-10-04T01:30:00+10:30",
            ["2026-10-04T01:45:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-04T02:45:00+11:00"]),
        FireCase(
            "45 1 * * *", tz: "Australia/Lord_Howe", from: "2026-04-04T12:00:00Z",
            ["2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"]),
        FireCase(
            "*/15 1 * * *", tz: "Australia/Lord_Howe", from: "2026-04-05T00:59:00+11:00",
            [
                "2026-04-05T01:00:00+11:00", "2026-04-05T01:15:00+11:00", "2026-04-05T01:30:00+11:00",
                "2026-04-05T01:45:00+11:00", "2026-04-05T01:30:00+10:30", "2026-04-05T01:45:00+10:30",
                "2026-04-06T01:00:00+10:30",
            ]),
        // America/Santiago changes at midnight: 09-06 00:00 -04 -> 01:00 -03; 04-05 00:00 -03 -> 04-04 23:00 -04.
        FireCase(
            "0 0 * * *", tz: "America/Santiago", from: "2026-09-05T12:00:00Z",
            ["2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00"]),
        FireCase(
            "@daily", tz: "America/Santiago", from: "2026-04-03T12:00:00Z",
            ["2026-04-04T00:00:00-03:00", "2026-04-05T00:00:00-04:00"]),
        FireCase(
            "30 23 * * *", tz: "America/Santiago", from: "2026-04-04T12:00:00Z",
            ["2026-04-04T23:30:00-03:00", "2026-04-05T23:30:00-04:00"]),
        FireCase(
            "*/30 23 * * *", tz: "America/Santiago", from: "2026-04-04T22:00:00-03:00",
            [
                "2026-04-04T23:00:00-03:00", "2026-04-04T23:30:00-03:00", "2026-04-04T23:00:00-04:00",
                "2026-04-04T23:30:00-04:00",
            ]),
        // Pacific/Chatham: +12:45 -> +13:45 on 2026-09-27 at 02:45.
        FireCase(
            "0 3 * * *", tz: "Pacific/Chatham", from: "2026-09-26T12:00:00+12:45",
            ["2026-09-27T03:45:00+13:45", "2026-09-28T03:00:00+13:45"]),
        // A monthly job on a DST day behaves like a daily one.
        FireCase(
            "30 2 8 3 *", tz: "America/New_York", from: "2026-01-01T00:00:00Z",
            ["2026-03-08T03:00:00-04:00", "2027-03-08T02:30:00-05:00"]),
    ]

    @Test(arguments: cases)
    func nextFire_followsDebianDaylightSavingRules(_ c: FireCase) throws {
        #expect(try fireTimes(c.expression, tz: c.tz, from: c.from, count: c.expected.count) == c.expected)
    }

    @Test func nextFire_realTimeJobInSpringForwardGap_neverFires() throws {
        // The minute field starts with '*', so this is not a fixed-time job: 02:xx does not exist on 03-08.
        let times = try fireTimes("*/5 2 * * *", tz: "America/New_York", from: "2026-03-08T00:00:00-05:00", count: 2)
        #expect(times == ["2026-03-09T02:00:00-04:00", "2026-03-09T02:05:00-04:00"])
    }
}
