import Foundation
import Testing
import TockClient
import TockCore
import TockJSON
import TockSQLite
import TockTesting

/// Notifications through a real `tock serve`: cron's mail for an imported crontab, and a delivery that outlives a
/// `kill -9` of the daemon.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct NotificationEndToEndTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    final class Daemon {
        let process = Process()
        let log: URL

        init(directory: URL) throws {
            log = directory.appendingPathComponent("daemon-\(UUID()).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            process.executableURL = TockBinary.url
            process.arguments = [
                "serve", "--config", "tock.toml", "--jobs-dir", "jobs", "--data-dir", "data", "--listen", "127.0.0.1:0",
                // These tests are about notifications: as root, the daemon would otherwise require credentials.
                "--insecure-no-auth",
            ]
            process.currentDirectoryURL = directory
            process.standardError = try FileHandle(forWritingTo: log)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }

        var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        var port: Int? {
            guard let line = output.split(separator: "\n").first(where: { $0.contains("HTTP server listening") }),
                let range = line.range(of: "port=")
            else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }

        func client() async throws -> APIClient {
            var port: Int?
            try await eventually("listening") {
                port = self.port
                return port != nil
            }
            return try APIClient(server: "http://127.0.0.1:\(try #require(port))")
        }

        func kill9() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        deinit { if process.isRunning { kill9() } }
    }

    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-notify-e2e-\(UUID())")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("jobs"), withIntermediateDirectories: true)
    }

    func store() throws -> SQLiteJobStore {
        try SQLiteJobStore(path: directory.appendingPathComponent("data/tock.sqlite").path)
    }

    func runNow(_ client: APIClient, _ job: String) throws -> String {
        let reply = try client.send("POST", "/api/v1/executions/\(job)")
        #expect(reply.status == 200, "\(reply.text)")
        return reply.json?["execution_id"]?.stringValue ?? ""
    }

    @Test func importedCrontabWithMailto_mailsExactlyWhenCronWould() async throws {
        let mailDirectory = directory.appendingPathComponent("mail")
        try FileManager.default.createDirectory(at: mailDirectory, withIntermediateDirectories: true)
        let sendmail = directory.appendingPathComponent("sendmail")
        try """
        #!/bin/sh
        n=$(date +%s%N)
        printf '%s\\n' "$@" > '\(mailDirectory.path)'/$n.argv
        cat > '\(mailDirectory.path)'/$n.msg
        """.write(to: sendmail, atomically: true, encoding: .utf8)
        chmod(sendmail.path, 0o755)
        try "[notifications]\nmailer = \"\(sendmail.path)\"\n".write(
            to: directory.appendingPathComponent("tock.toml"), atomically: true, encoding: .utf8)
        let crontab = """
            MAILTO=ops@example.com
            MAILFROM=cron@example.com
            # talk
            0 0 1 1 * echo hello; echo oops >&2
            # silent
            0 0 1 1 * true
            # silentfail
            0 0 1 1 * exit 3
            MAILTO=""
            # nomail
            0 0 1 1 * echo not mailed

            """
        let imported = try TockBinary.runWithInput(
            ["import", "crontab", "-", "--output", directory.appendingPathComponent("jobs/cron.toml").path],
            input: crontab)
        #expect(imported.status == 0, "\(imported.stderr)")

        let daemon = try Daemon(directory: directory)
        let client = try await daemon.client()
        var ids: [String: String] = [:]
        for job in ["talk", "silent", "silentfail", "nomail"] { ids[job] = try runNow(client, job) }
        let store = try store()
        try await eventually("all four ended and their mail sent") {
            for id in ids.values {
                guard let record = try await store.execution(id: id), record.state.isFinal else { return false }
            }
            let open = try await store.deliveries(matching: NotificationQuery()).filter { !$0.state.isFinal }
            return open.isEmpty
        }
        let deliveries = try await store.deliveries(matching: NotificationQuery())
        #expect(deliveries.map(\.executionID) == [ids["talk"]], "only the run that printed, and had a MAILTO")
        #expect(deliveries.first?.state == .delivered)

        let messages = try FileManager.default.contentsOfDirectory(atPath: mailDirectory.path).sorted()
        #expect(messages.count == 2, "one mail: \(messages)")
        let argvFile = try #require(messages.first { $0.hasSuffix(".argv") })
        let argv = try String(contentsOf: mailDirectory.appendingPathComponent(argvFile), encoding: .utf8)
        #expect(argv == "-FCronDaemon\n-i\n-odi\n-oem\n-oi\n-t\n-f\ncron@example.com\n")
        let messageFile = try #require(messages.first { $0.hasSuffix(".msg") })
        let message = try String(contentsOf: mailDirectory.appendingPathComponent(messageFile), encoding: .utf8)
        let headers = message.components(separatedBy: "\n\n")[0].split(separator: "\n").map(String.init)
        // The imported job runs in cron's minimal environment as the daemon's user: LOGNAME is the owner.
        let user = String(cString: getpwuid(geteuid()).pointee.pw_name)
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? ""
        #expect(
            Array(headers.prefix(5)) == [
                "From: cron@example.com (Cron Daemon)", "To: ops@example.com",
                "Subject: Cron <\(user)@\(host)> echo hello; echo oops >&2",
                "Content-Type: text/plain; charset=UTF-8", "Auto-Submitted: auto-generated",
            ])
        #expect(message.hasSuffix("\n\nhello\n\n[stderr]\noops\n"))
    }

    @Test func kill9BeforeTheDelivery_deliversOnceAfterRestart() async throws {
        // A port nobody listens on yet: the first attempt is refused, the next is due 3 s later.
        let probe = try WebhookReceiver(statuses: [200], directory: directory, secret: Self.secret)
        let port = probe.port
        probe.stop()
        try """
        [notifications]
        retry_delays = ["0s", "3s", "3s", "3s"]
        [notifier.hook]
        webhook = "http://127.0.0.1:\(port)/hook"
        secret = "\(Self.secret)"
        """.write(to: directory.appendingPathComponent("tock.toml"), atomically: true, encoding: .utf8)
        try """
        [job.nightly]
        schedule = "@daily"
        command = "echo failing; exit 4"
        on_failure = { notify = ["hook"] }
        """.write(to: directory.appendingPathComponent("jobs/nightly.toml"), atomically: true, encoding: .utf8)

        let first = try Daemon(directory: directory)
        let id = try runNow(try await first.client(), "nightly")
        let store = try store()
        try await eventually("the first attempt failed") {
            try await store.deliveries(matching: NotificationQuery(executionID: id)).first?.attempts == 1
        }
        first.kill9()
        let refused = try #require(try await store.deliveries(matching: NotificationQuery(executionID: id)).first)
        #expect(refused.state == .failed && refused.lastStatus == nil)

        let receiver = try WebhookReceiver(statuses: [200], directory: directory, port: port, secret: Self.secret)
        let second = try Daemon(directory: directory)
        let server = "http://127.0.0.1:\(try #require(try await second.client().port))"
        try await eventually("delivered after the restart") {
            try await store.deliveries(matching: NotificationQuery(executionID: id)).first?.state == .delivered
        }
        try await Task.sleep(for: .seconds(1))
        let requests = receiver.requests
        #expect(requests.count == 1, "delivered once")
        #expect(requests.first?["webhook_id"] as? String == "evt_\(id)_failed")
        #expect(requests.first?["verified"] as? Bool == true)
        let delivered = try #require(try await store.deliveries(matching: NotificationQuery(executionID: id)).first)
        #expect(delivered.attempts == 2 && delivered.lastStatus == 200)
        #expect(try await store.execution(id: id)?.state == .failed)

        let metrics = try APIClient(server: server).send("GET", "/metrics").text
        #expect(metrics.contains(#"tock_notifications_total{channel="webhook",result="delivered"} 1"#), "\(metrics)")
        #expect(
            metrics.contains(#"tock_job_last_run_timestamp_seconds{job="nightly"}"#) == false, "ran before the restart")

        // The log through the CLI, and a test-send to the same notifier.
        let listed = try TockBinary.run(["notifications", "list", "--server", server, "--job", "nightly"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("execution.failed") && listed.stdout.contains("delivered"), "\(listed.stdout)")
        let test = try TockBinary.run(["notifications", "test", "hook", "--server", server])
        #expect(test.status == 0 && test.stdout.hasPrefix("queued evt_test_"), "\(test.stdout)\(test.stderr)")
        try await eventually("the test event arrived") { receiver.requests.count == 2 }
        let testEvent = try #require(receiver.requests.last)
        #expect(testEvent["verified"] as? Bool == true)
        #expect((testEvent["body"] as? String)?.contains(#""type":"test""#) == true)
    }

    @Test func runInterruptedByAKill9_notifiesItsFailure_afterRestart() async throws {
        let hook = directory.appendingPathComponent("hook.out")
        try "shutdown_grace = \"1s\"\n".write(
            to: directory.appendingPathComponent("tock.toml"), atomically: true, encoding: .utf8)
        try """
        [job.long]
        schedule = "@daily"
        command = "sleep 300"
        on_failure = { command = "echo $TOCK_EVENT $TOCK_STATE $TOCK_EXECUTION_ID >> \(hook.path)" }
        """.write(to: directory.appendingPathComponent("jobs/long.toml"), atomically: true, encoding: .utf8)
        let first = try Daemon(directory: directory)
        let id = try runNow(try await first.client(), "long")
        let store = try store()
        try await eventually("running") { try await store.execution(id: id)?.pid != nil }
        first.kill9()
        let second = try Daemon(directory: directory)
        _ = try await second.client()
        try await eventually("the hook ran") {
            (try? String(contentsOf: hook, encoding: .utf8)) == "execution.failed interrupted \(id)\n"
        }
        try await eventually("recorded as delivered") {
            try await store.deliveries(matching: NotificationQuery(executionID: id)).first?.state == .delivered
        }
        #expect(try await store.deliveries(matching: NotificationQuery(executionID: id)).count == 1)
    }
}
