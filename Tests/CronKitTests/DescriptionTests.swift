import Testing

@testable import CronKit

struct DescriptionTests {
    static let cases: [(String, String)] = [
        ("30 2 * * 1-5", "At 02:30, Monday through Friday"),
        ("30 2 * * MON-FRI", "At 02:30, Monday through Friday"),
        ("0 9,17 * * *", "At 09:00 and 17:00"),
        ("* * * * *", "Every minute"),
        ("*/15 * * * *", "Every 15 minutes"),
        ("0 * * * *", "Every hour"),
        ("@hourly", "Every hour"),
        ("5 * * * *", "At minute 5 past every hour"),
        ("*/5 9-17 * * *", "Every 5 minutes, between 09:00 and 17:59"),
        ("0 */2 * * *", "At minute 0, every 2 hours"),
        ("0 0 1 1 *", "At 00:00, on day 1 of the month, only in January"),
        ("@daily", "At 00:00"),
        ("@weekly", "At 00:00, only on Sunday"),
        ("0 0 L * *", "At 00:00, on the last day of the month"),
        ("0 0 LW * *", "At 00:00, on the last weekday of the month"),
        ("0 0 15W * *", "At 00:00, on the weekday nearest day 15 of the month"),
        ("0 18 * * 5L", "At 18:00, on the last Friday of the month"),
        ("0 10 * * 1#2", "At 10:00, on the second Monday of the month"),
        ("0 0 13 * 5", "At 00:00, on day 13 of the month or on Friday"),
        ("0 0 */2 * MON", "At 00:00, on every 2nd day of the month and on Monday"),
        ("0 0 1,15 * *", "At 00:00, on days 1 and 15 of the month"),
        ("0 0 * 1-3 *", "At 00:00, in January through March"),
        ("*/10 * * * * *", "Every 10 seconds"),
        ("15 30 9 * * *", "At 09:30:15"),
        ("0 0,30 8 * * *", "At minutes 0 and 30, in hour 8"),
    ]

    @Test(arguments: cases)
    func englishDescription_readsAsPlainEnglish(_ expression: String, _ expected: String) throws {
        #expect(try CronExpression(parsing: expression).englishDescription == expected)
    }

    @Test func englishDescription_ofMacros() throws {
        #expect(try ScheduleExpression(parsing: "@every 90s").englishDescription == "Every 1m30s")
        #expect(try ScheduleExpression(parsing: "@reboot").englishDescription == "Once, when the daemon starts")
    }
}
