import Foundation
import Logging
import Testing
import TockApp
import TockClient
import TockCore
import TockJSON
import TockSQLite
import TockTesting

/// Running Tock as the machine's cron, through real `tock` processes: the UI from the binary wherever it starts,
/// the version, checking a configuration, logs for machines, log levels by signal, backups, private data.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct OperationsTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-ops-\(UUID())")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("jobs"), withIntermediateDirectories: true)
    }

    func write(_ relative: String, _ text: String) throws {
        try text.write(to: directory.appendingPathComponent(relative), atomically: true, encoding: .utf8)
    }

    func started(_ extraArguments: [String] = []) async throws -> (ServeCommandTests.Daemon, APIClient, String) {
        let daemon = try ServeCommandTests.Daemon(directory: directory, extraArguments: extraArguments)
        // `port=N` in text and logfmt, `"port":"N"` in JSON.
        func port() -> Int? {
            if let port = daemon.port { return port }
            guard let range = daemon.output.range(of: "\"port\":\"") else { return nil }
            return Int(daemon.output[range.upperBound...].prefix { $0.isNumber })
        }
        try await eventually("listening") { port() != nil }
        let server = "http://127.0.0.1:\(port() ?? 0)"
        return (daemon, try APIClient(server: server), server)
    }

    @Test func serve_fromADirectoryWithoutWeb_servesTheUIBuiltIntoTheBinary() async throws {
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("web").path))
        let (daemon, client, _) = try await started()
        let page = try client.send("GET", "/")
        #expect(page.status == 200 && page.headers["content-type"] == "text/html; charset=utf-8")
        #expect(page.text.contains("<script type=\"module\""))
        #expect(page.headers["etag"]?.hasPrefix("\"") == true)
        let script = try client.send("GET", "/js/app.js")
        #expect(script.status == 200 && script.headers["content-type"] == "text/javascript; charset=utf-8")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)

        // --web-dir still replaces it.
        let custom = directory.appendingPathComponent("my-ui")
        try FileManager.default.createDirectory(at: custom, withIntermediateDirectories: true)
        try "<h1>mine</h1>".write(to: custom.appendingPathComponent("index.html"), atomically: true, encoding: .utf8)
        let (other, otherClient, _) = try await started(["--web-dir", custom.path])
        #expect(try otherClient.send("GET", "/").text == "<h1>mine</h1>")
        #expect(try otherClient.send("GET", "/js/app.js").status == 404)
        other.signal(SIGTERM)
        _ = other.waitForExit()
    }

    @Test func checkConfig_reportsTheConfigurationAndEveryJobProblem() throws {
        try write("jobs/ok.toml", "[job.ok]\nschedule = \"@daily\"\ncommand = \"true\"\n")
        try write("tock.toml", "jobs_dir = \"\(directory.path)/jobs\"\nlog_format = \"json\"\n")
        let valid = try TockBinary.run(["serve", "--check-config", "--config", directory.path + "/tock.toml"])
        #expect(valid.status == 0, "\(valid.stderr)")
        #expect(valid.stdout.contains("configuration: \(directory.path)/tock.toml"))
        #expect(valid.stdout.contains("log: json, level info"))
        #expect(valid.stdout.contains("jobs: 1 in 1 files"))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("tock-data").path))

        try write("jobs/bad.toml", "[job.bad]\nschedule = \"61 * * * *\"\ncommand = \"true\"\n")
        let invalid = try TockBinary.run(["serve", "--check-config", "--config", directory.path + "/tock.toml"])
        #expect(invalid.status == 1)
        #expect(invalid.stderr.contains("bad.toml:2:"))

        try write("broken.toml", "log_format = \"xml\"\n")
        let broken = try TockBinary.run(["serve", "--check-config", "--config", directory.path + "/broken.toml"])
        #expect(broken.status == 2)
        #expect(broken.stderr.contains("log_format: 'xml' is not one of text, json, logfmt"))
    }

    @Test func jsonLog_oneEventPerLine_withStableKeys() async throws {
        try write("jobs/fails.toml", "[job.fails]\nschedule = \"@reboot\"\ncommand = \"echo hi; exit 3\"\n")
        let (daemon, _, _) = try await started(["--log-format", "json"])
        try await eventually("run finished") { daemon.output.contains("\"msg\":\"run finished\"") }
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
        let lines = daemon.output.split(separator: "\n")
        #expect(lines.count > 3)
        var finished: JSONValue?
        for line in lines {
            let event = try JSONValue.parse(Array(line.utf8))
            #expect(event["level"]?.stringValue != nil && event["msg"]?.stringValue != nil, "\(line)")
            #expect(event["time"]?.stringValue?.hasSuffix("Z") == true, "\(line)")
            if event["msg"] == "run finished" { finished = event }
        }
        let run = try #require(finished)
        #expect(run["job"] == "fails" && run["state"] == "failed" && run["exit_status"] == "3")
        #expect(run["execution"]?.stringValue?.isEmpty == false)
        #expect(Double(run["duration"]?.stringValue ?? "") != nil, "duration in seconds: \(run)")
    }

    @Test func underJournald_linesHaveAPriorityAndNoTimestamp() async throws {
        // As systemd starts it: JOURNAL_STREAM names the device and inode of the stream stderr is connected to.
        let log = directory.appendingPathComponent("journal.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        // journald's JOURNAL_STREAM is DEVICE:INODE of the stream (st_dev, st_ino).
        let attributes = try FileManager.default.attributesOfItem(atPath: log.path)
        let device = try #require(attributes[.systemNumber] as? NSNumber).uint64Value
        let inode = try #require(attributes[.systemFileNumber] as? NSNumber).uint64Value
        let process = Process()
        process.executableURL = TockBinary.url
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--jobs-dir", "jobs", "--data-dir", "data"]
        process.environment = ["JOURNAL_STREAM": "\(device):\(inode)"]
        process.currentDirectoryURL = directory
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        func output() -> String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
        try await eventually("listening") { output().contains("HTTP server listening") }
        let line = try #require(output().split(separator: "\n").first { $0.contains("HTTP server listening") })
        #expect(line.hasPrefix("<6>info HTTP server listening "), "\(line)")
    }

    @Test func sigusr1AndSigusr2_changeTheLogLevel() async throws {
        let (daemon, _, _) = try await started(["--log-format", "logfmt", "--log-level", "info"])
        try await eventually("started") { daemon.output.contains("msg=\"scheduler started\"") }
        daemon.signal(SIGUSR1)
        try await eventually("debug") { daemon.output.contains("from=info") && daemon.output.contains("to=debug") }
        // One at a time: two of the same signal sent at once may arrive as one.
        daemon.signal(SIGUSR2)
        try await eventually("info") { daemon.output.contains("from=debug signal=SIGUSR2 to=info") }
        daemon.signal(SIGUSR2)
        try await eventually("notice") { daemon.output.contains("from=info signal=SIGUSR2 to=notice") }
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
        #expect(!daemon.output.contains("msg=\"tock serve stopped\""), "info is below notice now")
    }

    @Test func backupWhileRunning_thenRestore() async throws {
        try write(
            "jobs/quick.toml", "[job.quick]\nschedule = \"@yearly\"\ncommand = \"echo quick\"\noverlap = \"allow\"\n")
        let (daemon, client, server) = try await started()
        let data = directory.appendingPathComponent("data").path
        #expect(try mode(data) == 0o700)
        #expect(try mode(data + "/tock.sqlite") == 0o600)
        for _ in 0..<50 { _ = try client.send("POST", "/api/v1/executions/quick") }
        let file = directory.appendingPathComponent("backup.sqlite").path
        let backup = try TockBinary.run(["backup", "--data-dir", data, file])
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(backup.stdout.contains("integrity ok"))
        #expect(try mode(file) == 0o600)
        let store = try SQLiteJobStore(path: file)
        #expect(try await store.executions(jobID: "quick", limit: 1000).count >= 1)

        let refused = try TockBinary.run(["restore", "--data-dir", data, file])
        #expect(refused.status == 1 && refused.stderr.contains("is open in process"), "\(refused.stderr)")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
        _ = server
        let restore = try TockBinary.run(["restore", "--data-dir", data, file])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(restore.stdout.contains("the previous database is kept as"))
    }

    func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }
}

/// The log formats and the systemd notification, as units.
struct LogFormatTests {
    @Test(arguments: LogFormat.allCases)
    func runFinished_carriesTheStableKeys(format: LogFormat) {
        let line = TockLogHandler.line(
            format: format, level: .warning, message: "run finished",
            metadata: [
                "job.id": "backup", "execution.id": "e1", "exit.status": "3", "state": "failed",
                "duration": "0.52 seconds", "not.recorded": "x y",
            ], time: Date(timeIntervalSince1970: 1_772_964_000.125))
        #expect(line.hasSuffix("\n") && line.dropLast().contains("\n") == false)
        switch format {
        case .text:
            #expect(
                line == "2026-03-08T10:00:00.125Z warning run finished job=backup execution=e1 state=failed "
                    + "duration=0.52 exit_status=3 not_recorded=\"x y\"\n")
        case .logfmt:
            #expect(
                line == "time=2026-03-08T10:00:00.125Z level=warning msg=\"run finished\" job=backup execution=e1 "
                    + "state=failed duration=0.52 exit_status=3 not_recorded=\"x y\"\n")
        case .json:
            #expect(
                line == #"{"time":"2026-03-08T10:00:00.125Z","level":"warning","msg":"run finished","job":"backup","#
                    + #""execution":"e1","state":"failed","duration":"0.52","exit_status":"3","not_recorded":"x y"}"#
                    + "\n")
        }
    }

    @Test func underJournald_noTimestamp_andAPriorityPrefix() {
        let line = TockLogHandler.line(
            format: .text, level: .error, message: "two\nlines", metadata: [:], time: nil, priorityPrefix: true)
        #expect(line == "<3>error two\\nlines\n")
    }

    @Test func levelControl_stepsAndStopsAtTheEnds() {
        let control = LogLevelControl(.info)
        #expect(control.moreVerbose() == .debug && control.moreVerbose() == .trace && control.moreVerbose() == .trace)
        control.set(.error)
        #expect(control.lessVerbose() == .critical && control.lessVerbose() == .critical)
    }

    @Test func configurationFile_searchOrder() throws {
        let system = FileManager.default.temporaryDirectory.appendingPathComponent("tock-system-\(UUID()).toml").path
        #expect(TockConfiguration.configurationFile(explicit: nil, environment: [:], systemFile: system) == nil)
        try "".write(toFile: system, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: system) }
        #expect(TockConfiguration.configurationFile(explicit: nil, environment: [:], systemFile: system) == system)
        #expect(
            TockConfiguration.configurationFile(explicit: nil, environment: ["TOCK_CONFIG": "/e"], systemFile: system)
                == "/e")
        #expect(
            TockConfiguration.configurationFile(explicit: "/f", environment: ["TOCK_CONFIG": "/e"], systemFile: system)
                == "/f")
        #expect(TockConfiguration.systemConfigurationFile == "/etc/tock/tock.toml")
    }

    @Test func systemdNotifier_sendsReadyToTheNotifySocket() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "notify-\(UUID().uuidString.prefix(8))"
        )
        .path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #expect(fd >= 0)
        defer {
            close(fd)
            unlink(path)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        #expect(SystemdNotifier.notify("READY=1", environment: ["NOTIFY_SOCKET": path]))
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        #expect(count == 7 && String(decoding: buffer.prefix(7), as: UTF8.self) == "READY=1")
        #expect(!SystemdNotifier.notify("READY=1", environment: [:]))
    }
}
