import CronKit
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import TockCore
import TockHTTP
import TockJSON
import TockSQLite
import TockTesting

/// `POST /api/v1/executions/{job_id}` with `Idempotency-Key`: a client's retries record one run (SQLite store, real
/// processes).
@Suite(.timeLimit(.minutes(2)))
struct IdempotencyAPITests {
    let h: APIHarness
    init() throws { h = try APIHarness() }

    static let key = HTTPField.Name("Idempotency-Key")!
    static let replayed = HTTPField.Name("Idempotent-Replayed")!

    @Test func runNow_withTheSameKeyTwice_recordsOneRun_andAnswersTheSameBody() async throws {
        try await h.test { client in
            let id = try await client.create(#"{"job_id": "once", "schedule": "@yearly", "command": "sleep 1"}"#)
            let first = try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: [Self.key: "deploy-42"])
            #expect(first.status == .ok)
            #expect(first.headers[Self.replayed] == nil)
            let execution = try #require(try json(first)["execution_id"]?.stringValue)
            // While it runs (overlap = skip would refuse a second run with 409), and after it ended: the same answer.
            let retry = try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: [Self.key: "deploy-42"])
            #expect(retry.status == .ok)
            #expect(retry.headers[Self.replayed] == "true")
            #expect(try json(retry) == json(first))
            _ = try await client.finished(execution)
            let late = try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: [Self.key: "deploy-42"])
            #expect(try json(late)["execution_id"] == .string(execution))
            #expect(late.headers[Self.replayed] == "true")
            // Another key is another run.
            let other = try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: [Self.key: "deploy-43"])
            #expect(other.status == .ok && other.headers[Self.replayed] == nil)
            let second = try #require(try json(other)["execution_id"]?.stringValue)
            #expect(second != execution)
            _ = try await client.finished(second)
            let runs = try await h.store.executions(jobID: id, limit: 10)
            #expect(Set(runs.map(\.id)) == [execution, second], "one execution per key")
            // One audit entry per run, none for the replays.
            let logs = try json(try await client.get("/api/v1/logs?job_id=once"))
            guard case .array(let entries)? = logs["logs"] else { Issue.record("no logs"); return }
            #expect(entries.filter { $0["event"] == "custom_run" }.count == 2)
        }
    }

    @Test func runNow_withABadKey_is400NamingTheHeader_andRunsNothing() async throws {
        try await h.test { client in
            let id = try await client.create(#"{"job_id": "picky", "schedule": "@yearly", "command": "true"}"#)
            for bad in ["", String(repeating: "k", count: 201), "tab\there"] {
                let response = try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: [Self.key: bad])
                #expect(response.status == .badRequest, "\(bad.count) characters")
                let body = try json(response)
                #expect(body["field"] == "Idempotency-Key")
                #expect(body["error"]?.stringValue?.hasPrefix("Idempotency-Key") == true)
            }
            var twice = HTTPFields()
            twice.append(HTTPField(name: Self.key, value: "a"))
            twice.append(HTTPField(name: Self.key, value: "b"))
            #expect(try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: twice).status == .badRequest)
            // 200 characters is the limit, not over it.
            let longest = String(repeating: "k", count: 200)
            #expect(
                try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: [Self.key: longest]).status
                    == .ok)
            #expect(try await h.store.executions(jobID: id, limit: 10).count == 1)
        }
    }

    @Test func runNow_withAKey_survivesARestartOfTheScheduler() async throws {
        // The key is in the store: a second scheduler (a restarted daemon) on the same file answers the same.
        let store = h.store
        let job = Job(
            id: "kept", schedule: try ScheduleExpression(parsing: "@yearly"),
            action: .command("true", shell: "/bin/sh"),
            source: .file(path: "jobs.d/k.toml", line: 1))
        func scheduler() -> Scheduler {
            Scheduler(
                jobs: [job], store: store, runner: RecordingJobRunner(clock: SystemWallClock()),
                configuration: SchedulerConfiguration(host: "test-host"),
                logger: .init(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        }
        let first = scheduler()
        let run = try await first.runNow(jobID: "kept", force: false, idempotencyKey: "nightly-fix")
        #expect(!run.replayed)
        let restarted = scheduler()
        let again = try await restarted.runNow(jobID: "kept", force: true, idempotencyKey: "nightly-fix")
        #expect(again == Scheduler.ManualRun(executionID: run.executionID, replayed: true))
        #expect(try await store.executions(jobID: "kept", limit: 10).count == 1)
    }
}
