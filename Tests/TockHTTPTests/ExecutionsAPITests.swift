import CronKit
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

/// Executions, output, the audit log and the other endpoints, over real processes.
@Suite(.timeLimit(.minutes(2)))
struct ExecutionsAPITests {
    let h: APIHarness
    init() throws { h = try APIHarness() }

    @Test func runNow_answersAtOnce_andObeysOverlap() async throws {
        try await h.test { client in
            let id = try await client.create(#"{"job_id": "slow", "schedule": "@yearly", "command": "sleep 2"}"#)
            let started = ContinuousClock.now
            let run = try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: [:])
            #expect(run.status == .ok)
            #expect(ContinuousClock.now - started < .seconds(1), "does not wait for the 2 s run")
            let execution = try #require(try json(run)["execution_id"]?.stringValue)
            // Readable at once.
            let read = try json(try await client.get("/api/v1/executions/\(execution)"))
            #expect(["scheduled", "running"].contains(read["state"]?.stringValue ?? ""))
            #expect(read["trigger"] == "manual" && read["job"]?["job_id"] == "slow")
            // The daemon that runs it (the scheduler's host: a node's name in a cluster).
            #expect(read["node"] == "test-host" && read["hostname"] == "test-host")
            // overlap = skip (the default): a second run is a conflict naming the running one…
            let conflict = try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: [:])
            #expect(conflict.status == .conflict)
            #expect(try json(conflict)["execution_id"] == .string(execution))
            // …unless forced.
            let forced = try await client.send(.post, "/api/v1/executions/\(id)?force=true", nil, headers: [:])
            #expect(forced.status == .ok)
            let second = try #require(try json(forced)["execution_id"]?.stringValue)
            #expect(second != execution)
            #expect(try await client.send(.post, "/api/v1/executions/nope", nil, headers: [:]).status == .notFound)
            let done = try await client.finished(execution)
            #expect(done["state"] == "succeeded" && done["exit_code"] == 0)
            #expect(done["result"] == "{\n    \"returncode\": 0\n}", "ndscheduler's result")
            let logs = try json(try await client.get("/api/v1/logs?job_id=slow"))
            guard case .array(let entries)? = logs["logs"] else { Issue.record("no logs"); return }
            let runs = entries.filter { $0["event"] == "custom_run" }.compactMap { $0["description"]?.stringValue }
            #expect(Set(runs) == [execution, second], "custom_run entries carry the execution id")
        }
    }

    @Test func liveOutput_followsARunningExecutionToItsEnd() async throws {
        try await h.test { client in
            let id = try await client.create(
                #"{"schedule": "@yearly", "command": "echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three; exit 4"}"#
            )
            let run = try json(try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: [:]))
            let execution = try #require(run["execution_id"]?.stringValue)
            try await eventually("running") { h.scheduler.liveOutput.isLive(execution) }
            let events = try await client.get(
                "/api/v1/executions/\(execution)/output", headers: [.accept: "text/event-stream"])
            #expect(events.headers[.contentType] == "text/event-stream")
            // Parse the event stream.
            var parsed: [(String, JSONValue)] = []
            var name = ""
            for line in text(events).split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") {
                    parsed.append((name, try JSONValue.parse(Array(line.dropFirst(6).utf8))))
                }
            }
            let stdout = parsed.filter { $0.0 == "output" && $0.1["stream"] == "stdout" }
                .compactMap { $0.1["text"]?.stringValue }.joined()
            let stderr = parsed.filter { $0.0 == "output" && $0.1["stream"] == "stderr" }
                .compactMap { $0.1["text"]?.stringValue }.joined()
            #expect(stdout == "one\nthree\n" && stderr == "two\n")
            let end = try #require(parsed.last)
            #expect(end.0 == "end" && end.1["exit_code"] == 4 && end.1["state"] == "failed")
            // Afterwards, the same from the store; plain text per stream.
            _ = try await client.finished(execution)
            #expect(text(try await client.get("/api/v1/executions/\(execution)/output")) == "one\nthree\n")
            #expect(text(try await client.get("/api/v1/executions/\(execution)/output?stream=stderr")) == "two\n")
            let replay = try await client.get(
                "/api/v1/executions/\(execution)/output?stream=stderr", headers: [.accept: "text/event-stream"])
            #expect(text(replay).contains(#""text":"two\n""#) && text(replay).contains("event: end"))
            #expect(text(replay).contains("one") == false, "only the stream asked for")
            #expect(try await client.get("/api/v1/executions/\(execution)/output?stream=both").status == .badRequest)
            #expect(try await client.get("/api/v1/executions/nope/output").status == .notFound)
        }
    }

    @Test func liveOutput_ofARunStillWaiting_followsItOnceItStarts() async throws {
        let h = try APIHarness(maxConcurrentRuns: 1)
        try await h.test { client in
            // The first run holds the only slot until it is stopped (a timed sleep raced the checks on a busy machine).
            let first = try await client.create(#"{"schedule": "@yearly", "command": "sleep 60"}"#)
            let second = try await client.create(#"{"schedule": "@yearly", "command": "echo second ran"}"#)
            let holding = try json(try await client.send(.post, "/api/v1/executions/\(first)", nil, headers: [:]))
            let holder = try #require(holding["execution_id"]?.stringValue)
            let run = try json(try await client.send(.post, "/api/v1/executions/\(second)", nil, headers: [:]))
            let waiting = try #require(run["execution_id"]?.stringValue)
            #expect(try json(try await client.get("/api/v1/executions/\(waiting)"))["state"] == "scheduled")
            // Opened while the run waits for a free slot: the tail waits too, then follows it to its end.
            async let tail = client.get("/api/v1/executions/\(waiting)/output", headers: [.accept: "text/event-stream"])
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await client.send(.delete, "/api/v1/executions/\(holder)", nil, headers: [:]).status == .ok)
            let events = text(try await tail)
            #expect(events.contains(#""text":"second ran\n""#), "\(events)")
            #expect(events.contains("event: end") && events.contains(#""state":"succeeded""#))
        }
    }

    @Test func deleteExecution_stopsTheRun() async throws {
        try await h.test { client in
            let id = try await client.create(#"{"schedule": "@yearly", "command": "sleep 300 & sleep 300; wait"}"#)
            let run = try json(try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: [:]))
            let execution = try #require(run["execution_id"]?.stringValue)
            var pid = 0
            try await eventually("has a pid") {
                guard case .int(let found)? = try json(try await client.get("/api/v1/executions/\(execution)"))["pid"]
                else { return false }
                pid = found
                return true
            }
            let stop = try await client.send(.delete, "/api/v1/executions/\(execution)", nil, headers: [:])
            #expect(try stop.status == .ok && (json(stop)["stopping"]) == true)
            let done = try await client.finished(execution)
            #expect(done["state"] == "stopped" && done["signal"] == .int(Int(SIGTERM)))
            #expect(ProcessGroup.livingMembers(Int32(pid)) == 0, "the whole group is gone")
            let again = try await client.send(.delete, "/api/v1/executions/\(execution)", nil, headers: [:])
            #expect(try again.status == .conflict && (json(again)["state"]) == "stopped")
            #expect(try await client.send(.delete, "/api/v1/executions/nope", nil, headers: [:]).status == .notFound)
            let logs = try json(try await client.get("/api/v1/logs?job_id=\(id)"))
            guard case .array(let entries)? = logs["logs"] else { Issue.record("no logs"); return }
            #expect(entries.contains { $0["event"] == "stopped" })
        }
    }

    @Test func executionList_filtersPagesAndTimeRanges() async throws {
        // 250 stored executions of two jobs, one a minute, ending 5½ minutes ago (whole seconds): each row's age is
        // half a minute away from the default window's 10 minutes, so a slow request cannot move a row across it.
        let end = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down) - 330)
        var records: [ExecutionRecord] = []
        for n in 0..<250 {
            var e = ExecutionRecord(
                jobID: n % 2 == 0 ? "even" : "odd", state: n % 5 == 0 ? .failed : .succeeded, trigger: .schedule,
                scheduledAt: end.addingTimeInterval(Double(n - 249) * 60), host: "h")
            e.exitCode = n % 5 == 0 ? 1 : 0
            records.append(e)
        }
        try await h.store.save(records)
        let stored = records
        try await h.test { client in
            func page(_ query: String) async throws -> (ids: [String], next: String?) {
                let response = try await client.get("/api/v1/executions?\(query)")
                #expect(response.status == .ok, "\(query): \(text(response))")
                let body = try json(response)
                guard case .array(let list)? = body["executions"] else { return ([], nil) }
                return (list.compactMap { $0["execution_id"]?.stringValue }, body["next_cursor"]?.stringValue)
            }
            let newestFirst = stored.sorted { ($0.scheduledAt, $0.id) > ($1.scheduledAt, $1.id) }
            // ndscheduler's default window: the last ten minutes (here: the newest 5 rows).
            #expect(try await page("").ids == Array(newestFirst.prefix(5).map(\.id)))
            // Pages with a cursor cover everything once, newest first.
            var seen: [String] = []
            var cursor: String? = nil
            repeat {
                let result = try await page("job_id=even&limit=40" + (cursor.map { "&cursor=\($0)" } ?? ""))
                seen += result.ids
                cursor = result.next
            } while cursor != nil
            #expect(seen == newestFirst.filter { $0.jobID == "even" }.map(\.id))
            // Filters combine.
            let failedOdd = try await page("job_id=odd&state=failed&limit=1000").ids
            #expect(failedOdd == newestFirst.filter { $0.jobID == "odd" && $0.state == .failed }.map(\.id))
            // A range given with a +02:00 offset means the same instants as in UTC.
            let from = end.addingTimeInterval(-30 * 60)
            let paris = try #require(ZoneRules.rules(forIdentifier: "Africa/Cairo"))
            let fromText = Timestamp.string(for: from, in: paris)
            let toText = Timestamp.string(for: end.addingTimeInterval(-10 * 60), in: paris)
            let ranged = try await page(
                "time_range_start=\(fromText.replacingOccurrences(of: "+", with: "%2B"))&time_range_end=\(toText.replacingOccurrences(of: "+", with: "%2B"))&limit=1000"
            ).ids
            #expect(
                ranged
                    == newestFirst.filter {
                        $0.scheduledAt >= from && $0.scheduledAt <= end.addingTimeInterval(-600)
                    }.map(\.id))
            #expect(ranged.count == 21)
            // Bad parameters are 400s naming the parameter.
            for (query, field) in [
                ("state=bogus", "state"), ("limit=0", "limit"), ("limit=x", "limit"), ("cursor=zzz", "cursor"),
                ("time_range_start=yesterday", "time_range_start"),
                ("time_range_start=2026-01-02T00:00:00Z&time_range_end=2026-01-01T00:00:00Z", "time_range_end"),
            ] {
                let response = try await client.get("/api/v1/executions?\(query)")
                #expect(try response.status == .badRequest && (json(response)["field"]) == .string(field), "\(query)")
            }
        }
    }

    @Test func auditLog_timeRange() async throws {
        try await h.test { client in
            let id = try await client.create(#"{"schedule": "@yearly", "command": "true"}"#)
            #expect(try await client.send(.post, "/api/v1/jobs/\(id)/pause").status == .ok)
            let all = try json(try await client.get("/api/v1/logs"))
            guard case .array(let entries)? = all["logs"] else { Issue.record("no logs"); return }
            #expect(entries.map { $0["event"]?.stringValue ?? "" } == ["paused", "added"])
            #expect(entries.allSatisfy { $0["user"] == "local" && $0["job_id"] == .string(id) })
            let past = try json(
                try await client.get(
                    "/api/v1/logs?time_range_start=2020-01-01T00:00:00Z&time_range_end=2020-01-02T00:00:00Z"))
            #expect(past["logs"] == [])
        }
    }

    @Test func schedulePreview_healthAndMetrics() async throws {
        try await h.test { client in
            let preview = try json(
                try await client.get("/api/v1/schedule/preview?expr=30%202%20*%20*%20*&tz=America/Los_Angeles&count=3"))
            #expect(preview["valid"] == true && preview["description"] == "At 02:30")
            guard case .array(let times)? = preview["next_run_times"] else { Issue.record("no times"); return }
            #expect(times.count == 3 && times.allSatisfy { ($0.stringValue ?? "").contains("T02:30:00-0") })
            let bad = try await client.get("/api/v1/schedule/preview?expr=61%20*%20*%20*%20*")
            #expect(bad.status == .badRequest)
            #expect(try json(bad)["error"] == "minute: 61 is out of range 0-59" && (json(bad)["field"]) == "expr")
            #expect(try await client.get("/api/v1/schedule/preview?expr=@daily&tz=Nowhere").status == .badRequest)
            #expect(try await client.get("/api/v1/schedule/preview").status == .badRequest)
            let every = try json(try await client.get("/api/v1/schedule/preview?expr=@every%2090s&count=2"))
            #expect(every["valid"] == true)

            let health = try json(try await client.get("/healthz"))
            #expect(health["status"] == "ok" && health["jobs"] == 1)
        }
    }

    @Test func metrics_countExecutionsByJobAndState_andTimeRuns() async throws {
        try await h.test { client in
            let ok = try await client.create(#"{"job_id": "ok", "schedule": "@yearly", "command": "true"}"#)
            let bad = try await client.create(#"{"job_id": "bad", "schedule": "@yearly", "command": "exit 2"}"#)
            for id in [ok, ok, bad] {
                let run = try json(
                    try await client.send(.post, "/api/v1/executions/\(id)?force=true", nil, headers: [:]))
                _ = try await client.finished(try #require(run["execution_id"]?.stringValue))
            }
            try await eventually("counted") {
                text(try await client.get("/metrics")).contains(#"tock_executions_total{job="bad",state="failed"} 1"#)
            }
            let metrics = try await client.get("/metrics")
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            let body = text(metrics)
            #expect(body.contains(#"tock_executions_total{job="ok",state="succeeded"} 2"#), "\(body)")
            #expect(body.contains("tock_run_duration_seconds_count 3"))
            #expect(body.contains("tock_jobs_loaded 3"), "the file job and the two created")
            // Schedule lag is measured for scheduled runs (not manual ones).
            #expect(!body.contains("tock_schedule_lag_seconds_count 1"))
            let tick = try await client.create(#"{"job_id": "tick", "schedule": "* * * * * *", "command": "true"}"#)
            try await eventually("a scheduled run measured") {
                let text = text(try await client.get("/metrics"))
                guard
                    let line = text.split(separator: "\n").first(where: {
                        $0.hasPrefix("tock_schedule_lag_seconds_count ")
                    }),
                    let count = Int(line.split(separator: " ").last ?? "")
                else { return false }
                return count >= 1
            }
            #expect(try await client.send(.post, "/api/v1/jobs/\(tick)/pause").status == .ok)
        }
    }

    @Test func openAPIDocument_coversEveryRoute() async throws {
        try await h.test { client in
            let response = try await client.get("/api/v1/openapi.json")
            let document = try json(response)
            #expect(document["openapi"]?.stringValue?.hasPrefix("3.") == true)
            let paths = try #require(document["paths"])
            #expect(h.routes.count >= 18)
            for route in h.routes {
                let operation = paths[route.path]?[route.method.lowercased()]
                #expect(operation != nil, "\(route) is missing from the OpenAPI document")
                #expect(operation?["responses"] != nil, "\(route) documents its responses")
                // Who may call it, as the route table says (`x-tock-role`).
                #expect(
                    operation?["x-tock-role"]?.stringValue == route.access.description,
                    "\(route): x-tock-role should be \(route.access)")
            }
            // And nothing documented that the server does not serve.
            for (path, item) in paths.objectPairs ?? [] {
                for (method, _) in item.objectPairs ?? [] where method != "parameters" {
                    #expect(
                        h.routes.contains { $0.method == method.uppercased() && $0.path == path }, "\(method) \(path)")
                }
            }
        }
    }
}
