import Foundation
import Testing
import TockClient
import TockCore
import TockJSON
import TockSQLite
import TockTesting

/// `tock serve` tried as an unlucky production host tries it (issue 11): malformed requests on a real socket,
/// SIGTERM with work running, jobs.d vanishing, a low descriptor limit with a thousand idle connections.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ServeHardeningTests {
    typealias Daemon = ServeCommandTests.Daemon
    let serve: ServeCommandTests

    init() throws { serve = try ServeCommandTests() }

    func started(_ daemon: Daemon) async throws -> Int {
        try await eventually("listening") { daemon.port != nil && daemon.output.contains("scheduler started") }
        return try #require(daemon.port)
    }

    /// Sends raw bytes and reads until the server closes (or 5 s pass).
    static func raw(_ port: Int, _ request: [UInt8]) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            reply += buffer[0..<n]
        }
        return String(decoding: reply, as: UTF8.self)
    }

    @Test func malformedRequests_getAJSON400_andTheDaemonLives() async throws {
        try serve.writeJobs("a.toml", "[job.a]\nschedule = \"@yearly\"\ncommand = \"true\"\n")
        let daemon = try Daemon(directory: serve.directory)
        let port = try await started(daemon)
        let longURI = try Self.raw(
            port,
            Array(
                "GET /api/v1/jobs?x=\(String(repeating: "a", count: 100_000)) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        )
        #expect(longURI.hasPrefix("HTTP/1.1 400"), "\(longURI.prefix(200))")
        #expect(
            longURI.contains("application/json")
                && longURI.contains(#"{"error":"the request line or headers are too long"#))
        let method = try Self.raw(port, Array("FOO / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
        #expect(method.hasPrefix("HTTP/1.1 400") && method.hasSuffix(#"{"error":"unknown HTTP method"}"#), "\(method)")
        let header = try Self.raw(port, Array("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n".utf8))
        #expect(header.hasPrefix("HTTP/1.1 400") && header.contains(#"{"error":"#), "\(header)")
        let client = try APIClient(server: "http://127.0.0.1:\(port)")
        #expect(try client.send("GET", "/healthz").status == 200)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test func duringShutdownGrace_theAPIAnswers503_shuttingDown() async throws {
        try serve.writeJobs("w.toml", "[job.w]\nschedule = \"@reboot\"\ncommand = \"sleep 30\"\n")
        let daemon = try Daemon(directory: serve.directory)
        let port = try await started(daemon)
        try await eventually("running") { try await serve.executions("w").contains { $0.state == .running } }
        let client = try APIClient(server: "http://127.0.0.1:\(port)")
        daemon.signal(SIGTERM)
        try await eventually("shutting down") { daemon.output.contains("shutting down: waiting for running jobs") }
        let refused = try client.send("POST", "/api/v1/executions/w")
        #expect(refused.status == 503, "\(refused.text)")
        #expect(refused.json?["error"]?.stringValue?.contains("shutting down") == true, "\(refused.text)")
        #expect(try client.send("GET", "/api/v1/jobs/w").status == 200, "reads still answer during the grace")
        #expect(daemon.waitForExit() == 0)
        #expect(try await serve.executions("w").allSatisfy { $0.state.isFinal })
    }

    @Test func aJobsDirectoryThatVanishes_keepsTheCurrentJobs() async throws {
        try serve.writeJobs("a.toml", "[job.kept]\nschedule = \"@yearly\"\ncommand = \"true\"\n")
        let daemon = try Daemon(directory: serve.directory)
        let port = try await started(daemon)
        let jobs = serve.directory.appendingPathComponent("jobs")
        let moved = serve.directory.appendingPathComponent("jobs-moved")
        try FileManager.default.moveItem(at: jobs, to: moved)
        try await eventually("noticed") { daemon.output.contains("keeping the current jobs") }
        let client = try APIClient(server: "http://127.0.0.1:\(port)")
        #expect(try client.send("GET", "/api/v1/jobs/kept").status == 200, "still scheduled")
        // Back, and edited: the reload works again.
        try FileManager.default.moveItem(at: moved, to: jobs)
        try serve.writeJobs("a.toml", "[job.renamed]\nschedule = \"@yearly\"\ncommand = \"true\"\n")
        try await eventually("reloaded") { try client.send("GET", "/api/v1/jobs/renamed").status == 200 }
        #expect(try client.send("GET", "/api/v1/jobs/kept").status == 404)
        daemon.signal(SIGTERM)
        _ = daemon.waitForExit()
    }

    @Test func aLowDescriptorLimit_isRaised_andAThousandIdleConnectionsStarveNothing() async throws {
        try serve.writeJobs("t.toml", "[job.tick]\nschedule = \"* * * * * *\"\ncommand = \"true\"\n")
        let daemon = try Daemon(directory: serve.directory, softDescriptorLimit: 1024)
        let port = try await started(daemon)
        // The shell execs the daemon: same pid.
        let pid = daemon.process.processIdentifier
        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)
        let line = try #require(limits.split(separator: "\n").first { $0.hasPrefix("Max open files") })
        let numbers = line.split(separator: " ").compactMap { Int($0) }
        #expect(numbers.count == 2 && numbers[0] == numbers[1] && numbers[0] > 1024, "\(line)")

        // The test process itself needs 1,100 descriptors more than usual: its soft limit up to the hard one.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        var idle: [Int32] = []
        defer { for fd in idle { close(fd) } }
        for _ in 0..<1100 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { break }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            idle.append(fd)
        }
        #expect(idle.count == 1100)
        let before = try await serve.executions("tick").count
        let client = try APIClient(server: "http://127.0.0.1:\(port)")
        let start = ContinuousClock.now
        #expect(try client.send("GET", "/healthz").status == 200)
        #expect(ContinuousClock.now - start < .seconds(2))
        try await Task.sleep(for: .seconds(3))
        let after = try await serve.executions("tick")
        #expect(after.count - before >= 2, "the every-second job kept running and being recorded")
        #expect(Set(after.map(\.id)).count == after.count)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }

    @Test func aRunThatEndsWhileTheDaemonIsStopped_keepsItsOwnDuration() async throws {
        try serve.writeJobs("s.toml", "[job.short]\nschedule = \"@reboot\"\ncommand = \"sleep 1\"\n")
        let daemon = try Daemon(directory: serve.directory)
        _ = try await started(daemon)
        // Running with a pid: the process exists (the row says `running` before the spawn; stopping the daemon
        // between the two would start the sleep after the stop, not before it).
        try await eventually("running") {
            try await serve.executions("short").contains { $0.state == .running && $0.pid != nil }
        }
        daemon.signal(SIGSTOP)
        try await Task.sleep(for: .seconds(4))
        daemon.signal(SIGCONT)
        try await eventually("recorded") { try await serve.executions("short").first?.state == .succeeded }
        let run = try #require(try await serve.executions("short").first)
        let duration = try #require(run.endedAt).timeIntervalSince(try #require(run.startedAt))
        // The estimate comes from the kernel's per-CPU scheduler clocks: a few hundred ms either way on a busy machine.
        #expect(duration > 0.5 && duration < 2.5, "recorded \(duration) s for a sleep of 1 s")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }
}
