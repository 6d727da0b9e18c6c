import CronKit
import Foundation
import Testing
import TockClient
import TockCore
import TockJSON
import TockTesting

/// `tock import ndscheduler` against a real ndscheduler 0.3.0 (its PyPI release with its exact pins, installed by
/// scripts/setup-test-deps), started by the test: jobs of each class, split-field schedules with weekday numbers
/// and names, a paused job, a run; then the import as a file and into a running Tock, with history.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct NdschedulerImportTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let python = root.appendingPathComponent(".build/nds-venv/bin/python").path
    static let fixture = root.appendingPathComponent("Tests/ndscheduler").path

    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-nds-\(UUID())")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("jobs"), withIntermediateDirectories: true)
    }

    /// A free TCP port on loopback.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func tock(_ arguments: [String]) throws -> TockBinary.Result {
        try TockBinary.runWithInput(arguments, input: nil, in: directory)
    }

    /// APScheduler's own next fire times for split cron fields.
    func apscheduler(_ fields: JSONValue, after now: String) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = ["\(Self.fixture)/next_fire_times.py", fields.jsonString, now, "10"]
        process.environment = ["PYTHONPATH": Self.fixture, "PATH": "/usr/bin:/bin"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// The jobs made in ndscheduler: name → (class, pub_args, split fields).
    static let jobs: [(String, String, [String], JSONValue)] = [
        ("every-5", NdschedulerImporter.shellJob, ["/bin/echo", "five"], ["minute": "*/5"]),
        (
            "weekday-names", NdschedulerImporter.shellJob, ["/bin/echo", "names"],
            ["minute": "15", "hour": "8", "day_of_week": "mon-fri"]
        ),
        (
            "weekday-numbers", NdschedulerImporter.shellJob, ["/bin/echo", "numbers"],
            ["minute": "0", "hour": "6", "day_of_week": "0,3,6"]
        ),
        (
            "first-monday", NdschedulerImporter.shellJob, ["/bin/echo", "both"],
            ["minute": "0", "hour": "9", "day": "1-7", "day_of_week": "mon"]
        ),
        ("hour-only", NdschedulerImporter.shellJob, ["/bin/echo", "h"], ["hour": "3"]),
        ("quarterly", NdschedulerImporter.shellJob, ["/bin/echo", "q"], ["month": "1,4,7,10", "day": "last"]),
        ("ping", NdschedulerImporter.curlJob, ["http://127.0.0.1:9/x", "GET"], ["minute": "0", "hour": "*/2"]),
        (
            "standup", NdschedulerImporter.slackJob, ["#team", "bot", ":sun:", "Standup!"],
            ["minute": "30", "hour": "9", "day_of_week": "mon-fri"]
        ),
        ("custom", "my_company.jobs.ReportJob", [], ["minute": "0"]),
    ]

    @Test func jobsAndHistory_moveWithTheirSchedulesAndStates() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            Issue.record("ndscheduler is not installed: run scripts/setup-test-deps (it installs .build/nds-venv)")
            return
        }
        // ndscheduler 0.3.0, on a free port with a datastore of its own.
        let port = Self.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.python)
        server.arguments = ["\(Self.fixture)/serve.py"]
        server.environment = [
            "PYTHONPATH": Self.fixture, "NDSCHEDULER_SETTINGS_MODULE": "simple_scheduler.settings",
            "NDS_PORT": "\(port)", "NDS_DB": directory.appendingPathComponent("nds.db").path, "PATH": "/usr/bin:/bin",
        ]
        let serverLog = directory.appendingPathComponent("nds.log")
        _ = FileManager.default.createFile(atPath: serverLog.path, contents: nil)
        server.standardError = try FileHandle(forWritingTo: serverLog)
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        defer {
            // ndscheduler's SIGTERM handler waits for its scheduler's threads; the test does not.
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        let nds = try APIClient(server: "http://127.0.0.1:\(port)")
        try await eventually("ndscheduler answers", timeout: .seconds(30)) {
            (try? nds.send("GET", "/api/v1/jobs"))?.status == 200
        }

        var ids: [String: String] = [:]
        for (name, jobClass, args, fields) in Self.jobs {
            var pairs: [(String, JSONValue)] = [
                ("job_class_string", .string(jobClass)), ("name", .string(name)),
                ("pub_args", .array(args.map { .string($0) })),
            ]
            pairs += fields.objectPairs ?? []
            let made = try nds.send("POST", "/api/v1/jobs", json: .object(pairs))
            #expect(made.status == 200 || made.status == 201, "ndscheduler: \(made.text)")
            ids[name] = try #require(made.json?["job_id"]?.stringValue)
        }
        #expect(try nds.send("PATCH", "/api/v1/jobs/\(ids["hour-only"]!)").status == 200)
        let run = try nds.send("POST", "/api/v1/executions/\(ids["every-5"]!)")
        let executionID = try #require(run.json?["execution_id"]?.stringValue)
        try await eventually("the run ends", timeout: .seconds(20)) {
            let state = try nds.send("GET", "/api/v1/executions/\(executionID)").json?["state"]?.stringValue
            return state == "succeeded"
        }

        // As a jobs.d file: every job but the custom class, Tock's reader accepts it, and the schedules agree
        // with APScheduler's on the next 10 fire times.
        let imported = try tock([
            "import", "ndscheduler", "--server", "http://127.0.0.1:\(port)", "--output", "jobs/ndscheduler.toml",
        ])
        #expect(imported.status == 1, "a skipped job makes the exit status 1: \(imported.stderr)")
        #expect(imported.stderr.contains("my_company.jobs.ReportJob") && imported.stderr.contains("8 jobs imported"))
        #expect(imported.stderr.contains("CurlJob: a response with an HTTP error status now fails"))
        let validate = try tock(["validate", "--jobs-dir", "jobs"])
        #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")
        let text = try String(contentsOf: directory.appendingPathComponent("jobs/ndscheduler.toml"), encoding: .utf8)
        let parsed = JobDefinitionReader.parse(text, file: "ndscheduler.toml")
        #expect(parsed.errors.isEmpty && parsed.jobs.count == 8)
        let now = Timestamp.string(for: Date(), in: .utc)
        for (name, _, _, fields) in Self.jobs where name != "custom" {
            let job = try #require(parsed.jobs.first { $0.id == ids[name] }, "\(name)")
            let ours = job.parsedSchedule.schedule(in: TimeZone(identifier: "UTC")!)?
                .nextFireDates(after: Date(parsing: now, defaultZone: .utc)!, count: 10)
                .map { Timestamp.string(for: $0, in: .utc) }
            #expect(ours == (try apscheduler(fields, after: now)), "\(name): next 10 fire times")
        }
        #expect(text.contains("cron_days = \"both\""), "first-monday needs both days")
        let paused = try #require(parsed.jobs.first { $0.id == ids["hour-only"] })
        #expect(!paused.enabled, "paused in ndscheduler: written disabled")
        let ping = try #require(parsed.jobs.first { $0.id == ids["ping"] })
        guard case .exec(let argv) = ping.action else { Issue.record("CurlJob is an exec"); return }
        #expect(argv.first == "curl" && argv.contains("--fail") && argv.last == "http://127.0.0.1:9/x")

        // Into a running Tock, with history: paused stays paused, the run and the audit log appear, and a second
        // import adds nothing.
        try FileManager.default.removeItem(at: directory.appendingPathComponent("jobs/ndscheduler.toml"))
        let daemon = try ServeCommandTests.Daemon(directory: directory, extraArguments: [])
        var tockPort = 0
        try await eventually("tock listening") {
            tockPort = daemon.port ?? 0
            return tockPort > 0
        }
        let into = [
            "import", "ndscheduler", "--server", "http://127.0.0.1:\(port)", "--into", "http://127.0.0.1:\(tockPort)",
            "--with-history", "--data-dir", "data",
        ]
        let first = try tock(into)
        #expect(first.status == 1 && first.stderr.contains("history: 1 executions"), "\(first.stderr)")
        let client = try APIClient(server: "http://127.0.0.1:\(tockPort)")
        try await eventually("jobs created") {
            try client.send("GET", "/api/v1/jobs/\(ids["first-monday"]!)").status == 200
        }
        #expect(try client.send("GET", "/api/v1/jobs/\(ids["hour-only"]!)").json?["paused"] == true)
        #expect(try client.send("GET", "/api/v1/jobs/\(ids["every-5"]!)").json?["paused"] == false)
        let monday = try client.send("GET", "/api/v1/jobs/\(ids["first-monday"]!)").json
        #expect(monday?["cron_days"] == "both")
        let history = try client.send("GET", "/api/v1/executions?job_id=\(ids["every-5"]!)")
        guard case .array(let runs)? = history.json?["executions"] else { Issue.record("\(history.text)"); return }
        let importedRun = try #require(runs.first { $0["execution_id"]?.stringValue == executionID })
        #expect(importedRun["state"] == "succeeded" && importedRun["trigger"] == "manual")
        let logs = try client.send("GET", "/api/v1/logs?job_id=\(ids["hour-only"]!)").text
        #expect(logs.contains("\"paused\"") && logs.contains("\"added\""))

        let again = try tock(into)
        #expect(again.stderr.contains("exists in Tock already") && again.stderr.contains("0 new audit entries"))
        let historyAgain = try client.send("GET", "/api/v1/executions?job_id=\(ids["every-5"]!)")
        guard case .array(let runsAgain)? = historyAgain.json?["executions"] else { return }
        #expect(runsAgain.count == runs.count, "nothing twice")
    }
}
