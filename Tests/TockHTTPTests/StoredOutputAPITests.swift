import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TockCore
import TockJSON

/// A finished execution's output, read from the store a piece (1 MiB) at a time: every byte arrives, in order, and
/// server-sent events never cut a character in two where a piece boundary falls inside it.
struct StoredOutputAPITests {
    let h: APIHarness

    init() throws { h = try APIHarness() }

    @Test func storedOutput_largerThanAPiece_isWhole_andEventsCutOnlyBetweenCharacters() async throws {
        // 2.5 MiB of 1-, 2-, 3- and 4-byte characters: the 1 MiB boundaries fall inside some of them.
        let unit = "a é € 😀 "
        let stdoutText = String(repeating: unit, count: (5 << 20) / 2 / unit.utf8.count) + "end"
        var record = ExecutionRecord(
            jobID: "from-file", state: .failed, trigger: .manual, scheduledAt: Date(),
            host: "test-host")
        record.stdout = Array(stdoutText.utf8)
        record.stderr = Array("oops\n".utf8)
        record.stdoutBytes = record.stdout.count
        record.stderrBytes = record.stderr.count
        record.exitCode = 3
        try await h.store.save(record)
        let saved = record
        try await h.test { client in
            let record = saved
            let plain = try await client.get("/api/v1/executions/\(record.id)/output")
            #expect(plain.status == .ok && plain.headers[HTTPField.Name("X-Tock-Execution-State")!] == "failed")
            #expect(Array(plain.body.readableBytesView) == record.stdout)
            #expect(text(try await client.get("/api/v1/executions/\(record.id)/output?stream=stderr")) == "oops\n")

            let events = try await client.get(
                "/api/v1/executions/\(record.id)/output", headers: [.accept: "text/event-stream"])
            var parsed: [(String, JSONValue)] = []
            var name = ""
            for line in text(events).split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") {
                    parsed.append((name, try JSONValue.parse(Array(line.dropFirst(6).utf8))))
                }
            }
            let stdout = parsed.filter { $0.0 == "output" && $0.1["stream"] == "stdout" }
                .compactMap { $0.1["text"]?.stringValue }
            #expect(stdout.count >= 3, "one event per piece")
            #expect(!stdout.contains { $0.contains("\u{FFFD}") }, "no character cut in two")
            #expect(stdout.joined() == stdoutText)
            #expect(parsed.filter { $0.0 == "output" && $0.1["stream"] == "stderr" }.map { $0.1["text"] } == ["oops\n"])
            let end = try #require(parsed.last)
            #expect(end.0 == "end" && end.1["exit_code"] == 3 && end.1["state"] == "failed")

            let onlyStderr = try await client.get(
                "/api/v1/executions/\(record.id)/output?stream=stderr", headers: [.accept: "text/event-stream"])
            #expect(!text(onlyStderr).contains("\"stdout\"") && text(onlyStderr).contains("oops"))
            #expect(try await client.get("/api/v1/executions/nope/output").status == .notFound)
            #expect(
                try await client.get("/api/v1/executions/nope/output", headers: [.accept: "text/event-stream"]).status
                    == .notFound)
        }
    }

    @Test func emptyStoredOutput_isAnEmptyBody_andJustTheEndEvent() async throws {
        let record = ExecutionRecord(
            jobID: "from-file", state: .succeeded, trigger: .manual, scheduledAt: Date(),
            host: "test-host")
        try await h.store.save(record)
        try await h.test { client in
            let plain = try await client.get("/api/v1/executions/\(record.id)/output")
            #expect(plain.status == .ok && plain.body.readableBytes == 0)
            let events = text(
                try await client.get("/api/v1/executions/\(record.id)/output", headers: [.accept: "text/event-stream"]))
            #expect(!events.contains("event: output") && events.contains("event: end"))
        }
    }
}
