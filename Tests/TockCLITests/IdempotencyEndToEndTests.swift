import Foundation
import Testing
import TockClient
import TockJSON
import TockTesting

/// `tock jobs run ID --idempotency-key KEY` against a real `tock serve` (SQLite): a script retrying with the same
/// key starts the job once, also after the daemon restarted.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct IdempotencyEndToEndTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-idem-e2e-\(UUID())")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("jobs"), withIntermediateDirectories: true)
        try "[job.deploy]\nschedule = \"@yearly\"\ncommand = \"echo deployed\"\n".write(
            to: directory.appendingPathComponent("jobs/deploy.toml"), atomically: true, encoding: .utf8)
    }

    func server(_ daemon: ServeCommandTests.Daemon) async throws -> String {
        var port = 0
        try await eventually("listening") {
            port = daemon.port ?? 0
            return port > 0
        }
        return "http://127.0.0.1:\(port)"
    }

    @Test func runWithAnIdempotencyKey_printsTheSameExecution_acrossRetriesAndARestart() async throws {
        var daemon = try ServeCommandTests.Daemon(directory: directory)
        var url = try await server(daemon)
        let first = try TockBinary.run(["jobs", "run", "deploy", "--idempotency-key", "release-1.4", "--server", url])
        #expect(first.status == 0, "\(first.stderr)")
        let id = first.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 32)
        let retry = try TockBinary.run(["jobs", "run", "deploy", "--idempotency-key", "release-1.4", "--server", url])
        #expect(retry.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == id)
        let other = try TockBinary.run(["jobs", "run", "deploy", "--idempotency-key", "release-1.5", "--server", url])
        #expect(other.status == 0 && other.stdout.trimmingCharacters(in: .whitespacesAndNewlines) != id)

        // A bad key is refused by the CLI before any request, naming the option.
        let bad = try TockBinary.run(["jobs", "run", "deploy", "--idempotency-key", "", "--server", url])
        #expect(bad.status != 0 && bad.stderr.contains("--idempotency-key"), "\(bad.stderr)")

        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
        daemon = try ServeCommandTests.Daemon(directory: directory)
        url = try await server(daemon)
        let afterRestart = try TockBinary.run(
            ["jobs", "run", "deploy", "--idempotency-key", "release-1.4", "--server", url, "--json"])
        #expect(afterRestart.status == 0)
        #expect(try JSONValue.parse(Array(afterRestart.stdout.utf8))["execution_id"] == .string(id))
        let listed = try TockBinary.run(["executions", "list", "--job", "deploy", "--server", url, "--json"])
        guard case .array(let executions)? = try JSONValue.parse(Array(listed.stdout.utf8))["executions"] else {
            Issue.record("no executions: \(listed.stdout)")
            return
        }
        #expect(executions.count == 2, "one run per key")
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0)
    }
}
