import CronKit
import Foundation
import Testing

@testable import TockCore

/// Real-shaped crontab files with odd lines (`CrontabCorpus/`, bytes kept as they are: see `.gitattributes`), one
/// per case of issue 20. For each: the written file validates, every job line but the odd ones is imported with
/// the command cron would run, each odd line is reported at its FILE:LINE, and every job fires when cron would.
struct CrontabCorpusTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var file: String
        /// The commands imported, in order.
        var commands: [String]
        /// The lines reported as errors (nothing imported for them).
        var errorLines: [Int]
        /// The commands imported with `enabled = false`.
        var disabled: [String] = []
        var testDescription: String { file }
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "CrontabCorpus")

    static func text(_ file: String) throws -> String {
        String(decoding: try Data(contentsOf: directory.appendingPathComponent(file)), as: UTF8.self)
    }

    static let cases: [Case] = [
        Case(
            file: "control-bytes.crontab",
            commands: [
                "/usr/local/bin/roll-ledger", "echo '\r' > /var/adm/termlog",
                "printf 'batch late\u{07}\\n' > /dev/console",
                "echo '\u{1B}[1mDaily report\u{1B}[0m' | mail -s report ops",
                "tr -d '\u{7F}' < /var/adm/modemlog > /var/adm/modemlog.clean",
                "printf 'a\\u0000b\\n' > /tmp/escape-as-text", "/usr/local/bin/after-the-odd-lines",
            ],
            errorLines: [16]),
        Case(
            file: "missing-final-newline.crontab",
            commands: ["~/bin/sync-mail", "~/bin/backup-notes", "~/bin/refresh-feeds"], errorLines: [],
            disabled: ["~/bin/refresh-feeds"]),
        Case(
            file: "seven-fields.crontab", commands: ["docker system prune -f", "/usr/local/bin/report"],
            errorLines: [4, 6, 7]),
        Case(file: "odd-variables.crontab", commands: ["/sbin/fw-rotate"], errorLines: [3, 7, 8, 9]),
        Case(
            file: "timezones.crontab",
            commands: ["/usr/bin/paris-local-date", "/usr/bin/tokyo-morning", "/usr/bin/default-zone"], errorLines: []),
        Case(file: "crlf-line-ends.crontab", commands: ["/usr/bin/one", "/usr/bin/two --flag"], errorLines: []),
    ]

    @Test(arguments: cases)
    func corpusFile_importsEveryOtherJob_andReportsTheOddLines(_ expected: Case) throws {
        let text = try Self.text(expected.file)
        let result = CrontabImporter.parse(text, file: expected.file, system: false, userExists: { _ in false })
        let (jobs, errors) = JobDefinitionReader.parse(
            CrontabImporter.toml(result, source: expected.file), file: "imported.toml")
        #expect(errors.isEmpty, "\(errors)")
        #expect(jobs.count == result.jobs.count)
        #expect(result.jobs.map(\.command) == expected.commands)
        #expect(
            jobs.map { job -> String in
                if case .command(let text, _) = job.action { return text }
                return "?"
            } == expected.commands)
        #expect(result.errors.map(\.line) == expected.errorLines)
        for error in result.errors {
            #expect(error.description.hasPrefix("\(expected.file):\(error.line): "))
        }
        #expect(zip(jobs, result.jobs).filter { !$0.0.enabled }.map(\.1.command) == expected.disabled)

        let start = Date(timeIntervalSince1970: 1_767_225_600)
        for (imported, job) in zip(result.jobs, jobs) where job.parsedSchedule != .reboot {
            let zone = try #require(TimeZone(identifier: imported.timezone ?? "UTC"))
            let original = try #require(try ScheduleExpression(parsing: imported.schedule).schedule(in: zone))
            let tock = try #require(job.parsedSchedule.schedule(in: zone))
            #expect(tock.nextFireDates(after: start, count: 20) == original.nextFireDates(after: start, count: 20))
        }
    }

    @Test func controlBytes_theNulLineIsNamed_andTheNextJobKeepsItsOwnName() throws {
        let result = CrontabImporter.parse(
            try Self.text("control-bytes.crontab"), file: "control-bytes.crontab", system: false,
            userExists: { _ in false })
        #expect(
            result.errors.map(\.description) == [
                "control-bytes.crontab:16: a NUL byte at column 21: cron reads the line only up to it, and a job file cannot hold one; not imported"
            ])
        #expect(result.jobs.first?.mailTo == "billing@example.com")
        #expect(result.jobs.map(\.id).first == "roll-the-ledger")
        #expect(result.jobs.last?.id == "after-the-odd-lines", "the comment above the skipped line names no other job")
    }

    @Test func missingFinalNewline_warnsAtTheLastLine() throws {
        let result = CrontabImporter.parse(
            try Self.text("missing-final-newline.crontab"), file: "dotfiles", system: false, userExists: { _ in false })
        #expect(
            result.warnings.map(\.description).contains(
                "dotfiles:8: no newline at the end of the file: cron never runs this last line (cronie drops it, Debian's cron ignores the file, crontab(1) refuses it: \"missing newline before EOF\"); imported with enabled = false"
            ))
        #expect(result.jobs.map(\.enabled) == [true, true, false])
        #expect(result.jobs.allSatisfy { $0.shell == "/bin/bash" && $0.mailTo == "me@example.com" })
    }

    @Test func sevenFields_eachStarCommandIsCronsBadCommand() throws {
        let result = CrontabImporter.parse(
            try Self.text("seven-fields.crontab"), file: "root", system: false, userExists: { _ in false })
        #expect(
            result.errors.map(\.description) == [
                "root:4: the command starts with '*': cron rejects the line (\"bad command\"); a schedule of 6 or 7 fields (seconds, years) pasted into a 5-field crontab? Not imported",
                "root:6: the command starts with '*': cron rejects the line (\"bad command\"); a schedule of 6 or 7 fields (seconds, years) pasted into a 5-field crontab? Not imported",
                "root:7: the command starts with '*': cron rejects the line (\"bad command\"); a schedule of 6 or 7 fields (seconds, years) pasted into a 5-field crontab? Not imported",
            ])
        #expect(result.jobs.map(\.id) == ["docker-system", "report"])
        #expect(result.jobs.allSatisfy { $0.mailTo == "" })
    }

    @Test func oddVariables_onlyCronsVariablesAreSettings() throws {
        let result = CrontabImporter.parse(
            try Self.text("odd-variables.crontab"), file: "fw", system: false, userExists: { _ in false })
        #expect(
            result.errors.map(\.description) == [
                "fw:3: neither a variable nor a job: text after the closing quote of the value (cron allows only blanks there)",
                "fw:7: neither a variable nor a job: text after the closing quote of the value (cron allows only blanks there)",
                "fw:8: neither a variable nor a job: the closing quote of the value is missing",
                "fw:9: neither a variable nor a job: an empty value must be written in quotes (EMPTY=\"\")",
            ])
        let job = try #require(result.jobs.first)
        #expect(job.mailTo == "ops@example.com")
        #expect(
            job.environment.map { "\($0.name)=\($0.value)" } == [
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LOG DIR=/var/log/fw", "fw.mode=router", "EMPTY_OK=",
                "NOTE=keep # this hash", "QUOTED=  padded  ",
            ])
    }

    @Test func timezones_tzIsEnvironment_cronTZIsTheSchedulesZone() throws {
        let result = CrontabImporter.parse(
            try Self.text("timezones.crontab"), file: "tz", system: false, userExists: { _ in false })
        #expect(result.jobs.map(\.timezone) == [nil, "Asia/Tokyo", nil])
        #expect(
            result.jobs.map { $0.environment.map { "\($0.name)=\($0.value)" } } == [
                ["TZ=Europe/Paris"], ["TZ=Europe/Paris"], ["TZ=Not/A_Zone"],
            ])
    }

    @Test func crlf_warnsOnce() throws {
        let result = CrontabImporter.parse(
            try Self.text("crlf-line-ends.crontab"), file: "win", system: false, userExists: { _ in false })
        #expect(
            result.warnings.map(\.description).filter { $0.contains("CRLF") } == [
                "win:1: CRLF line ends: cron keeps each line's \\r as the last byte of its command, which the shell reads as part of the last word; the import drops it"
            ])
    }
}
