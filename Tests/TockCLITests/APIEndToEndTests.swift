import Foundation
import Testing
import TockClient
import TockCore
import TockJSON
import TockTesting

/// The REST API of a real `tock serve` over a real socket, driven as ndscheduler's UI and Tock's CLI drive it.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct APIEndToEndTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-api-e2e-\(UUID())")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("jobs"), withIntermediateDirectories: true)
    }

    func start() async throws -> (ServeCommandTests.Daemon, APIClient, String) {
        let daemon = try ServeCommandTests.Daemon(directory: directory)
        var port = 0
        try await eventually("listening") {
            port = daemon.port ?? 0
            return port > 0
        }
        let server = "http://127.0.0.1:\(port)"
        return (daemon, try APIClient(server: server), server)
    }

    func tock(_ arguments: [String]) throws -> TockBinary.Result { try TockBinary.run(arguments) }

    @Test func ndschedulerClientAndCLI_fullJobLifecycle() async throws {
        let (daemon, client, server) = try await start()

        // Exchange 4 of the recorded ndscheduler API, byte for byte.
        let recorded =
            #"{"job_class_string": "simple_scheduler.jobs.shell_job.ShellJob", "name": "echo-every-5-min", "pub_args": ["/bin/sh", "-c", "echo sample-job $(date +%s.%N) >> /var/tmp/shell.out"], "minute": "*/5"}"#
        let created = try client.send("POST", "/api/v1/jobs", json: try JSONValue.parse(Array(recorded.utf8)))
        #expect(created.status == 201)
        let recordedID = try #require(created.json?["job_id"]?.stringValue)

        // The same shape, with a command whose output we can follow.
        let body: JSONValue = [
            "job_class_string": "simple_scheduler.jobs.shell_job.ShellJob", "name": "talker",
            "pub_args": ["/bin/sh", "-c", "echo first; sleep 0.5; echo second >&2; sleep 0.5; echo third"],
            "minute": "0", "hour": "0",
        ]
        let talker = try #require(try client.send("POST", "/api/v1/jobs", json: body).json?["job_id"]?.stringValue)

        // Listed with ndscheduler's keys.
        let list = try client.send("GET", "/api/v1/jobs")
        guard case .array(let jobs)? = list.json?["jobs"] else { Issue.record("no jobs: \(list.text)"); return }
        let listed = try #require(jobs.first { $0["job_id"] == .string(recordedID) })
        for key in [
            "job_id", "name", "next_run_time", "job_class_string", "pub_args", "month", "day", "week",
            "day_of_week", "hour", "minute",
        ] {
            #expect(listed[key] != nil, "\(key)")
        }
        #expect(listed["minute"] == "*/5" && listed["hour"] == "*")
        #expect(jobs.first { $0["job_id"] == .string(talker) }?["schedule"] == "0 0 * * *")

        // Run now through the CLI, following the live output; it exits with the job's status.
        let run = try tock(["jobs", "run", talker, "--follow", "--server", server])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "first\nthird\n" && run.stderr.contains("second\n"))
        let executionID = try #require(
            run.stderr.split(separator: "\n").first { $0.hasPrefix("tock: execution ") }?.split(separator: " ")
                .dropFirst(2).first.map(String.init))

        // The execution and its output.
        let execution = try #require(try client.send("GET", "/api/v1/executions/\(executionID)").json)
        #expect(execution["state"] == "succeeded" && execution["trigger"] == "manual")
        #expect(execution["job"]?["name"] == "talker")
        #expect(try client.send("GET", "/api/v1/executions/\(executionID)/output?stream=stderr").text == "second\n")
        let listing = try tock(["executions", "list", "--job", talker, "--server", server])
        #expect(listing.status == 0 && listing.stdout.contains(executionID) && listing.stdout.contains("succeeded"))

        // Pause and resume with ndscheduler's verbs.
        #expect(try client.send("PATCH", "/api/v1/jobs/\(talker)").status == 200)
        #expect(try client.send("GET", "/api/v1/jobs/\(talker)").json?["next_run_time"] == "")
        #expect(try client.send("OPTIONS", "/api/v1/jobs/\(talker)").status == 200)
        #expect(try client.send("GET", "/api/v1/jobs/\(talker)").json?["next_run_time"] != "")

        // A long run, stopped.
        let sleeper = try #require(
            try client.send(
                "POST", "/api/v1/jobs", json: ["job_id": "sleeper", "schedule": "@yearly", "command": "sleep 300"]
            )
            .json?["job_id"]?.stringValue)
        let started = try tock(["jobs", "run", sleeper, "--server", server])
        let longRun = started.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(started.status == 0 && longRun.count == 32)
        try await eventually("running") {
            try client.send("GET", "/api/v1/executions/\(longRun)").json?["state"] == "running"
        }
        #expect(try tock(["executions", "stop", longRun, "--server", server]).status == 0)
        try await eventually("stopped") {
            try client.send("GET", "/api/v1/executions/\(longRun)").json?["state"] == "stopped"
        }

        // Delete; the audit log has the whole story.
        #expect(try tock(["jobs", "delete", talker, "--server", server]).status == 0)
        #expect(try client.send("GET", "/api/v1/jobs/\(talker)").status == 404)
        let logs = try client.send("GET", "/api/v1/logs?job_id=\(talker)").json?["logs"]
        guard case .array(let entries)? = logs else { Issue.record("no logs"); return }
        #expect(
            entries.map { $0["event"]?.stringValue ?? "" }.reversed()
                == ["added", "custom_run", "paused", "resumed", "deleted"])
        let sleeperLogs = try client.send("GET", "/api/v1/logs?job_id=sleeper").json?["logs"]
        guard case .array(let sleeperEntries)? = sleeperLogs else { Issue.record("no logs"); return }
        #expect(sleeperEntries.contains { $0["event"] == "stopped" })

        // Jobs created through the API outlive the daemon.
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
        let (again, client2, _) = try await start()
        let after = try client2.send("GET", "/api/v1/jobs/\(recordedID)")
        #expect(after.status == 200 && after.json?["minute"] == "*/5" && after.json?["source"] == "api")
        #expect(try client2.send("GET", "/api/v1/jobs/\(talker)").status == 404, "deleted stays deleted")
        again.signal(SIGTERM)
        #expect(again.waitForExit() == 0)
    }
}
