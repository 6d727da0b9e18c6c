import Foundation
import Logging
import Testing
import TockCore
import TockJSON
import TockSQLite
import TockTesting

/// The delivery worker against real receivers: a Python Standard Webhooks server that checks signatures itself,
/// `/bin/sh` command hooks, a stand-in `sendmail` script; a real SQLite outbox.
@Suite(.timeLimit(.minutes(2)))
struct NotificationDeliveryTests {
    let directory: URL
    let store: SQLiteJobStore

    init() throws {
        directory = try NotificationTestSupport.temporaryDirectory()
        store = try SQLiteJobStore(path: directory.appendingPathComponent("tock.sqlite").path)
    }

    /// Short delays so that three attempts take a fraction of a second.
    func settings(_ configure: (inout NotificationSettings) -> Void = { _ in }) -> NotificationSettings {
        var settings = NotificationSettings()
        settings.retryDelays = [.zero, .milliseconds(200), .milliseconds(200), .milliseconds(200)]
        settings.host = "db1.example.com"
        configure(&settings)
        return settings
    }

    /// Plans the deliveries of `record`, writes them with it, runs the worker until `done`.
    func deliver(
        _ job: Job, _ record: ExecutionRecord, settings: NotificationSettings, logger: Logger? = nil,
        until done: @escaping ([NotificationDelivery]) -> Bool
    ) async throws -> [NotificationDelivery] {
        let deliveries = await NotificationPlanner(settings: settings).deliveries(
            for: record, job: job, store: store, at: Date())
        try await store.save([record], enqueuing: deliveries)
        let worker = NotificationDeliveryService(
            outbox: store, settings: settings, logger: logger ?? NotificationTestSupport.quietLogger)
        let task = Task { try await worker.run() }
        defer { task.cancel() }
        var last: [NotificationDelivery] = []
        try await eventually("deliveries done", timeout: .seconds(30)) {
            last = try await store.deliveries(matching: NotificationQuery(executionID: record.id))
            return done(last)
        }
        return last
    }

    @Test func webhook_500Twice_then200_isThreeAttemptsOfOneSignedEvent() async throws {
        let receiver = try NotificationTestSupport.Receiver(
            statuses: [500, 500, 200], directory: directory, secret: NotificationTestSupport.secret)
        let job = try NotificationTestSupport.job(
            "[job.backup]\nschedule = \"30 2 * * *\"\ncommand = \"backup\"\non_failure = { notify = [\"pager\"] }\n")
        var pager = NotifierConfiguration(name: "pager", webhook: receiver.url)
        pager.secret = NotificationTestSupport.secret
        let record = NotificationTestSupport.record(job, state: .failed, exitCode: 2, stderr: "disk full\n", attempt: 3)
        let result = try await deliver(job, record, settings: settings { $0.notifiers["pager"] = pager }) {
            $0.first?.state == .delivered
        }
        let delivery = try #require(result.first)
        #expect(delivery.attempts == 3 && delivery.lastStatus == 200 && delivery.deliveredAt != nil)
        let requests = receiver.requests
        #expect(requests.count == 3)
        #expect(requests.map { $0["status"] as? Int } == [500, 500, 200])
        #expect(Set(requests.compactMap { $0["webhook_id"] as? String }) == ["evt_\(record.id)_failed"])
        #expect(requests.allSatisfy { $0["verified"] as? Bool == true }, "signature recomputed by the receiver")
        #expect(requests.allSatisfy { $0["content_type"] as? String == "application/json" })
        let body = try #require(requests.last?["body"] as? String)
        let event = try JSONValue.parse(Array(body.utf8))
        #expect(event["type"]?.stringValue == "execution.failed")
        #expect(event["id"]?.stringValue == "evt_\(record.id)_failed")
        #expect(event["text"]?.stringValue == "backup failed on db1.example.com: exit 2 after 3 attempts (41 s)")
        #expect(event["execution"]?["execution_id"]?.stringValue == record.id)
        #expect(event["output"]?["stderr_tail"]?.stringValue == "disk full\n")
        #expect(event["consecutive_failures"] == .int(1))
    }

    @Test func webhook_410_abandons_andRedirectsAreNotFollowed() async throws {
        let gone = try NotificationTestSupport.Receiver(
            statuses: [410], directory: directory, secret: NotificationTestSupport.secret)
        let moved = try NotificationTestSupport.Receiver(
            statuses: [301, 200], directory: directory, secret: NotificationTestSupport.secret)
        let job = try NotificationTestSupport.job(
            """
            [job.j]
            schedule = "@daily"
            command = "x"
            on_failure = { webhook = "\(gone.url)" }
            on_success = { webhook = "\(moved.url)" }
            """)
        let failed = try await deliver(job, NotificationTestSupport.record(job, state: .timeout), settings: settings())
        {
            $0.first?.state.isFinal == true
        }
        #expect(failed.first?.state == .abandoned && failed.first?.attempts == 1 && failed.first?.lastStatus == 410)
        #expect(gone.requests.count == 1)
        // The success after the failure is also a recovery, which goes to on_failure's target (410 again).
        let succeeded = try await deliver(
            job, NotificationTestSupport.record(job, state: .succeeded, exitCode: 0), settings: settings()
        ) { $0.count == 2 && $0.allSatisfy(\.state.isFinal) }
        let success = try #require(succeeded.first { $0.eventType == "execution.succeeded" })
        #expect(success.state == .delivered && success.attempts == 2)
        #expect(succeeded.first { $0.eventType == "execution.recovered" }?.state == .abandoned)
        #expect(moved.requests.map { $0["path"] as? String } == ["/hook", "/hook"], "the Location was never followed")
    }

    @Test func aReceiverThatHangs_doesNotHoldUpTheOthers() async throws {
        let hanging = try NotificationTestSupport.Receiver(
            statuses: [0], directory: directory, secret: NotificationTestSupport.secret)
        let prompt = try NotificationTestSupport.Receiver(
            statuses: [200], directory: directory, secret: NotificationTestSupport.secret)
        var slow = NotifierConfiguration(name: "slow", webhook: hanging.url)
        slow.timeout = .seconds(5)
        let job = try NotificationTestSupport.job(
            "[job.j]\nschedule = \"@daily\"\ncommand = \"x\"\non_failure = { notify = [\"slow\", \"fast\"] }\n")
        let record = NotificationTestSupport.record(job, state: .failed)
        var slowAttemptsWhenFastWasDelivered: Int?
        let result = try await deliver(
            job, record,
            settings: settings {
                $0.notifiers = ["slow": slow, "fast": NotifierConfiguration(name: "fast", webhook: prompt.url)]
            }
        ) { list in
            if slowAttemptsWhenFastWasDelivered == nil,
                list.contains(where: { $0.target == "notifier:fast" && $0.state == .delivered })
            {
                slowAttemptsWhenFastWasDelivered = list.first { $0.target == "notifier:slow" }?.attempts
            }
            return list.contains { $0.target == "notifier:slow" && $0.attempts >= 1 }
        }
        #expect(slowAttemptsWhenFastWasDelivered == 0, "delivered while the other receiver still hangs")
        let timedOut = try #require(result.first { $0.target == "notifier:slow" })
        #expect(timedOut.lastStatus == nil && timedOut.state != .delivered)
        #expect(timedOut.lastError?.contains("within 5.0 s") == true || timedOut.lastError == "timed out")
    }

    @Test func slackAndTeamsFormats_andOutputLeftOut() async throws {
        let slack = try NotificationTestSupport.Receiver(
            statuses: [200], directory: directory, secret: NotificationTestSupport.secret)
        let teams = try NotificationTestSupport.Receiver(
            statuses: [200], directory: directory, secret: NotificationTestSupport.secret)
        var slackNotifier = NotifierConfiguration(name: "slack", webhook: slack.url)
        slackNotifier.format = .slack
        var teamsNotifier = NotifierConfiguration(name: "teams", webhook: teams.url)
        teamsNotifier.format = .teams
        let job = try NotificationTestSupport.job(
            "[job.j]\nschedule = \"@daily\"\ncommand = \"x\"\non_failure = { notify = [\"slack\", \"teams\"] }\n")
        let record = NotificationTestSupport.record(job, state: .failed, stdout: "secret output")
        _ = try await deliver(
            job, record,
            settings: settings {
                $0.notifiers = ["slack": slackNotifier, "teams": teamsNotifier]
            }
        ) { $0.count == 2 && $0.allSatisfy { $0.state == .delivered } }
        let slackBody = try #require(slack.requests.first?["body"] as? String)
        #expect(slackBody == #"{"text":"j failed on db1.example.com: exit 1 (41 s)"}"#)
        let teamsBody = try JSONValue.parse(Array(try #require(teams.requests.first?["body"] as? String).utf8))
        #expect(teamsBody["type"]?.stringValue == "message")
        let card = teamsBody["attachments"]?.arrayFirst?["content"]
        #expect(card?["type"]?.stringValue == "AdaptiveCard")
        #expect(slack.requests.first?["verified"] as? Bool == false, "no secret, no signature")
    }

    @Test func commandHook_getsTheEventOnStdin_andItsEnvironment() async throws {
        let out = directory.appendingPathComponent("hook")
        let job = try NotificationTestSupport.job(
            """
            [job.nightly]
            schedule = "@daily"
            command = "x"
            on_failure = { command = "cat > \(out.path).stdin; env | grep ^TOCK_ | sort > \(out.path).env; echo $$ > \(out.path).pid" }
            """)
        let record = NotificationTestSupport.record(job, state: .failed, exitCode: 7)
        let result = try await deliver(job, record, settings: settings()) { $0.first?.state == .delivered }
        #expect(result.first?.channel == .command && result.first?.lastStatus == 0)
        let env = try String(contentsOf: URL(fileURLWithPath: out.path + ".env"), encoding: .utf8)
        #expect(env.contains("TOCK_EVENT=execution.failed\n"))
        #expect(env.contains("TOCK_JOB_ID=nightly\n"))
        #expect(env.contains("TOCK_EXECUTION_ID=\(record.id)\n"))
        #expect(env.contains("TOCK_STATE=failed\n"))
        #expect(env.contains("TOCK_EXIT_CODE=7\n"))
        let stdin = try Data(contentsOf: URL(fileURLWithPath: out.path + ".stdin"))
        let event = try JSONValue.parse(Array(stdin))
        #expect(event["id"]?.stringValue == "evt_\(record.id)_failed")
        // Its own process group, as every job's: the hook's pid is its group's id.
        let pid = try #require(
            Int32(
                try String(contentsOf: URL(fileURLWithPath: out.path + ".pid"), encoding: .utf8).trimmingCharacters(
                    in: .whitespacesAndNewlines)))
        #expect(pid > 0)
    }

    @Test func commandHook_thatFails_isRetried_thenAbandoned() async throws {
        let job = try NotificationTestSupport.job(
            "[job.j]\nschedule = \"@daily\"\ncommand = \"x\"\non_failure = { command = \"echo nope >&2; exit 3\" }\n")
        let result = try await deliver(job, NotificationTestSupport.record(job, state: .failed), settings: settings()) {
            $0.first?.state == .abandoned
        }
        #expect(result.first?.attempts == 4, "one per retry delay")
        #expect(result.first?.lastStatus == 3 && result.first?.lastError == "command exited with status 3")
        #expect(result.first?.responseExcerpt == "nope\n")
    }

    /// A stand-in for sendmail: records its argv and its stdin.
    func standInSendmail() throws -> (path: String, argv: URL, stdin: URL) {
        let path = directory.appendingPathComponent("sendmail").path
        let argv = directory.appendingPathComponent("sendmail.argv")
        let stdin = directory.appendingPathComponent("sendmail.stdin")
        try "#!/bin/sh\nprintf '%s\\n' \"$0\" \"$@\" > '\(argv.path)'\ncat > '\(stdin.path)'\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return (path, argv, stdin)
    }

    @Test func mailTo_sendsCronsMail_headerByHeader() async throws {
        let sendmail = try standInSendmail()
        let job = try NotificationTestSupport.job(
            """
            [job.report]
            schedule = "0 6 * * *"
            command = "/usr/local/bin/report --daily"
            mail_to = "ops@example.com,dba@example.com"
            env = { MAILFROM = "cron@example.com", CONTENT_TYPE = "text/html;\\n charset=utf-8", API_KEY = "s3cret" }
            """)
        let record = NotificationTestSupport.record(job, state: .failed, stdout: "42 rows\n", stderr: "warning: slow\n")
        let result = try await deliver(job, record, settings: settings { $0.mailer = sendmail.path }) {
            $0.first?.state == .delivered
        }
        #expect(result.first?.channel == .mail && result.first?.eventType == "execution.output")
        // cronie: `sendmail -FCronDaemon -i -odi -oem -oi -t -f MAILFROM` (src/do_command.c, MAILFMT/MAILARG).
        let argv = try String(contentsOf: sendmail.argv, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(argv == [sendmail.path, "-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "cron@example.com"])
        let message = try String(contentsOf: sendmail.stdin, encoding: .utf8)
        let parts = message.components(separatedBy: "\n\n")
        let headers = parts[0].split(separator: "\n").map(String.init)
        let user = String(cString: getpwuid(geteuid()).pointee.pw_name)
        // cronie's headers, in cronie's order (From, To, Subject, Content-Type, Auto-Submitted), then Tock's own.
        #expect(headers[0] == "From: cron@example.com (Cron Daemon)")
        #expect(headers[1] == "To: ops@example.com,dba@example.com")
        #expect(headers[2] == "Subject: Cron <\(user)@db1> /usr/local/bin/report --daily", "host up to the first dot")
        #expect(headers[3] == "Content-Type: text/html;  charset=utf-8", "CONTENT_TYPE with its newline blanked")
        #expect(headers[4] == "Auto-Submitted: auto-generated")
        #expect(headers[5...].allSatisfy { $0.hasPrefix("X-Tock-") }, "no X-Cron-Env: the env holds secrets")
        #expect(!message.contains("s3cret"))
        #expect(message.hasSuffix("\n\n42 rows\n\n[stderr]\nwarning: slow\n"))
    }

    @Test func mailTo_onlyWhenTheRunPrinted_andNeverToAnUnsafeAddress() async throws {
        let sendmail = try standInSendmail()
        let quiet = try NotificationTestSupport.job(
            "[job.quiet]\nschedule = \"@daily\"\ncommand = \"true\"\nmail_to = \"ops@example.com\"\n")
        let unsafe = try NotificationTestSupport.job(
            "[job.unsafe]\nschedule = \"@daily\"\ncommand = \"x\"\nmail_to = \"ops@example.com, x@y\"\n")
        let planner = NotificationPlanner(settings: settings { $0.mailer = sendmail.path })
        #expect(
            await planner.deliveries(
                for: NotificationTestSupport.record(quiet, state: .succeeded, exitCode: 0), job: quiet, store: store,
                at: Date()
            ).isEmpty, "no output, no mail — whatever the exit status")
        #expect(
            await planner.deliveries(
                for: NotificationTestSupport.record(quiet, state: .failed, exitCode: 1), job: quiet, store: store,
                at: Date()
            ).isEmpty)
        #expect(
            await planner.deliveries(
                for: NotificationTestSupport.record(unsafe, state: .succeeded, stdout: "x"), job: unsafe, store: store,
                at: Date()
            ).isEmpty, "cronie's safe_p refuses a blank in MAILTO")
    }

    @Test func missingMailer_isRetried_andReportedOnce() async throws {
        let logged = SQLiteJobStoreTests.LoggedErrors()
        let job = try NotificationTestSupport.job(
            "[job.j]\nschedule = \"@daily\"\ncommand = \"x\"\nmail_to = \"ops@example.com\"\n")
        let settings = settings { $0.mailer = directory.appendingPathComponent("no-sendmail").path }
        let first = NotificationTestSupport.record(job, state: .succeeded, stdout: "a")
        let second = NotificationTestSupport.record(job, state: .succeeded, stdout: "b")
        let planner = NotificationPlanner(settings: settings)
        try await store.save(
            [first, second],
            enqueuing: await planner.deliveries(for: first, job: job, store: store, at: Date())
                + planner.deliveries(for: second, job: job, store: store, at: Date()))
        let worker = NotificationDeliveryService(
            outbox: store, settings: settings, logger: Logger(label: "test") { _ in logged })
        let task = Task { try await worker.run() }
        defer { task.cancel() }
        try await eventually("both abandoned") {
            try await store.deliveries(matching: NotificationQuery(state: .abandoned)).count == 2
        }
        let rows = try await store.deliveries(matching: NotificationQuery())
        #expect(rows.allSatisfy { $0.attempts == 4 && $0.lastError?.hasPrefix("no mailer at ") == true })
        #expect(logged.entries.filter { $0["mailer"] != nil }.count == 1, "reported once, not per delivery")
    }
}

extension JSONValue {
    fileprivate var arrayFirst: JSONValue? {
        if case .array(let items) = self { return items.first }
        return nil
    }
}

/// `max_per_hour`: a flood of events to one notifier is held back, then summed up once an hour later.
@Suite(.timeLimit(.minutes(1)))
struct FloodControlTests {
    @Test func overTheLimit_heldBack_thenOneSummary() async throws {
        let directory = try NotificationTestSupport.temporaryDirectory()
        let store = try SQLiteJobStore(path: directory.appendingPathComponent("tock.sqlite").path)
        // A command notifier: each event it receives is one line of JSON in `received`.
        let received = directory.appendingPathComponent("received").path
        var settings = NotificationSettings()
        settings.host = "db1"
        settings.maxInFlight = 1  // one hook at a time: their lines never interleave
        var ops = NotifierConfiguration(name: "ops", command: "cat >> \(received); echo >> \(received)")
        ops.maxPerHour = 2
        settings.notifiers["ops"] = ops
        let job = try NotificationTestSupport.job(
            "[job.flappy]\nschedule = \"* * * * *\"\ncommand = \"x\"\non_failure = { notify = [\"ops\"] }\n")
        let planner = NotificationPlanner(settings: settings)
        let clock = ManualWallClock(now: Date(timeIntervalSince1970: 1_796_000_000))
        for _ in 0..<5 {
            let record = NotificationTestSupport.record(job, state: .failed)
            let deliveries = await planner.deliveries(for: record, job: job, store: store, at: clock.now)
            try await store.save([record], enqueuing: deliveries)
        }
        let worker = NotificationDeliveryService(
            outbox: store, settings: settings, clock: clock, logger: NotificationTestSupport.quietLogger)
        let task = Task { try await worker.run() }
        defer { task.cancel() }
        func states() async throws -> [String] {
            try await store.deliveries(matching: NotificationQuery(jobID: "flappy")).map(\.state.rawValue).sorted()
        }
        func events() throws -> [JSONValue] {
            let text = (try? String(contentsOfFile: received, encoding: .utf8)) ?? ""
            return try text.split(separator: "\n").map { try JSONValue.parse(Array($0.utf8)) }
        }
        try await eventually("two sent, three held back") {
            try await states() == ["delivered", "delivered", "suppressed", "suppressed", "suppressed"]
        }
        let held = try #require(
            try await store.deliveries(matching: NotificationQuery(state: .suppressed)).first)
        #expect(held.lastError?.contains("max_per_hour") == true)
        #expect(try events().count == 2)

        clock.advance(by: 3600)
        try await eventually("the summary is delivered", timeout: .seconds(60)) { try events().count == 3 }
        let event = try #require(try events().last)
        #expect(event["type"]?.stringValue == "notifications.suppressed")
        #expect(event["suppressed"]?["count"] == .int(3))
        #expect(event["suppressed"]?["by_type"]?["execution.failed"] == .int(3))
        #expect(event["text"]?.stringValue?.hasPrefix("Tock on db1 held back 3 notifications to notifier:ops") == true)

        // A new hour: events go through again.
        let record = NotificationTestSupport.record(job, state: .failed)
        try await store.save(
            [record], enqueuing: await planner.deliveries(for: record, job: job, store: store, at: clock.now))
        worker.wake()
        try await eventually("sent again") { try events().count == 4 }
        #expect(try events().last?["type"]?.stringValue == "execution.failed")
    }
}

/// A receiver that hangs holds at most `maxInFlightPerTarget` of the worker's slots, even under a flood of events
/// to it: the others' deliveries go on.
@Suite(.timeLimit(.minutes(1)))
struct HangingReceiverFloodTests {
    @Test func aFloodToAHangingReceiver_leavesSlotsForTheOthers() async throws {
        let directory = try NotificationTestSupport.temporaryDirectory()
        let store = try SQLiteJobStore(path: directory.appendingPathComponent("tock.sqlite").path)
        let hanging = try NotificationTestSupport.Receiver(
            statuses: [0], directory: directory, secret: NotificationTestSupport.secret)
        let prompt = try NotificationTestSupport.Receiver(
            statuses: [200], directory: directory, secret: NotificationTestSupport.secret)
        var settings = NotificationSettings()
        settings.maxInFlight = 8
        settings.maxInFlightPerTarget = 4
        var slow = NotifierConfiguration(name: "slow", webhook: hanging.url)
        slow.timeout = .seconds(10)
        settings.notifiers = ["slow": slow, "fast": NotifierConfiguration(name: "fast", webhook: prompt.url)]
        let planner = NotificationPlanner(settings: settings)
        let flood = try NotificationTestSupport.job(
            "[job.flood]\nschedule = \"@daily\"\ncommand = \"x\"\non_failure = { notify = [\"slow\"] }\n")
        let other = try NotificationTestSupport.job(
            "[job.other]\nschedule = \"@daily\"\ncommand = \"x\"\non_failure = { notify = [\"fast\"] }\n")
        let start = Date()
        for n in 0..<12 {
            let record = NotificationTestSupport.record(flood, state: .failed)
            let at = start.addingTimeInterval(Double(n) * 0.001)
            try await store.save(
                [record], enqueuing: await planner.deliveries(for: record, job: flood, store: store, at: at))
        }
        let record = NotificationTestSupport.record(other, state: .failed)
        try await store.save(
            [record],
            enqueuing: await planner.deliveries(for: record, job: other, store: store, at: start.addingTimeInterval(1)))
        let worker = NotificationDeliveryService(
            outbox: store, settings: settings, logger: NotificationTestSupport.quietLogger)
        let task = Task { try await worker.run() }
        defer { task.cancel() }
        var slowInFlight: [NotificationDelivery.State] = []
        try await eventually("the other job's event is delivered", timeout: .seconds(8)) {
            let all = try await store.deliveries(matching: NotificationQuery(limit: 100))
            guard all.contains(where: { $0.jobID == "other" && $0.state == .delivered }) else { return false }
            slowInFlight = all.filter { $0.jobID == "flood" }.map(\.state)
            return true
        }
        #expect(slowInFlight.filter { $0 == .delivering }.count == 4, "\(slowInFlight)")
        #expect(slowInFlight.filter { $0 == .pending }.count == 8, "the rest wait their turn")
        #expect(Date().timeIntervalSince(start) < 8, "not behind the hanging receiver's 10 s timeouts")
    }
}
