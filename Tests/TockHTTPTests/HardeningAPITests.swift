import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TockCore
import TockHTTP
import TockJSON
import TockSQLite
import TockTesting

/// Hostile and careless input through the API (issue 11): every extreme value is a 400 naming its field and the
/// daemon lives on; a store that cannot write is a 503; a run that just ended reads as ended.
@Suite(.timeLimit(.minutes(2)))
struct HardeningAPITests {
    let h: APIHarness
    init() throws { h = try APIHarness() }

    static let extremes = [
        "999999999999999999m", "9223372036854775807s", "10000000000000s", "1e400", "-1s", "0x10s",
        "1000000000000000000000000000000s", "1s\u{0}", String(repeating: "9", count: 1 << 19) + "s",
    ]

    @Test func everyDurationField_andSchedule_refuseExtremes_andTheDaemonLives() async throws {
        try await h.test { client in
            for key in ["timeout", "kill_grace", "jitter", "retry_delay", "retry_max_delay", "catchup_window"] {
                for value in Self.extremes {
                    let body = JSONValue.object([
                        ("job_id", "x"), ("schedule", "@hourly"), ("command", "true"), (key, .string(value)),
                    ])
                    let response = try await client.send(.post, "/api/v1/jobs", body.jsonString)
                    #expect(response.status == .badRequest, "\(key) = \(value.prefix(30))")
                    #expect(try json(response)["field"]?.stringValue == key, "\(key) = \(value.prefix(30))")
                }
                // Numbers beyond any duration, as JSON numbers.
                for number in ["9223372036854775807", "1e400", "-9223372036854775808", "1e30"] {
                    let body = #"{"job_id":"x","schedule":"@hourly","command":"true","\#(key)":\#(number)}"#
                    let response = try await client.send(.post, "/api/v1/jobs", body)
                    #expect(response.status == .badRequest, "\(key) = \(number)")
                }
            }
            for expr in ["@every 10000000000000s", "@every 999999999999999999m", "@every 9223372036854775807s"] {
                let body = JSONValue.object([("job_id", "x"), ("schedule", .string(expr)), ("command", "true")])
                let response = try await client.send(.post, "/api/v1/jobs", body.jsonString)
                #expect(try response.status == .badRequest && json(response)["field"] == "schedule", "\(expr)")
                let encoded = expr.replacingOccurrences(of: " ", with: "%20")
                let preview = try await client.get("/api/v1/schedule/preview?expr=\(encoded)")
                #expect(preview.status == .badRequest, "\(expr)")
                #expect(try json(preview)["error"]?.stringValue?.contains("too long") == true)
            }
            #expect(try await h.store.apiJobs().isEmpty)
            // Still alive, and every list the UI polls still answers.
            #expect(try await client.get("/api/v1/jobs").status == .ok)
            #expect(try await client.get("/healthz").status == .ok)
        }
    }

    @Test func aNULInACommand_isRefused_notTruncated() async throws {
        try await h.test { client in
            let command = try await client.send(
                .post, "/api/v1/jobs", #"{"job_id":"n","schedule":"@yearly","command":"echo a\u0000; rm -rf /tmp/x"}"#)
            #expect(try command.status == .badRequest && json(command)["field"] == "command")
            let exec = try await client.send(
                .post, "/api/v1/jobs", #"{"job_id":"n","schedule":"@yearly","exec":["/bin/echo","a\u0000b"]}"#)
            #expect(try exec.status == .badRequest && json(exec)["field"] == "exec")
            let nd = try await client.send(
                .post, "/api/v1/jobs",
                #"{"job_class_string":"simple_scheduler.jobs.shell_job.ShellJob","name":"n","pub_args":["/bin/echo","\u0000"],"minute":"1"}"#
            )
            #expect(nd.status == .badRequest)
            #expect(try await h.store.apiJobs().isEmpty)
        }
    }

    @Test func aStateWithASpace_mayBeWrittenWithPlus() async throws {
        try await h.test { client in
            for query in ["state=scheduled+error", "state=scheduled%20error"] {
                let response = try await client.get("/api/v1/executions?\(query)")
                #expect(response.status == .ok, "\(query): \(text(response))")
            }
            #expect(try await client.get("/api/v1/executions?state=bogus").status == .badRequest)
        }
    }

    @Test(arguments: [SQLiteJobStore.SimulatedWriteFailure.diskFull, .readOnly])
    func aStoreThatCannotWrite_isA503_andTheRunIsRecordedWhenItCan(_ failure: SQLiteJobStore.SimulatedWriteFailure)
        async throws
    {
        try await h.test { client in
            let id = try await client.create(
                #"{"job_id":"big","schedule":"@yearly","command":"head -c 200000 /dev/zero | tr '\\0' x"}"#)
            // Fill the free pages first, so that the simulated full disk refuses the next row.
            try h.store.simulateWriteFailure(failure)
            var refused: TestResponse?
            for _ in 0..<50 {
                let response = try await client.send(.post, "/api/v1/executions/\(id)?force=true", nil)
                if response.status != .ok {
                    refused = response
                    break
                }
                _ = try await client.finished(try #require(try json(response)["execution_id"]?.stringValue))
            }
            let response = try #require(refused, "the store never refused a write")
            #expect(response.status == .serviceUnavailable)
            let message = try #require(try json(response)["error"]?.stringValue)
            #expect(message.contains(failure == .diskFull ? "disk is full" : "read-only"), "\(message)")
            #expect(try await client.get("/api/v1/jobs").status == .ok)
            try h.store.simulateWriteFailure(nil)
            let again = try await client.send(.post, "/api/v1/executions/\(id)?force=true", nil)
            #expect(again.status == .ok)
            let done = try await client.finished(try #require(try json(again)["execution_id"]?.stringValue))
            #expect(done["state"] == "succeeded")
            #expect(done["stdout_bytes"] == 200_000)
        }
    }

    @Test func outputRightAfterTheLiveEnd_isTheFinalOne() async throws {
        try await h.test { client in
            let id = try await client.create(#"{"job_id":"quick","schedule":"@yearly","command":"echo done"}"#)
            for _ in 0..<10 {
                let run = try json(try await client.send(.post, "/api/v1/executions/\(id)?force=true", nil))
                let execution = try #require(run["execution_id"]?.stringValue)
                let events = try await client.get(
                    "/api/v1/executions/\(execution)/output",
                    headers: [.accept: "text/event-stream"])
                #expect(text(events).contains("event: end"))
                let output = try await client.get("/api/v1/executions/\(execution)/output")
                #expect(text(output) == "done\n")
                #expect(output.headers[HTTPField.Name("X-Tock-Execution-State")!] == "succeeded")
                let record = try json(try await client.get("/api/v1/executions/\(execution)"))
                #expect(record["state"] == "succeeded")
            }
        }
    }
}
