import Foundation
import Testing

@testable import CronKit

struct CronParsingTests {
    struct ErrorCase: CustomTestStringConvertible, Sendable {
        let text: String
        let code: CronParseError.Code
        let field: CronField?
        let token: String?
        let message: String
        var testDescription: String { "'\(text)'" }
    }

    static let errors: [ErrorCase] = [
        .init(text: "", code: .empty, field: nil, token: nil, message: "empty expression"),
        .init(text: "   ", code: .empty, field: nil, token: nil, message: "empty expression"),
        .init(
            text: "* * *", code: .fieldCount, field: nil, token: "* * *",
            message: "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got 3"),
        .init(
            text: "* * * * * * *", code: .fieldCount, field: nil, token: "* * * * * * *",
            message: "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got 7"),
        .init(
            text: "60 * * * *", code: .outOfRange, field: .minute, token: "60",
            message: "minute: 60 is out of range 0-59"),
        .init(
            text: "* 24 * * *", code: .outOfRange, field: .hour, token: "24", message: "hour: 24 is out of range 0-23"),
        .init(
            text: "* * 0 * *", code: .outOfRange, field: .dayOfMonth, token: "0",
            message: "day-of-month: 0 is out of range 1-31"),
        .init(
            text: "* * 32 * *", code: .outOfRange, field: .dayOfMonth, token: "32",
            message: "day-of-month: 32 is out of range 1-31"),
        .init(
            text: "* * * 13 *", code: .outOfRange, field: .month, token: "13", message: "month: 13 is out of range 1-12"
        ),
        .init(
            text: "* * * 0 *", code: .outOfRange, field: .month, token: "0", message: "month: 0 is out of range 1-12"),
        .init(
            text: "* * * * 8", code: .outOfRange, field: .dayOfWeek, token: "8",
            message: "day-of-week: 8 is out of range 0-7"),
        .init(
            text: "60 * * * * *", code: .outOfRange, field: .second, token: "60",
            message: "second: 60 is out of range 0-59"),
        .init(
            text: "1,2,99 * * * *", code: .outOfRange, field: .minute, token: "99",
            message: "minute: 99 is out of range 0-59"),
        .init(
            text: "0-60 * * * *", code: .outOfRange, field: .minute, token: "0-60",
            message: "minute: 60 is out of range 0-59"),
        .init(
            text: "* 5-1 * * *", code: .reversedRange, field: .hour, token: "5-1",
            message: "hour: range '5-1' is reversed (5 > 1)"),
        .init(
            text: "* * * * FRI-MON", code: .reversedRange, field: .dayOfWeek, token: "FRI-MON",
            message: "day-of-week: range 'FRI-MON' is reversed (5 > 1)"),
        .init(
            text: "*/0 * * * *", code: .zeroStep, field: .minute, token: "*/0",
            message: "minute: step 0 in '*/0' must be at least 1"),
        .init(
            text: "1-10/0 * * * *", code: .zeroStep, field: .minute, token: "1-10/0",
            message: "minute: step 0 in '1-10/0' must be at least 1"),
        .init(
            text: "*/x * * * *", code: .badStep, field: .minute, token: "*/x",
            message: "minute: step 'X' in '*/x' is not a number"),
        .init(
            text: "*/5/2 * * * *", code: .badStep, field: .minute, token: "*/5/2",
            message: "minute: '*/5/2' has more than one '/'"),
        .init(
            text: "* * * FOO *", code: .unknownName, field: .month, token: "FOO",
            message: "month: unknown month name 'FOO'"),
        .init(
            text: "* * * * MOO", code: .unknownName, field: .dayOfWeek, token: "MOO",
            message: "day-of-week: unknown day name 'MOO'"),
        .init(
            text: "* * * * monday", code: .unknownName, field: .dayOfWeek, token: "monday",
            message: "day-of-week: unknown day name 'MONDAY'"),
        .init(
            text: "abc * * * *", code: .malformed, field: .minute, token: "abc",
            message: "minute: 'ABC' is not a number"),
        .init(text: "1,,2 * * * *", code: .malformed, field: .minute, token: "", message: "minute: empty item in list"),
        .init(
            text: "? * * * *", code: .malformed, field: .minute, token: "?",
            message: "minute: '?' is allowed only in day-of-month and day-of-week"),
        .init(
            text: "* * * * L", code: .malformed, field: .dayOfWeek, token: "L",
            message: "day-of-week: 'L' needs a weekday before it, e.g. '5L' (last Friday)"),
        .init(
            text: "* * * * 1#6", code: .outOfRange, field: .dayOfWeek, token: "1#6",
            message: "day-of-week: #6 in '1#6' is out of range 1-5"),
        .init(
            text: "* * * * 1#0", code: .outOfRange, field: .dayOfWeek, token: "1#0",
            message: "day-of-week: #0 in '1#0' is out of range 1-5"),
        .init(
            text: "* * * * 9L", code: .outOfRange, field: .dayOfWeek, token: "9L",
            message: "day-of-week: 9 is out of range 0-7"),
        .init(
            text: "* * 32W * *", code: .outOfRange, field: .dayOfMonth, token: "32W",
            message: "day-of-month: 32 is out of range 1-31"),
        .init(
            text: "* * W * *", code: .malformed, field: .dayOfMonth, token: "W",
            message: "day-of-month: 'W' is missing a value"),
        .init(
            text: "1-2-3 * * * *", code: .malformed, field: .minute, token: "1-2-3",
            message: "minute: '1-2-3' is not a value, range or step"),
        .init(
            text: "5L * * * *", code: .malformed, field: .minute, token: "5L",
            message: "minute: '5L' is not valid here: L, W and # belong to the day fields"),
        .init(
            text: "-5 * * * *", code: .malformed, field: .minute, token: "-5",
            message: "minute: '-5' is missing a value"),
        .init(
            text: "@fortnightly", code: .unknownMacro, field: nil, token: "@fortnightly",
            message: "unknown macro '@fortnightly'"),
        .init(
            text: "0 0 30 2 *", code: .neverFires, field: .dayOfMonth, token: "30",
            message: "day-of-month: 30 never occurs in month 2: the expression can never fire"),
        .init(
            text: "0 0 31 4,6,9,11 *", code: .neverFires, field: .dayOfMonth, token: "31",
            message: "day-of-month: 31 never occurs in month 4,6,9,11: the expression can never fire"),
        .init(
            text: "0 0 30W FEB *", code: .neverFires, field: .dayOfMonth, token: "30W",
            message: "day-of-month: 30W never occurs in month FEB: the expression can never fire"),
        .init(
            text: "0 0 */40 * 1#2", code: .neverFires, field: .dayOfMonth, token: "*/40",
            message: "day-of-month: */40 never occurs in month *: the expression can never fire"),
    ]

    @Test(arguments: errors)
    func parse_rejectsMalformedExpression_namingFieldAndToken(_ c: ErrorCase) {
        #expect {
            _ = try CronExpression(parsing: c.text)
        } throws: { error in
            guard let error = error as? CronParseError else { return false }
            return error.code == c.code && error.field == c.field && error.token == c.token
                && error.description == c.message
        }
    }

    static let scheduleErrors: [(String, String)] = [
        ("@every", "'@every' needs a duration, e.g. '@every 90s'"),
        ("@every 0s", "'@every' needs an interval of at least 1s"),
        ("@every 10", "'10' needs a unit (s, m, h, d), e.g. 10s"),
        ("@every 5y", "unknown unit 'y' in '5y' (use ms, s, m, h, d)"),
        ("@every h", "'h' is not a duration (write e.g. 90s, 15m, 1h30m, 2d)"),
        ("@every 1h-5m", "unexpected '-' in duration '1h-5m'"),
        ("@everyday", "'@every' needs a duration, e.g. '@every 90s'"),
    ]

    @Test(arguments: scheduleErrors)
    func scheduleExpression_rejectsBadMacroArguments(_ text: String, _ message: String) {
        #expect {
            _ = try ScheduleExpression(parsing: text)
        } throws: { error in
            (error as? CronParseError)?.description == message
        }
    }

    static let valid: [String] = [
        "* * * * *", "0 0 * * *", "*/5 * * * *", "0 9-17 * * 1-5", "0 0 1,15 * *", "0 0 L * *", "0 0 LW * *",
        "0 0 15W * *", "0 0 * * 5L", "0 0 * * 1#3", "0 0 ? * MON",
        "0 0 * ? *".replacingOccurrences(of: "* ? *", with: "? * *"),
        "0 0 1 jan-mar *", "0 0 * * sun,SAT", "0 0 * * 0-7", "30 */2 * * * *", "0 0 29 2 *", "0 0 * * 7",
        "0 0 1 * * *", "\t0\t0 * * *  ", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
        "@hourly", "@Daily", "0 0 L,15 * *", "0 0 * * 1#1,5L", "0-59/59 * * * *", "*/100 * * * *",
    ]

    @Test(arguments: valid)
    func parse_acceptsEveryDocumentedForm(_ text: String) throws {
        let expression = try CronExpression(parsing: text)
        #expect(expression.source == text.trimmingWhitespace())
    }

    @Test func parse_sundayAsZeroAndSevenIsTheSameDay() throws {
        let zero = try CronExpression(parsing: "0 0 * * 0")
        let seven = try CronExpression(parsing: "0 0 * * 7")
        #expect(zero.dayOfWeekBits == 1 && seven.dayOfWeekBits == 1)
        let all = try CronExpression(parsing: "0 0 * * 0-7")
        #expect(all.dayOfWeekBits == 0b111_1111)
    }

    @Test func parse_fixedTimeFollowsDebianDefinition() throws {
        #expect(try CronExpression(parsing: "30 2 * * *").isFixedTime)
        #expect(try CronExpression(parsing: "0 1-5 * * *").isFixedTime)
        #expect(try CronExpression(parsing: "@daily").isFixedTime)
        #expect(try !CronExpression(parsing: "@hourly").isFixedTime)
        #expect(try !CronExpression(parsing: "*/5 2 * * *").isFixedTime)
        #expect(try !CronExpression(parsing: "0 */2 * * *").isFixedTime)
        #expect(try !CronExpression(parsing: "0 30 2 * * *").isFixedTime)
    }

    @Test func parse_stepThatDoesNotDivideRange_stopsAtRangeEnd() throws {
        let expression = try CronExpression(parsing: "*/25 * * * *")
        #expect(expression.minuteBits == (1 << 0 | 1 << 25 | 1 << 50))
        let hours = try CronExpression(parsing: "0 5/7 * * *")
        #expect(hours.hourBits == (1 << 5 | 1 << 12 | 1 << 19))
    }
}
