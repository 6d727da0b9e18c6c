import CronKit
import Foundation
import Testing

@testable import TockCore

/// Odd lines of real crontabs (issue 20), each read as cron reads it: cronie's `src/env.c` (`load_env`),
/// `src/entry.c` (`load_entry`), `src/user.c` (`load_user`) and `src/cron.c` (`find_jobs`); Debian's cron agrees.
/// One odd line never costs the other jobs of the file, and the file written always validates.
struct CrontabOddLinesTests {
    let noUsers: @Sendable (String) -> Bool = { _ in false }

    /// Imports a user crontab and reads the written file back as Tock would.
    func imported(_ crontab: String, file: String = "c", system: Bool = false) -> (
        result: CrontabImporter.Result, jobs: [Job], errors: [JobFileError]
    ) {
        let result = CrontabImporter.parse(crontab, file: file, system: system, userExists: noUsers)
        let (jobs, errors) = JobDefinitionReader.parse(
            CrontabImporter.toml(result, source: file), file: "imported.toml")
        return (result, jobs, errors)
    }

    func commands(_ jobs: [Job]) -> [String] {
        jobs.map {
            if case .command(let text, _) = $0.action { return text }
            return "?"
        }
    }

    // MARK: 1. Control bytes

    /// A control byte inside a command (an old Unix crontab's `echo '<CR>'`) is part of the command to cron: it
    /// reaches the job, escaped in the TOML string, and the comment quoting the line never breaks the file.
    @Test(arguments: ["\r", "\u{1B}", "\u{07}", "\u{7F}", "\u{0B}", "\u{0C}", "\u{01}", "\u{1F}"])
    func controlByteInsideACommand_survivesIntoTheJob(_ byte: String) {
        let crontab =
            "0 2 * * * /usr/local/bin/roll-ledger\n30 3 * * * echo '\(byte)' > /var/adm/termlog\n0 4 * * * /bin/last\n"
        let (result, jobs, errors) = imported(crontab, file: "old.cron")
        #expect(result.errors.isEmpty)
        #expect(errors.isEmpty, "\(errors)")
        #expect(commands(jobs) == ["/usr/local/bin/roll-ledger", "echo '\(byte)' > /var/adm/termlog", "/bin/last"])
    }

    /// `\u0000` written as text (printf's own escape) is six characters, not a NUL: the comment quoting the line
    /// must not read as a TOML escape either.
    @Test func nulEscapeWrittenAsText_isKeptAsText() {
        let crontab = "15 7 * * * printf 'a\\u0000b\\n' > /tmp/x\n0 8 * * * printf '\\U00000000'\n"
        let (result, jobs, errors) = imported(crontab)
        #expect(result.errors.isEmpty)
        #expect(errors.isEmpty, "\(errors)")
        #expect(commands(jobs) == ["printf 'a\\u0000b\\n' > /tmp/x", "printf '\\U00000000'"])
    }

    /// A NUL byte ends the line for cron (its strings are C strings), so `echo safe<NUL>; rm -rf …` is not what the
    /// line says. Job files refuse a NUL: the line is reported and skipped, the rest imported.
    @Test(arguments: [
        "20 7 * * * echo safe\u{0}; rm -rf /tmp/important", "A=b\u{0}c", "\u{0}", "0 1 * * * /bin/x\u{0}",
    ])
    func lineWithANulByte_isReported_andTheRestImported(_ line: String) {
        let crontab = "0 2 * * * /bin/first\n\(line)\n0 4 * * * /bin/last\n"
        let (result, jobs, errors) = imported(crontab, file: "nul.cron")
        #expect(errors.isEmpty, "\(errors)")
        #expect(commands(jobs) == ["/bin/first", "/bin/last"])
        #expect(result.errors.count == 1)
        #expect(result.errors.first?.description.hasPrefix("nul.cron:2: a NUL byte at column ") == true)
        #expect(jobs.last?.environment == [:])
    }

    /// The source's name is quoted in a comment too: a file name with a newline or a control byte keeps the file
    /// valid.
    @Test(arguments: ["evil\nname", "tab\tand\u{1B}escape", "cr\rname", "text \\u0000 name"])
    func sourceNameWithControlBytes_keepsTheFileValid(_ name: String) {
        let result = CrontabImporter.parse("0 1 * * * /bin/x\n", file: name, system: false, userExists: noUsers)
        let (jobs, errors) = JobDefinitionReader.parse(CrontabImporter.toml(result, source: name), file: "t.toml")
        #expect(errors.isEmpty, "\(errors)")
        #expect(jobs.first?.description == "imported from \(name):1")
    }

    // MARK: 2. A last line without a newline

    /// cron never runs a last line without a final newline (crontab(1): "missing newline before EOF"; crond's
    /// `load_env` stops at EOF before the line is read as a job): imported disabled, with a warning saying why.
    @Test func lastLineWithoutNewline_isImportedDisabled_withAWarning() throws {
        let crontab = "*/10 * * * * ~/bin/sync-mail\n0 */2 * * * ~/bin/refresh-feeds"
        let (result, jobs, errors) = imported(crontab, file: "dot.cron")
        #expect(errors.isEmpty, "\(errors)")
        #expect(commands(jobs) == ["~/bin/sync-mail", "~/bin/refresh-feeds"])
        #expect(jobs.map(\.enabled) == [true, false])
        let warning = try #require(result.warnings.first { $0.line == 2 })
        #expect(
            warning.description.hasPrefix(
                "dot.cron:2: no newline at the end of the file: cron never runs this last line"))
        #expect(warning.message.contains("enabled = false"))
    }

    /// A last comment, blank or variable line without a newline runs nothing anyway: every job stays enabled. A
    /// last variable line makes Debian's cron ignore the whole file (its `load_user` bails out when `load_env`
    /// reaches the end with text read), which one warning says.
    @Test(arguments: [
        ("# end of file", false), ("   ", false), ("", false), ("MAILTO=ops@example.com", true),
    ])
    func lastLineWithoutNewline_thatIsNoJob_changesNothing(_ last: String, _ debianIgnoresTheFile: Bool) {
        let (result, jobs, errors) = imported("0 1 * * * /bin/x\n\(last)", file: "f")
        #expect(errors.isEmpty)
        #expect(jobs.map(\.enabled) == [true])
        #expect(!result.warnings.contains { $0.message.contains("cron never runs this last line") })
        #expect(jobs.first?.mailTo == nil, "cron never reads a last line without a newline")
        #expect(
            result.warnings.filter { $0.message.hasPrefix("Debian's and Ubuntu's cron ignore a whole file") }.map(
                \.line)
                == (debianIgnoresTheFile ? [2] : []))
    }

    /// Debian's cron ignores a whole file for one line it rejects; cronie skips the line. The import follows
    /// cronie and says so once, at the first such line.
    @Test func aRejectedLine_warnsOnceThatDebiansCronIgnoresTheWholeFile() {
        let crontab = "0 1 * * * /bin/first\n*/5 * * * * * * docker run x\nMAILTO=\"\"x\n0 2 * * * /bin/last\n"
        let (result, jobs, _) = imported(crontab, file: "f")
        #expect(commands(jobs) == ["/bin/first", "/bin/last"])
        #expect(
            result.warnings.filter { $0.message.hasPrefix("Debian's and Ubuntu's cron ignore a whole file") }.map(
                \.line)
                == [2])
        let clean = imported("0 1 * * * /bin/first\n", file: "f").result
        #expect(!clean.warnings.contains { $0.message.hasPrefix("Debian's") })
    }

    // MARK: 3. A command starting with `*`

    /// `*` right after the schedule is cron's "bad command" (entry.c: "catch a common typo"): a 6- or 7-field
    /// schedule pasted into a 5-field crontab. Importing it would run `* * docker run …`, which the shell globs.
    @Test(arguments: [
        "*/5 * * * * * * docker run --rm registry.example.com/cleaner:latest",
        "*/30 * * * * * /usr/local/bin/heartbeat",
        "@hourly * /usr/local/bin/rotate", "0 0 12 * * *\t/usr/bin/noon", "-*/5 * * * * * /bin/quiet",
    ])
    func commandStartingWithStar_isAMalformedLine(_ line: String) throws {
        let crontab = "0 4 * * * docker system prune -f\n\(line)\n15 4 * * * /usr/local/bin/report\n"
        let (result, jobs, errors) = imported(crontab, file: "docker.cron")
        #expect(errors.isEmpty, "\(errors)")
        #expect(commands(jobs) == ["docker system prune -f", "/usr/local/bin/report"])
        #expect(result.errors.count == 1)
        let error = try #require(result.errors.first)
        #expect(error.description.hasPrefix("docker.cron:2: "))
        #expect(error.message.contains("bad command"))
    }

    /// In the system format the character after the schedule is the user's: `*` there is cron's "bad command" too.
    @Test func systemFormat_userStartingWithStar_isAMalformedLine() {
        let crontab = "17 * * * * root /bin/hourly\n*/5 * * * * * root /bin/every-five-seconds\n"
        let (result, jobs, errors) = imported(crontab, file: "/etc/crontab", system: true)
        #expect(errors.isEmpty, "\(errors)")
        #expect(commands(jobs) == ["/bin/hourly"])
        #expect(result.errors.map(\.line) == [2])
        #expect(result.errors.first?.message.contains("bad command") == true)
    }

    // MARK: 4. Variable lines

    enum Expected: Sendable, CustomTestStringConvertible {
        /// A setting `name = value` (MAILTO is `mail_to`, others `env`).
        case setting(String, String)
        /// Neither a variable nor a job: an error at the line whose message contains this.
        case error(String)

        var testDescription: String {
            switch self {
            case .setting(let name, let value): "sets \(name)=\(value)"
            case .error(let text): "error: \(text)"
            }
        }
    }

    /// cronie's `load_env` grammar: a name (quoted or not), blanks around `=`, a value quoted or not; only blanks
    /// may follow a closing quote; an empty value must be quoted; an unquoted value keeps everything (a `#` too)
    /// but trailing blanks. A line that is neither a variable nor a job is reported and sets nothing.
    @Test(arguments: [
        ("MAILTO=\"\"garbage", Expected.error("after the closing quote")),
        ("MAILTO=\"\" # nobody", .error("after the closing quote")),
        ("MAILTO='ops@example.com", .error("closing quote")),
        ("MAILTO=", .error("empty value")),
        ("MAILTO =   ", .error("empty value")),
        ("\"MAIL=TO\"=x", .error("'=' inside a quoted name")),
        ("MAILTO = \"\"", .setting("MAILTO", "")),
        ("MAILTO=\"\"  \t", .setting("MAILTO", "")),
        ("\"LOG DIR\" = /var/log/fw", .setting("LOG DIR", "/var/log/fw")),
        ("'Q'='x'", .setting("Q", "x")),
        ("fw.mode=router", .setting("fw.mode", "router")),
        ("NOTE = keep # this hash", .setting("NOTE", "keep # this hash")),
        ("GREETING=  'hello  '   ", .setting("GREETING", "hello  ")),
        ("QUOTE=\"it's\"", .setting("QUOTE", "it's")),
        ("MIXED=x\"y\"", .setting("MIXED", "x\"y\"")),
        ("SPACED = a b  c \t", .setting("SPACED", "a b  c")),
        ("  INDENTED=1", .setting("INDENTED", "1")),
    ])
    func variableLines_followCronsGrammar(_ line: String, _ expected: Expected) throws {
        let crontab = "MAILTO=first@example.com\n\(line)\n0 1 * * * /sbin/fw-rotate\n"
        let (result, jobs, errors) = imported(crontab, file: "fw.cron")
        #expect(errors.isEmpty, "\(errors)")
        let job = try #require(jobs.first)
        #expect(commands(jobs) == ["/sbin/fw-rotate"])
        switch expected {
        case .setting("MAILTO", let value):
            #expect(result.errors.isEmpty)
            #expect(result.jobs.first?.mailTo == value)
            #expect(job.environment == [:])
        case .setting(let name, let value):
            #expect(result.errors.isEmpty)
            #expect(job.environment == [name: value])
            #expect(job.mailTo == "first@example.com")
        case .error(let text):
            #expect(result.errors.count == 1)
            let error = try #require(result.errors.first)
            #expect(error.description.hasPrefix("fw.cron:2: neither a variable nor a job: "))
            #expect(error.message.contains(text))
            #expect(job.mailTo == "first@example.com", "the line sets nothing")
            #expect(job.environment == [:])
        }
    }

    /// A variable with an empty name is accepted by cron and read by nothing: skipped, with a warning.
    @Test func variableWithAnEmptyName_isSkippedWithAWarning() {
        let (result, jobs, errors) = imported("=value\n\"\" = x\n0 1 * * * /bin/x\n", file: "f")
        #expect(errors.isEmpty, "\(errors)")
        #expect(result.errors.isEmpty)
        #expect(jobs.first?.environment == [:])
        #expect(result.warnings.filter { $0.message.hasPrefix("a variable with an empty name") }.map(\.line) == [1, 2])
    }

    // MARK: 5. TZ and CRON_TZ

    /// cron schedules by `CRON_TZ` only (cron.c `find_jobs`: `env_get("CRON_TZ", e->envp)`); `TZ` is just passed to
    /// the job. `CRON_TZ=""` is the daemon's own zone again.
    @Test func tz_goesToTheEnvironment_cronTZ_toTheTimezone() throws {
        let crontab = """
            TZ=Europe/Paris
            0 9 * * * /usr/bin/paris-local-date
            CRON_TZ=Asia/Tokyo
            0 9 * * * /usr/bin/tokyo-morning
            TZ=Not/A_Zone
            CRON_TZ=""
            0 9 * * * /usr/bin/default-zone

            """
        let (result, jobs, errors) = imported(crontab, file: "tz.cron")
        #expect(errors.isEmpty, "\(errors)")
        #expect(result.errors.isEmpty, "TZ is not a zone to check: it is only passed to the job")
        #expect(jobs.map(\.timezone) == [nil, "Asia/Tokyo", nil])
        #expect(
            jobs.map(\.environment) == [["TZ": "Europe/Paris"], ["TZ": "Europe/Paris"], ["TZ": "Not/A_Zone"]])
        // The Tokyo job fires at 09:00 in Tokyo, whatever TZ says.
        let tokyo = try #require(TimeZone(identifier: "Asia/Tokyo"))
        let next = jobs[1].parsedSchedule.schedule(in: tokyo)?.nextFireDates(
            after: Date(timeIntervalSince1970: 1_767_225_600), count: 1)
        #expect(next == [Date(timeIntervalSince1970: 1_767_225_600 + 24 * 3600)])
    }

    // MARK: Line ends

    /// A CRLF file: Swift reads `\r\n` as one Character, so the file must be split on `\n` scalars; the `\r` of
    /// each line is dropped, with one warning (cron would keep it as the last byte of each command).
    @Test func crlfLineEnds_areSplit_andTheCarriageReturnDropped_withAWarning() {
        let crontab =
            "# edited on Windows\r\nMAILTO=ops@example.com\r\n0 1 * * * /usr/bin/one\r\n0 2 * * * /usr/bin/two --flag\r\n"
        let (result, jobs, errors) = imported(crontab, file: "win.cron")
        #expect(errors.isEmpty, "\(errors)")
        #expect(commands(jobs) == ["/usr/bin/one", "/usr/bin/two --flag"])
        #expect(jobs.map(\.mailTo) == ["ops@example.com", "ops@example.com"])
        #expect(result.jobs.map(\.line) == [3, 4])
        #expect(result.warnings.contains { $0.line == 1 && $0.message.contains("CRLF") })
    }

    // MARK: The last guard

    /// Should the importer ever produce a job Tock's reader refuses, `checkedTOML` leaves out that job alone and
    /// reports it at its line: the other jobs are still written.
    @Test func checkedTOML_leavesOutOnlyAJobTheReaderRefuses() {
        func job(_ id: String, _ command: String, line: Int) -> CrontabImporter.ImportedJob {
            .init(
                id: id, schedule: "@daily", command: command, user: nil, shell: nil, environment: [], mailTo: nil,
                timezone: nil, jitterMinutes: nil, stdin: nil, file: "f", line: line, originalLine: command)
        }
        var result = CrontabImporter.Result()
        result.jobs = [
            job("first", "/bin/first", line: 1), job("bad", "a\u{0}b", line: 2), job("last", "/bin/x", line: 3),
        ]
        let text = CrontabImporter.checkedTOML(&result, source: "f")
        let (jobs, errors) = JobDefinitionReader.parse(text, file: "t.toml")
        #expect(errors.isEmpty, "\(errors)")
        #expect(jobs.map(\.id) == ["first", "last"])
        #expect(result.jobs.map(\.id) == ["first", "last"])
        #expect(result.errors.map(\.line) == [2])
        #expect(result.errors.first?.message.hasPrefix("not imported: Tock's reader refuses the job") == true)

        var clean = CrontabImporter.parse("0 1 * * * /bin/x\n", file: "c", system: false, userExists: noUsers)
        #expect(CrontabImporter.checkedTOML(&clean, source: "c") == CrontabImporter.toml(clean, source: "c"))
        #expect(clean.errors.isEmpty)
    }

    // MARK: Any line

    /// Whatever the lines hold, the written file validates and holds every imported job; each skipped line is
    /// reported at its own line.
    @Test func randomOddLines_neverBreakTheWrittenFile() {
        let pieces = [
            "*", "*/5", "0", "59", "1-5", "@daily", "@reboot", "@hourly", " ", " ", "\t", "=", "\"", "'", "%", "\\%",
            "\\", "#", "\r", "\u{1B}", "\u{7F}", "\u{0}", "\u{1}", "\\u0000", "\\U00000000", "MAILTO", "TZ", "CRON_TZ",
            "SHELL", "RANDOM_DELAY", "Europe/Paris", "echo", "root", "-", "é", "\u{301}", "\u{2028}", "\u{85}", "x",
        ]
        var generator = SplitMix(seed: 20)
        for round in 0..<300 {
            var lines: [String] = []
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                if Bool.random(using: &generator) {
                    lines.append(
                        "0 1 * * * echo " + (0..<3).map { _ in pieces.randomElement(using: &generator)! }.joined())
                } else {
                    lines.append(
                        (0..<Int.random(in: 1...9, using: &generator)).map { _ in
                            pieces.randomElement(using: &generator)!
                        }.joined())
                }
            }
            let text = lines.joined(separator: "\n") + (Bool.random(using: &generator) ? "\n" : "")
            let (result, jobs, errors) = imported(text, file: "r\(round)")
            #expect(errors.isEmpty, "round \(round): \(errors) for \(text.debugDescription)")
            #expect(jobs.count == result.jobs.count)
            #expect(result.errors.allSatisfy { $0.line >= 1 && $0.line <= lines.count })
        }
    }
}

/// A seeded generator, so a failing round can be run again.
struct SplitMix: RandomNumberGenerator {
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
