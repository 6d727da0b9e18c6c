import Foundation
import Testing

@testable import CronKit

/// ndscheduler's split cron fields, read with APScheduler 3's rules.
struct APSchedulerCronTests {
    @Test(
        arguments: [
            // Exchange 4 and 5 of the recorded ndscheduler API.
            (["minute": "*/5"], "*/5 * * * *"),
            (["month": "*", "day": "*", "day_of_week": "mon-fri", "hour": "9", "minute": "30"], "30 9 * * 1-5"),
            // Fields after the least significant one given take their minimum; those before stay '*'.
            (["hour": "9"], "0 9 * * *"),
            (["day_of_week": "sun"], "0 0 * * 0"),
            (["month": "6"], "0 0 1 6 *"),
            (["day": "15", "hour": "12"], "0 12 15 * *"),
            // 0 = Monday … 6 = Sunday; ranges and steps on that numbering; wrapping lists.
            (["day_of_week": "0", "minute": "0"], "0 * * * 1"),
            (["day_of_week": "5-6", "minute": "0"], "0 * * * 0,6"),
            (["day_of_week": "*/2", "minute": "0"], "0 * * * 0,1,3,5"),
            (["day_of_week": "mon,wed,fri", "minute": "0"], "0 * * * 1,3,5"),
            (["day_of_week": "mon-sun", "minute": "0"], "0 * * * *"),
            (["day": "last", "hour": "23", "minute": "59"], "59 23 L * *"),
            (["minute": "5/20"], "5/20 * * * *"),
        ] as [([String: String], String)])
    func translates(fields: [String: String], expected: String) throws {
        #expect(try APSchedulerCron(fields: fields).expression.source == expected)
    }

    @Test func dayAndWeekday_bothRestricted_mustBothMatch() throws {
        // APScheduler: the first seven days of the month AND a Monday = the first Monday. Vixie cron would OR.
        let cron = try APSchedulerCron(fields: ["day": "1-7", "day_of_week": "mon", "hour": "9", "minute": "0"])
        #expect(cron.expression.daysMatchBoth)
        let schedule = try #require(ScheduleExpression.cron(cron.expression).schedule(in: TimeZone(identifier: "UTC")!))
        let start = try #require(Date(parsing: "2026-01-01T00:00:00Z", defaultZone: .utc))
        let times = schedule.nextFireDates(after: start, count: 3).map { Timestamp.string(for: $0, in: .utc) }
        #expect(times == ["2026-01-05T09:00:00+00:00", "2026-02-02T09:00:00+00:00", "2026-03-02T09:00:00+00:00"])
        #expect(cron.expression.englishDescription.contains(" and "))
        // The same text read as Vixie cron ORs the days.
        let vixie = try CronExpression(parsing: cron.expression.source)
        #expect(!vixie.daysMatchBoth)
    }

    @Test(
        arguments: [
            (["minute": "abc"], "minute"),
            (["minute": "99"], "minute"),
            (["hour": "24"], "hour"),
            (["day_of_week": "7", "minute": "0"], "day_of_week"),
            (["day_of_week": "fri-mon", "minute": "0"], "day_of_week"),
            (["day_of_week": "mon/0", "minute": "0"], "day_of_week"),
            (["day": "2nd mon"], "day"),
            (["week": "3"], "week"),
            (["month": "13"], "month"),
            (["day": "30", "month": "2"], "day"),
            ([:], "schedule"),
        ] as [([String: String], String)])
    func rejects(fields: [String: String], field: String) {
        #expect {
            try APSchedulerCron(fields: fields)
        } throws: { error in
            (error as? APSchedulerCron.FieldError)?.field == field
        }
    }

    @Test func fieldsOfACronExpression_useAPSchedulerNames() throws {
        let fields = APSchedulerCron.fields(of: try CronExpression(parsing: "30 9 * * MON-FRI"))
        #expect(
            fields == ["minute": "30", "hour": "9", "day": "*", "month": "*", "week": "*", "day_of_week": "mon-fri"])
        #expect(APSchedulerCron.fields(of: try CronExpression(parsing: "0 0 * * 0,6"))["day_of_week"] == "sat,sun")
        #expect(APSchedulerCron.fields(of: try CronExpression(parsing: "0 0 L * *"))["day"] == "last")
        // Round trip: the fields read back give the same schedule.
        let back = try APSchedulerCron(fields: fields)
        #expect(back.expression.source == "30 9 * * 1-5")
    }
}
