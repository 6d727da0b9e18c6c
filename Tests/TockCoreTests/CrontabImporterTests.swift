import CronKit
import Foundation
import Testing

@testable import TockCore

/// A corpus of realistic crontabs, imported and read back as Tock would run them.
struct CrontabImporterTests {
    static let userCrontab = """
        # Edit this file to introduce tasks to be run by cron.
        # m h  dom mon dow   command
        SHELL=/bin/bash
        PATH = /usr/local/bin:/usr/bin:/bin
        MAILTO = "ops@example.com"
        BACKUP_DIR='/srv/backups with spaces'
        CRON_TZ=America/New_York
        RANDOM_DELAY=5

        # Nightly backup
        30 2 * * 1-5\t/usr/local/bin/backup.sh --full > /var/log/backup.log 2>&1
        */15 * * * * date +%Y-%m-%d >> /tmp/dates
        0 9 1 * * mail -s "monthly" ops@example.com%Hello ops,%%It is the first.%
        @reboot /usr/bin/start-thing
        0 0 13 * FRI echo friday the 13th or any friday
        5 4 31 * * echo escaped \\% percent
        MAILTO=""
        @hourly  /usr/bin/quiet-job   --flag
        61 * * * * broken line
        1 2 3
        0 12 * * SUN /usr/bin/quiet-job
        \(longLine)
        """

    /// A line of over 2,000 characters, as generated crontabs have.
    static let longLine =
        "0 3 * * * /usr/bin/env " + (1...300).map { "ARG\($0)=x" }.joined(separator: " ") + " /bin/true"

    static let systemCrontab = """
        # /etc/crontab: system-wide crontab
        SHELL=/bin/sh
        PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

        # Example of job definition:
        # m h dom mon dow user  command
        17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly
        25 6\t* * *\troot\ttest -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )
        47 6\t* * 7\troot\ttest -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.weekly )
        52 6\t1 * *\tnobody\ttest -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.monthly )
        @daily ghost /usr/local/bin/cleanup
        """

    let users: @Sendable (String) -> Bool = { ["root", "nobody"].contains($0) }

    @Test func userCrontab_keepsEveryMeaning() throws {
        let result = CrontabImporter.parse(Self.userCrontab, file: "my.cron", system: false, userExists: users)
        #expect(!result.systemFormat)
        let byID = Dictionary(uniqueKeysWithValues: result.jobs.map { ($0.id, $0) })
        #expect(
            result.jobs.map(\.id) == [
                "nightly-backup", "date", "mail-monthly", "start-thing", "echo-friday", "echo-escaped", "quiet-job",
                "quiet-job-2", "true",
            ])
        #expect(byID["true"]?.command == String(Self.longLine.dropFirst("0 3 * * * ".count)))
        #expect(Self.longLine.count > 2000)
        let backup = try #require(byID["nightly-backup"])
        #expect(
            backup.schedule == "30 2 * * 1-5"
                && backup.command == "/usr/local/bin/backup.sh --full > /var/log/backup.log 2>&1")
        #expect(backup.shell == "/bin/bash" && backup.timezone == "America/New_York" && backup.jitterMinutes == 5)
        #expect(backup.mailTo == "ops@example.com" && backup.line == 11)
        #expect(
            backup.environment.map { "\($0.name)=\($0.value)" } == [
                "PATH=/usr/local/bin:/usr/bin:/bin", "BACKUP_DIR=/srv/backups with spaces",
            ])
        let dates = try #require(byID["date"])
        #expect(dates.command == "date +" && dates.stdin == "Y-\nm-\nd >> /tmp/dates\n")
        let mail = try #require(byID["mail-monthly"])
        #expect(
            mail.command == "mail -s \"monthly\" ops@example.com" && mail.stdin == "Hello ops,\n\nIt is the first.\n")
        #expect(byID["echo-escaped"]?.command == "echo escaped % percent" && byID["echo-escaped"]?.stdin == nil)
        #expect(byID["quiet-job"]?.schedule == "@hourly" && byID["quiet-job"]?.command == "/usr/bin/quiet-job   --flag")
        #expect(byID["quiet-job"]?.mailTo == "", "MAILTO applies to the lines after it")
        #expect(byID["start-thing"]?.mailTo == "ops@example.com")

        #expect(
            result.errors.map(\.description) == [
                "my.cron:19: schedule '61 * * * *': minute: 61 is out of range 0-59",
                "my.cron:20: expected 5 schedule fields and a command",
            ])
        let warnings = result.warnings.map(\.description)
        #expect(warnings.contains { $0.hasPrefix("my.cron:12: an unescaped % ends the command") })
        #expect(warnings.contains { $0.hasPrefix("my.cron:13: an unescaped % ends the command") })
        #expect(!warnings.contains { $0.hasPrefix("my.cron:16: an unescaped %") }, "\\% is not a warning")
        #expect(
            warnings.contains(
                "my.cron:14: @reboot runs when tock serve starts (and restarts), not only when the machine boots"))
        #expect(warnings.contains { $0.hasPrefix("my.cron:15: day-of-month '13' and day-of-week 'FRI' are both set") })
        #expect(warnings.contains("my.cron:16: day 31 does not exist in every month: those months are skipped"))
    }

    @Test func systemCrontab_readsTheUserColumn_andDetectsIt() throws {
        let detected = CrontabImporter.parse(Self.systemCrontab, file: "crontab", userExists: users)
        #expect(detected.systemFormat)
        #expect(
            detected.warnings.first?.description
                == "crontab:1: read as a system crontab (a user column after the schedule)")
        #expect(detected.jobs.map(\.user) == ["root", "root", "root", "nobody", "ghost"])
        #expect(
            detected.jobs.map(\.id) == [
                "run-parts-cron-hourly", "test-anacron", "test-anacron-2", "test-anacron-3", "cleanup",
            ])
        #expect(detected.jobs[0].command == "cd / && run-parts --report /etc/cron.hourly")
        #expect(
            detected.warnings.map(\.description).contains("crontab:11: user 'ghost' does not exist on this machine"))
        let asUser = CrontabImporter.parse(Self.systemCrontab, file: "crontab", system: false, userExists: users)
        #expect(asUser.jobs.first?.command == "root    cd / && run-parts --report /etc/cron.hourly")
    }

    /// The written file is valid for Tock, and each job fires when the crontab line would.
    @Test(arguments: [(userCrontab, false), (systemCrontab, true)])
    func importedFile_validates_andFiresAtTheSameTimes(_ crontab: String, _ system: Bool) throws {
        let result = CrontabImporter.parse(crontab, file: "c", system: system, userExists: users)
        let toml = CrontabImporter.toml(result, source: "c")
        let (jobs, errors) = JobDefinitionReader.parse(toml, file: "imported.toml")
        #expect(errors.isEmpty, "\(errors)")
        #expect(jobs.count == result.jobs.count)
        let start = Date(timeIntervalSince1970: 1_767_225_600)
        for (imported, job) in zip(result.jobs, jobs) {
            #expect(job.id == imported.id)
            #expect(job.action == .command(imported.command, shell: imported.shell ?? "/bin/sh"))
            #expect(job.user == imported.user && job.stdin == imported.stdin && job.timezone == imported.timezone)
            #expect(!job.inheritEnvironment)
            #expect(
                job.environment
                    == Dictionary(imported.environment.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }))
            #expect(job.mailTo == (imported.mailTo?.isEmpty == true ? nil : imported.mailTo))
            guard job.parsedSchedule != .reboot else { continue }
            let zone = TimeZone(identifier: imported.timezone ?? "UTC")!
            let original = try ScheduleExpression(parsing: imported.schedule).schedule(in: zone)!
            let tock = job.parsedSchedule.schedule(in: zone)!
            #expect(tock.nextFireDates(after: start, count: 20) == original.nextFireDates(after: start, count: 20))
        }
    }

    @Test(arguments: [
        ("echo 100\\% done", "echo 100% done", nil as String?),
        ("cat%line1%line2", "cat", "line1\nline2\n"),
        ("cat%", "cat", "\n"),
        ("printf '\\\\n'", "printf '\\\\n'", nil),
        ("tr a b%a\\%b%", "tr a b", "a%b\n"),
    ])
    func percent_followsCronRules(_ text: String, _ command: String, _ stdin: String?) {
        let split = CrontabImporter.splitPercent(text)
        #expect(split.command == command && split.stdin == stdin)
    }

    @Test func toml_quotesEverythingSafely() throws {
        var result = CrontabImporter.Result()
        result.jobs = [
            .init(
                id: "weird", schedule: "@daily", command: "echo \"quoted\" \\ back\ttab", user: nil, shell: nil,
                environment: [.init(name: "A.B", value: "x\"y"), .init(name: "N", value: "line\nbreak")], mailTo: nil,
                timezone: nil, jitterMinutes: nil,
                stdin: "é\u{1}", file: "f", line: 1, originalLine: "x")
        ]
        let (jobs, errors) = JobDefinitionReader.parse(CrontabImporter.toml(result, source: "f"), file: "t.toml")
        #expect(errors.isEmpty, "\(errors)")
        #expect(jobs.first?.action == .command("echo \"quoted\" \\ back\ttab", shell: "/bin/sh"))
        #expect(jobs.first?.environment == ["A.B": "x\"y", "N": "line\nbreak"])
        #expect(jobs.first?.stdin == "é\u{1}")
    }
}
