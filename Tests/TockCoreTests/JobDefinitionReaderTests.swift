import CronKit
import Foundation
import Testing

@testable import TockCore

struct JobDefinitionReaderTests {
    @Test func parse_readsEveryKey() throws {
        let text = """
            # nightly work
            [job.backup]
            schedule = "30 2 * * MON-FRI"
            command = "tar czf /tmp/x.tgz /etc"
            shell = "/bin/bash"
            name = "Nightly backup"
            description = "Backs up /etc"
            timezone = "Europe/Paris"
            working_dir = "/tmp"
            env = { PATH = "/usr/bin:/bin", LEVEL = "9" }
            inherit_env = false
            user = "nobody"
            stdin = "yes\\n"
            timeout = "1h30m"
            kill_grace = "5s"
            retries = 2
            retry_delay = "30s"
            retry_max_delay = "5m"
            overlap = "queue"
            catchup = "latest"
            catchup_window = "2d"
            jitter = "90s"
            max_output = "512KiB"
            enabled = false
            tags = ["backup", "nightly"]
            mail_to = "ops@example.com"
            on_failure = { webhook = "https://hooks.example.com/x", command = "logger failed" }
            on_success = { command = "logger ok" }

            [job.report]
            schedule = "@every 15m"
            exec = ["/usr/bin/env", "python3", "report.py"]
            """
        let (jobs, errors) = JobDefinitionReader.parse(text, file: "jobs.d/a.toml")
        #expect(errors.isEmpty, "\(errors)")
        try #require(jobs.count == 2)
        let job = jobs[0]
        #expect(job.id == "backup" && job.name == "Nightly backup" && job.description == "Backs up /etc")
        #expect(job.schedule == "30 2 * * MON-FRI")
        #expect(job.action == .command("tar czf /tmp/x.tgz /etc", shell: "/bin/bash"))
        #expect(job.timezone == "Europe/Paris" && job.workingDirectory == "/tmp")
        #expect(job.environment == ["PATH": "/usr/bin:/bin", "LEVEL": "9"] && !job.inheritEnvironment)
        #expect(job.user == "nobody" && job.stdin == "yes\n")
        #expect(job.timeout == .seconds(5400) && job.killGrace == .seconds(5))
        #expect(job.retry == RetryPolicy(retries: 2, delay: .seconds(30), maxDelay: .seconds(300)))
        #expect(job.overlap == .queue && job.catchup == .latest && job.catchupWindow == .seconds(172_800))
        #expect(job.jitter == .seconds(90) && job.maxOutput == 512 * 1024 && !job.enabled)
        #expect(job.tags == ["backup", "nightly"] && job.mailTo == "ops@example.com")
        #expect(job.onFailure == Notification(webhook: "https://hooks.example.com/x", command: "logger failed"))
        #expect(job.onSuccess == Notification(command: "logger ok"))
        #expect(job.source == .file(path: "jobs.d/a.toml", line: 2))
        let report = jobs[1]
        #expect(report.action == .exec(["/usr/bin/env", "python3", "report.py"]))
        #expect(report.parsedSchedule == .every(seconds: 900))
        #expect(report.name == "report" && report.maxOutput == 1 << 20 && report.overlap == .skip)
        #expect(report.source == .file(path: "jobs.d/a.toml", line: 30))
    }

    struct ErrorCase: CustomTestStringConvertible, Sendable {
        let text: String
        let errors: [String]
        var testDescription: String { errors.first ?? "" }
    }

    static let errorCases: [ErrorCase] = [
        .init(
            text: "[job.a]\nschedule = \"* * * * *\"\ncomand = \"x\"\ncommand = \"y\"",
            errors: ["f.toml:3: job 'a': comand: unknown key (did you mean 'command'?)"]),
        .init(
            text: "[job.a]\nschedule = \"61 * * * *\"\ncommand = \"x\"",
            errors: ["f.toml:2: job 'a': schedule: '61 * * * *': minute: 61 is out of range 0-59"]),
        .init(text: "[job.a]\ncommand = \"x\"", errors: ["f.toml:1: job 'a': needs 'schedule'"]),
        .init(text: "[job.a]\nschedule = \"@daily\"", errors: ["f.toml:1: job 'a': needs 'command' or 'exec'"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\ncommand = \"x\"\nexec = [\"y\"]",
            errors: ["f.toml:1: job 'a': has both 'command' and 'exec'; give exactly one"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\nexec = []",
            errors: ["f.toml:3: job 'a': exec: must name a program: [\"/path/to/program\", \"arg\", …]"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\nexec = [\"x\", 1]",
            errors: ["f.toml:3: job 'a': exec: must be an array of strings; found integer"]),
        .init(
            text: "[job.a]\nschedule = 5\ncommand = \"x\"",
            errors: ["f.toml:2: job 'a': schedule: must be a string, not integer"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\ncommand = \"x\"\ntimeout = \"5x\"",
            errors: ["f.toml:4: job 'a': timeout: unknown unit 'x' in '5x' (use ms, s, m, h, d)"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\ncommand = \"x\"\ntimeout = \"0s\"",
            errors: ["f.toml:4: job 'a': timeout: must be longer than 0s"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\ncommand = \"x\"\nmax_output = \"lots\"",
            errors: ["f.toml:4: job 'a': max_output: 'lots' is not a size (write e.g. 512KiB, 1MiB)"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\ncommand = \"x\"\noverlap = \"never\"",
            errors: ["f.toml:4: job 'a': overlap: 'never' is not one of skip, allow, queue, replace"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\ncommand = \"x\"\ncatchup = \"some\"",
            errors: ["f.toml:4: job 'a': catchup: 'some' is not one of skip, latest, all"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\ncommand = \"x\"\ntimezone = \"Mars/Base\"",
            errors: [
                "f.toml:4: job 'a': timezone: unknown time zone 'Mars/Base' (use an IANA name such as Europe/Paris)"
            ]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\ncommand = \"x\"\nretries = \"3\"",
            errors: ["f.toml:4: job 'a': retries: must be a whole number, not string"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\ncommand = \"x\"\nretries = -1",
            errors: ["f.toml:4: job 'a': retries: -1 is out of range 0-100"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\ncommand = \"x\"\nenabled = \"yes\"",
            errors: ["f.toml:4: job 'a': enabled: must be true or false, not string"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\ncommand = \"x\"\n\n[job.a.env]\nN = 1",
            errors: ["f.toml:6: job 'a': env.N: must be a string"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\ncommand = \"x\"\non_failure = { url = \"x\" }",
            errors: ["f.toml:4: job 'a': on_failure: unknown key 'url' (expected notify, webhook, command, mail)"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\"\nexec = [\"x\"]\nshell = \"/bin/bash\"",
            errors: ["f.toml:4: job 'a': shell: applies to 'command' only; 'exec' runs without a shell"]),
        .init(
            text: "[job.\"bad id\"]\nschedule = \"@daily\"\ncommand = \"x\"",
            errors: ["f.toml:1: job 'bad id': the id may only contain letters, digits, '_', '.' and '-'"]),
        .init(
            text: "[jobs.a]\nschedule = \"@daily\"",
            errors: ["f.toml:1: unknown top-level key 'jobs': jobs are tables named [job.ID]"]),
        .init(
            text: "[job.a]\nschedule = \"@daily\ncommand = \"x\"",
            errors: [
                "f.toml:2: TOML: Error while parsing string: unescaped control characters other than TAB (U+0009) are explicitly prohibited"
            ]),
    ]

    @Test(arguments: errorCases)
    func parse_reportsProblemsWithFileAndLine(_ c: ErrorCase) {
        let (jobs, errors) = JobDefinitionReader.parse(c.text, file: "f.toml")
        #expect(jobs.isEmpty, "a file with problems yields no job")
        #expect(Set(errors.map(\.description)) == Set(c.errors))
    }

    @Test func parse_oneBadJob_disablesItsWholeFileButReportsEveryProblem() {
        let text =
            "[job.good]\nschedule = \"@daily\"\ncommand = \"x\"\n\n[job.bad]\nschedule = \"@nope\"\ncommand = \"x\"\ntimeout = \"soon\""
        let (jobs, errors) = JobDefinitionReader.parse(text, file: "f.toml")
        #expect(jobs.isEmpty)
        #expect(errors.map(\.line) == [6, 8])
    }

    @Test func directory_brokenFileDisablesOnlyItsOwnJobs_andDuplicatesNameBothFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tock-jobs-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "[job.one]\nschedule = \"@daily\"\ncommand = \"true\"\n".write(
            to: dir.appendingPathComponent("a.toml"), atomically: true, encoding: .utf8)
        try "[job.two]\nschedule = \"99 * * * *\"\ncommand = \"true\"\n".write(
            to: dir.appendingPathComponent("b.toml"), atomically: true, encoding: .utf8)
        try "\n[job.one]\nschedule = \"@hourly\"\ncommand = \"true\"\n".write(
            to: dir.appendingPathComponent("c.toml"), atomically: true, encoding: .utf8)
        try "not a job file".write(to: dir.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        let loaded = JobDirectory.load(dir.path)
        #expect(loaded.jobs.map(\.id) == ["one"])
        #expect(loaded.job("one")?.schedule == "@daily")
        #expect(loaded.files.map { ($0 as NSString).lastPathComponent } == ["a.toml", "b.toml", "c.toml"])
        #expect(
            loaded.errors.map(\.description) == [
                "\(dir.path)/b.toml:2: job 'two': schedule: '99 * * * *': minute: 99 is out of range 0-59",
                "\(dir.path)/c.toml:2: job 'one' is already defined in \(dir.path)/a.toml:1",
            ])
    }

    @Test func attemptRequest_layersEnvironment() throws {
        var job = Job(id: "env-job", schedule: .reboot, action: .command("env", shell: "/bin/bash"))
        job.environment = ["PATH": "/opt/bin", "EXTRA": "1"]
        let scheduled = Date(timeIntervalSince1970: 1_767_225_600)
        let inherited = job.attemptRequest(
            executionID: "e1", scheduledTime: scheduled, daemonEnvironment: ["HOME": "/root", "PATH": "/usr/bin"])
        #expect(
            inherited.environment == [
                "HOME": "/root", "PATH": "/opt/bin", "EXTRA": "1", "TOCK_JOB_ID": "env-job", "TOCK_EXECUTION_ID": "e1",
                "TOCK_SCHEDULED_TIME": "2026-01-01T00:00:00+00:00",
            ])
        job.inheritEnvironment = false
        job.environment = [:]
        job.user = "nobody"
        let minimal = job.attemptRequest(
            executionID: "e2", scheduledTime: scheduled, daemonEnvironment: ["SECRET": "x"])
        #expect(minimal.environment["SECRET"] == nil)
        #expect(minimal.environment["PATH"] == "/usr/bin:/bin" && minimal.environment["SHELL"] == "/bin/bash")
        #expect(minimal.environment["USER"] == "nobody" && minimal.environment["LOGNAME"] == "nobody")
        #expect(minimal.environment["HOME"] == "/nonexistent")
        #expect(minimal.program == .shell(command: "env", shell: "/bin/bash"))
    }

    @Test(arguments: [
        ("512KiB", 524_288), ("1MiB", 1_048_576), ("1000", 1000), ("64KB", 64_000), ("2GiB", 2_147_483_648),
        ("1 MiB", 1_048_576),
    ])
    func byteSize_parsesUnits(_ text: String, _ bytes: Int) {
        #expect(ByteSize(parsing: text)?.bytes == bytes)
    }

    @Test(arguments: ["", "MiB", "1.5MiB", "1XB", "-1"])
    func byteSize_rejectsMalformed(_ text: String) {
        #expect(ByteSize(parsing: text) == nil)
    }
}
