#if Postgres
    import Foundation
    import Testing
    import TockClient
    import TockJSON
    import TockTesting

    /// Two real `tock serve` nodes on one PostgreSQL database (a database of their own on the server named by
    /// `TOCK_TEST_DATABASE`, which scripts/test starts; without it these tests are skipped), driven through their
    /// APIs and the CLI: whatever is done through one node reaches the run or the job on the other.
    @Suite(
        .serialized, .timeLimit(.minutes(3)),
        .enabled(
            if: ProcessInfo.processInfo.environment["TOCK_TEST_DATABASE"] != nil,
            "needs TOCK_TEST_DATABASE=postgres://… (scripts/test starts a throwaway PostgreSQL)"))
    struct ClusterControlEndToEndTests {
        let name = "tock_e2e_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let server: URLComponents
        let root: URL

        init() throws {
            let url = try #require(ProcessInfo.processInfo.environment["TOCK_TEST_DATABASE"])
            server = try #require(URLComponents(string: url))
            root = FileManager.default.temporaryDirectory.appendingPathComponent("tock-cluster-e2e-\(UUID())")
        }

        /// The URL of a database of this test's own.
        var databaseURL: String {
            var url = server
            url.path = "/" + name
            return url.string ?? ""
        }

        func psql(_ sql: String) throws {
            var url = server
            url.path = "/postgres"
            let result = try TockBinary.runWithInput(
                ["-X", "-q", "-v", "ON_ERROR_STOP=1", url.string ?? "", "-c", sql], input: nil,
                executable: URL(fileURLWithPath: "/usr/bin/psql"))
            #expect(result.status == 0, "psql: \(result.stderr)")
        }

        func node(_ name: String) throws -> ServeCommandTests.Daemon {
            let directory = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent("jobs"), withIntermediateDirectories: true)
            return try ServeCommandTests.Daemon(
                directory: directory, extraArguments: ["--database", databaseURL, "--node-name", name])
        }

        /// A started node's client, once it listens and is healthy.
        func client(_ daemon: ServeCommandTests.Daemon) async throws -> (APIClient, String) {
            var port = 0
            try await eventually("listening", timeout: .seconds(60)) {
                port = daemon.port ?? 0
                return port > 0
            }
            let url = "http://127.0.0.1:\(port)"
            let client = try APIClient(server: url)
            try await eventually("healthy", timeout: .seconds(30)) {
                (try? client.send("GET", "/healthz"))?.json?["status"] == "ok"
            }
            return (client, url)
        }

        @Test func controlThroughEitherNode_reachesTheJobOrTheRunOnTheOther() async throws {
            try psql("CREATE DATABASE \(name)")
            defer { try? psql("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
            defer { try? FileManager.default.removeItem(at: root) }
            let daemonA = try node("a")
            let daemonB = try node("b")
            let (a, urlA) = try await client(daemonA)
            let (b, _) = try await client(daemonB)

            // A job created through a's API is scheduled by b without a restart, and runs there.
            let ticker: JSONValue = ["job_id": "ticker", "schedule": "* * * * * *", "command": "echo tick"]
            #expect(try a.send("POST", "/api/v1/jobs", json: ticker).status == 201)
            try await eventually("b has the job", timeout: .seconds(5)) {
                let job = try b.send("GET", "/api/v1/jobs/ticker")
                return job.status == 200 && job.json?["next_run_time"]?.stringValue?.isEmpty == false
            }
            // Forced: with overlap = "skip", a run pending or running on a (every second) would refuse it.
            let manual = try b.send("POST", "/api/v1/executions/ticker?force=true")
            #expect(manual.status == 200, "\(manual.text)")
            let runOnB = try #require(manual.json?["execution_id"]?.stringValue)
            try await eventually("b ran it", timeout: .seconds(10)) {
                let execution = try a.send("GET", "/api/v1/executions/\(runOnB)").json
                return execution?["node"] == "b" && execution?["state"] == "succeeded"
            }

            // Paused through a: b shows it paused within the bound, and no node runs its instants any more.
            #expect(try a.send("POST", "/api/v1/jobs/ticker/pause").status == 200)
            let pausedAt = Date()
            try await eventually("b sees the pause", timeout: .seconds(5)) {
                try b.send("GET", "/api/v1/jobs/ticker").json?["paused"] == true
            }
            try await Task.sleep(for: .seconds(2.5))
            let listed = try a.send("GET", "/api/v1/executions?job_id=ticker&limit=1000").json?["executions"]
            let late =
                (listed.flatMap { value -> [JSONValue]? in
                    if case .array(let items) = value { return items } else { return nil }
                } ?? []).filter {
                    guard $0["trigger"] == "schedule", let text = $0["scheduled_time"]?.stringValue,
                        let at = ISO8601DateFormatter.apiTime(text)
                    else { return false }
                    return at > pausedAt.addingTimeInterval(1)
                }
            #expect(late.isEmpty, "instants run after the pause: \(late.map(\.jsonString))")
            // Resumed through b: a shows it.
            #expect(try b.send("POST", "/api/v1/jobs/ticker/resume").status == 200)
            try await eventually("a sees the resume", timeout: .seconds(5)) {
                try a.send("GET", "/api/v1/jobs/ticker").json?["paused"] == false
            }
            #expect(try a.send("DELETE", "/api/v1/jobs/ticker").status == 200)
            try await eventually("b dropped the job", timeout: .seconds(5)) {
                try b.send("GET", "/api/v1/jobs/ticker").status == 404
            }

            // A run on b started with an idempotency key; a's retry with the key answers with b's run.
            let sleeper: JSONValue = [
                "job_id": "sleeper", "schedule": "@yearly",
                "command": "echo started; sleep 1; echo tick; exec sleep 60",
            ]
            #expect(try a.send("POST", "/api/v1/jobs", json: sleeper).status == 201)
            try await eventually("b has the sleeper", timeout: .seconds(5)) {
                try b.send("GET", "/api/v1/jobs/sleeper").status == 200
            }
            let key = [("Idempotency-Key", "e2e-\(UUID())")]
            let first = try b.send("POST", "/api/v1/executions/sleeper", headers: key)
            #expect(first.status == 200 && first.headers["idempotent-replayed"] == nil)
            let id = try #require(first.json?["execution_id"]?.stringValue)
            let retry = try a.send("POST", "/api/v1/executions/sleeper", headers: key)
            #expect(retry.status == 200 && retry.headers["idempotent-replayed"] == "true")
            #expect(retry.json?["execution_id"] == .string(id))
            // overlap = skip: a run without the key through a is refused, naming b.
            let refused = try a.send("POST", "/api/v1/executions/sleeper")
            #expect(refused.status == 409 && refused.json?["node"] == "b", "\(refused.text)")

            // b's live output, read through a: plain, then followed with the CLI until the run is stopped.
            try await eventually("a serves b's output", timeout: .seconds(10)) {
                try a.send("GET", "/api/v1/executions/\(id)/output").text == "started\ntick\n"
            }
            let follow = Process()
            follow.executableURL = TockBinary.url
            follow.arguments = ["executions", "output", id, "--follow", "--server", urlA]
            let followed = root.appendingPathComponent("followed.txt")
            _ = FileManager.default.createFile(atPath: followed.path, contents: nil)
            follow.standardOutput = try FileHandle(forWritingTo: followed)
            follow.standardError = FileHandle.nullDevice
            try follow.run()
            defer { if follow.isRunning { kill(follow.processIdentifier, SIGKILL) } }
            try await Task.sleep(for: .seconds(1))

            // Stopped through a: b stops it.
            let stop = try a.send("DELETE", "/api/v1/executions/\(id)")
            #expect(stop.status == 200, "\(stop.text)")
            #expect(stop.json?["stopping"] == true && stop.json?["node"] == "b" && stop.json?["acknowledged"] == true)
            try await eventually("stopped", timeout: .seconds(10)) {
                try a.send("GET", "/api/v1/executions/\(id)").json?["state"] == "stopped"
            }
            try await eventually("the follower ended", timeout: .seconds(10)) { !follow.isRunning }
            #expect(follow.terminationStatus == 128 + SIGTERM)
            #expect((try? String(contentsOf: followed, encoding: .utf8)) == "started\ntick\n")
            let logs = try a.send("GET", "/api/v1/logs?job_id=sleeper").json?["logs"]?.jsonString ?? ""
            #expect(logs.contains("\"stopped\"") && logs.contains("on node b"))

            for daemon in [daemonA, daemonB] { daemon.signal(SIGTERM) }
            #expect(daemonA.waitForExit() == 0)
            #expect(daemonB.waitForExit() == 0)
        }
    }

    extension ISO8601DateFormatter {
        /// One of the API's times (`2026-01-01T00:00:00+00:00`, or with a fraction of a second).
        fileprivate static func apiTime(_ text: String) -> Date? {
            let formatter = ISO8601DateFormatter()
            if let date = formatter.date(from: text) { return date }
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.date(from: text)
        }
    }
#endif
