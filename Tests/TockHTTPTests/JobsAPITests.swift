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

/// Jobs through the API: ndscheduler's recorded requests, Tock's keys, and every error status.
@Suite(.timeLimit(.minutes(2)))
struct JobsAPITests {
    let h: APIHarness
    init() throws { h = try APIHarness() }

    /// Exchange 4 of ndscheduler-api-samples.md, as its UI sends it.
    static let ndschedulerCreate = """
        {"job_class_string": "simple_scheduler.jobs.shell_job.ShellJob", "name": "echo-every-5-min", \
        "pub_args": ["/bin/sh", "-c", "echo sample-job $(date +%s.%N) >> /var/tmp/shell.out"], "minute": "*/5"}
        """

    @Test func ndschedulerCreate_isListedWithNdschedulerKeys() async throws {
        try await h.test { client in
            // Taken before the job exists: a 5-minute boundary may pass while the test runs.
            let created = Date()
            let id = try await client.create(Self.ndschedulerCreate)
            #expect(id.count == 32 && id.allSatisfy(\.isHexDigit), "ndscheduler-style id")
            let list = try json(try await client.get("/api/v1/jobs"))
            // The job's next instant was computed between `created` and now.
            let listed = Date()
            guard case .array(let jobs)? = list["jobs"] else { Issue.record("no jobs array"); return }
            let job = try #require(jobs.first { $0["job_id"]?.stringValue == id })
            #expect(job["name"] == "echo-every-5-min")
            #expect(job["job_class_string"] == "simple_scheduler.jobs.shell_job.ShellJob")
            #expect(
                job["pub_args"] == ["/bin/sh", "-c", "echo sample-job $(date +%s.%N) >> /var/tmp/shell.out"])
            for (key, value) in [
                ("month", "*"), ("day", "*"), ("week", "*"), ("day_of_week", "*"), ("hour", "*"), ("minute", "*/5"),
            ] {
                #expect(job[key] == .string(value), "\(key)")
            }
            #expect(job["schedule"] == "*/5 * * * *")
            #expect(job["source"] == "api" && job["paused"] == false)
            let next = try #require(job["next_run_time"]?.stringValue)
            let date = try #require(Date(parsing: next, defaultZone: .utc))
            #expect(next.hasSuffix("+00:00") && date > created && date <= listed.addingTimeInterval(300))
            #expect(Int(date.timeIntervalSince1970) % 300 == 0, "on a 5-minute boundary")
            // The same object alone.
            #expect(try json(try await client.get("/api/v1/jobs/\(id)")) == job)
            // Jobs from files are listed too, with where they come from.
            let fileJob = try #require(jobs.first { $0["job_id"] == "from-file" })
            #expect(fileJob["source"] == "file" && fileJob["file"] == "jobs.d/file.toml" && fileJob["line"] == 1)
            #expect(list["counts"]?["total"] == 2)
        }
    }

    @Test func ndschedulerFields_followAPSchedulerRules() async throws {
        try await h.test { client in
            // Exchange 5: all five fields; day_of_week counts from Monday.
            let weekday = try await client.create(
                #"{"job_class_string": "simple_scheduler.jobs.shell_job.ShellJob", "name": "weekday-0930", "pub_args": ["/bin/true"], "month": "*", "day": "*", "day_of_week": "mon-fri", "hour": "9", "minute": "30"}"#
            )
            let job = try json(try await client.get("/api/v1/jobs/\(weekday)"))
            #expect(job["schedule"] == "30 9 * * 1-5")
            #expect(job["day_of_week"] == "mon-fri" && job["hour"] == "9" && job["minute"] == "30")
            // An omitted less significant field takes its minimum: 09:00, not every minute of hour 9.
            let nine = try await client.create(
                #"{"job_class_string": "simple_scheduler.jobs.shell_job.ShellJob", "name": "nine", "pub_args": ["/bin/true"], "hour": "9", "day_of_week": "0"}"#
            )
            let nineJob = try json(try await client.get("/api/v1/jobs/\(nine)"))
            #expect(nineJob["schedule"] == "0 9 * * 1", "0 = Monday in APScheduler")
            #expect(nineJob["minute"] == "0" && nineJob["day_of_week"] == "mon")
        }
    }

    @Test func tockKeys_createEveryKey_andPutRoundTrips() async throws {
        try await h.test { client in
            let body = #"""
                {"job_id": "backup", "name": "Nightly backup", "schedule": "30 2 * * *", "command": "echo backing up",
                 "timezone": "Europe/Paris", "timeout": "1h", "retries": 2, "retry_delay": "30s", "overlap": "queue",
                 "catchup": "latest", "jitter": "5m", "max_output": "64KiB", "tags": ["nightly", "db"],
                 "env": {"TARGET": "/srv"}, "description": "dumps the database", "enabled": true,
                 "on_failure": {"webhook": "https://example.com/hook"}}
                """#
            #expect(try await client.create(body) == "backup")
            let job = try json(try await client.get("/api/v1/jobs/backup"))
            #expect(job["timezone"] == "Europe/Paris" && job["timeout"] == "1h" && job["retries"] == 2)
            #expect(job["overlap"] == "queue" && job["catchup"] == "latest" && job["jitter"] == "5m")
            #expect(job["max_output"] == 65536 && job["tags"] == ["nightly", "db"])
            #expect(job["env"] == .object([("TARGET", "/srv")]))
            #expect(job["command"] == "echo backing up" && job["pub_args"] == ["/bin/sh", "-c", "echo backing up"])
            #expect(job["on_failure"] == .object([("webhook", "https://example.com/hook")]))
            #expect(job["schedule_description"] == "At 02:30")
            let next = try #require(
                job["next_run_time"]?.stringValue.flatMap { Date(parsing: $0, defaultZone: .utc) })
            let paris = try #require(ZoneRules.rules(forIdentifier: "Europe/Paris"))
            #expect(Timestamp.string(for: next, in: paris).contains("T02:30:00"), "02:30 in Paris")

            // What GET returned can be sent back with PUT (response-only keys are ignored).
            var pairs = job.objectPairs ?? []
            pairs = pairs.map { $0.0 == "name" ? ($0.0, "Nightly backup v2") : $0 }
            let put = try await client.send(.put, "/api/v1/jobs/backup", JSONValue.object(pairs).jsonString)
            #expect(put.status == .ok, "\(text(put))")
            #expect(try json(put)["modified"] == ["name"], "only what changed is reported")
            #expect(try json(try await client.get("/api/v1/jobs/backup"))["name"] == "Nightly backup v2")
            let logs = try json(try await client.get("/api/v1/logs?job_id=backup"))
            let modified = try #require(
                {
                    if case .array(let entries)? = logs["logs"] { return entries.first { $0["event"] == "modified" } }
                    return nil
                }())
            #expect(modified["description"] == #"name: "Nightly backup" → "Nightly backup v2""#)
            #expect(modified["user"] == "local")
        }
    }

    @Test func pauseAndResume_withNdschedulerVerbsAndPaths() async throws {
        try await h.test { client in
            let id = try await client.create(#"{"schedule": "* * * * *", "command": "true"}"#)
            let patch = try await client.send(.patch, "/api/v1/jobs/\(id)", nil, headers: [:])
            #expect(try patch.status == .ok && (json(patch)["paused"]) == true)
            #expect(try json(try await client.get("/api/v1/jobs/\(id)"))["next_run_time"] == "", "ndscheduler: \"\"")
            #expect(try json(try await client.get("/api/v1/jobs/\(id)"))["paused"] == true)
            let options = try await client.send(.options, "/api/v1/jobs/\(id)", nil, headers: [:])
            #expect(try options.status == .ok && (json(options)["paused"]) == false)
            #expect(try json(try await client.get("/api/v1/jobs/\(id)"))["next_run_time"] != "")
            #expect(try await client.send(.post, "/api/v1/jobs/\(id)/pause").status == .ok)
            let again = try await client.send(.post, "/api/v1/jobs/\(id)/pause")
            #expect(try json(again)["changed"] == false, "pausing a paused job changes nothing")
            #expect(try await client.send(.post, "/api/v1/jobs/\(id)/resume").status == .ok)
            // File jobs can be paused too (their state is not the file's).
            #expect(try await client.send(.post, "/api/v1/jobs/from-file/pause").status == .ok)
            #expect(try await client.send(.post, "/api/v1/jobs/nope/pause").status == .notFound)
            let events = try json(try await client.get("/api/v1/logs?job_id=\(id)"))["logs"]
            guard case .array(let entries)? = events else { Issue.record("no logs"); return }
            #expect(
                entries.map { $0["event"]?.stringValue ?? "" } == ["resumed", "paused", "resumed", "paused", "added"])
        }
    }

    @Test func delete_reportsWhatHappened_andKeepsHistory() async throws {
        try await h.test { client in
            let id = try await client.create(#"{"schedule": "@yearly", "command": "echo hi"}"#)
            let run = try json(try await client.send(.post, "/api/v1/executions/\(id)", nil, headers: [:]))
            let execution = try #require(run["execution_id"]?.stringValue)
            _ = try await client.finished(execution)
            let deleted = try await client.send(.delete, "/api/v1/jobs/\(id)", nil, headers: [:])
            #expect(try deleted.status == .ok && (json(deleted)["deleted"]) == true)
            #expect(try await client.get("/api/v1/jobs/\(id)").status == .notFound)
            #expect(try await client.send(.delete, "/api/v1/jobs/\(id)", nil, headers: [:]).status == .notFound)
            // Its executions stay, without the job object (as ndscheduler omits it).
            let kept = try json(try await client.get("/api/v1/executions/\(execution)"))
            #expect(kept["state"] == "succeeded" && kept["job"] == nil && kept["job_id"] == .string(id))
            let logs = try json(try await client.get("/api/v1/logs?job_id=\(id)"))["logs"]
            guard case .array(let entries)? = logs else { Issue.record("no logs"); return }
            let entry = try #require(entries.first { $0["event"] == "deleted" })
            // The description is the job as it was.
            let was = try JSONValue.parse(Array((entry["description"]?.stringValue ?? "").utf8))
            #expect(was["command"] == "echo hi")
            #expect(try await h.store.apiJobs().isEmpty)
        }
    }

    @Test func fileJobs_areReadOnly() async throws {
        try await h.test { client in
            let put = try await client.send(.put, "/api/v1/jobs/from-file", #"{"schedule": "@daily", "command": "x"}"#)
            #expect(put.status == .conflict)
            #expect(try json(put)["error"]?.stringValue?.contains("jobs.d/file.toml:1") == true)
            #expect(try await client.send(.delete, "/api/v1/jobs/from-file", nil, headers: [:]).status == .conflict)
            let post = try await client.send(
                .post, "/api/v1/jobs", #"{"job_id": "from-file", "schedule": "@daily", "command": "x"}"#)
            #expect(post.status == .conflict)
            #expect(try json(try await client.get("/api/v1/jobs/from-file"))["command"] == "echo from a file")
        }
    }

    @Test func listFilters_byTagAndText() async throws {
        try await h.test { client in
            _ = try await client.create(
                #"{"job_id": "a", "schedule": "@daily", "command": "echo alpha", "tags": ["x"]}"#)
            _ = try await client.create(#"{"job_id": "b", "name": "Bravo", "schedule": "@daily", "command": "true"}"#)
            func ids(_ query: String) async throws -> [String] {
                guard case .array(let jobs)? = try json(try await client.get("/api/v1/jobs\(query)"))["jobs"] else {
                    return []
                }
                return jobs.compactMap { $0["job_id"]?.stringValue }
            }
            #expect(try await ids("") == ["a", "b", "from-file"])
            #expect(try await ids("?tag=x") == ["a"])
            #expect(try await ids("?tag=nightly") == ["from-file"])
            #expect(try await ids("?q=bravo") == ["b"])
            #expect(try await ids("?q=ALPHA") == ["a"])
            #expect(try await ids("?limit=1&offset=1") == ["b"])
            #expect(try await client.get("/api/v1/jobs?limit=0").status == .badRequest)
        }
    }

    /// Counts come from the index and the store's newest execution per job (issue 18), and follow runs and pauses;
    /// a search matches within one text only, case-insensitively, also for texts that are not ASCII.
    @Test func listCounts_followRunsAndPauses_andSearchStaysWithinOneText() async throws {
        try await h.test { client in
            _ = try await client.create(
                #"{"job_id": "a", "name": "Ärger", "schedule": "@daily", "command": "exit 3", "tags": ["x"]}"#)
            _ = try await client.create(#"{"job_id": "b", "name": "Bravo", "schedule": "@daily", "command": "true"}"#)
            _ = try await client.create(
                #"{"job_id": "c", "schedule": "@daily", "command": "true", "enabled": false, "tags": ["x"]}"#)
            func list(_ query: String) async throws -> (ids: [String], counts: [Int]) {
                let body = try json(try await client.get("/api/v1/jobs\(query)"))
                guard case .array(let jobs)? = body["jobs"] else { return ([], []) }
                let counts = ["total", "active", "paused", "failing", "matching"].map { key -> Int in
                    if case .int(let n)? = body["counts"]?[key] { return n }
                    return -1
                }
                return (jobs.compactMap { $0["job_id"]?.stringValue }, counts)
            }
            #expect(try await list("").counts == [4, 3, 0, 0, 4])
            // a fails: its run is its newest execution.
            let run = try await client.send(.post, "/api/v1/executions/a")
            _ = try await client.finished(try #require(try json(run)["execution_id"]?.stringValue))
            try await eventually("a counted failing") { try await list("?limit=2").counts[3] == 1 }
            #expect(try await list("?limit=2") == (["a", "b"], [4, 3, 0, 1, 4]))
            #expect(try await list("?tag=x&limit=1&offset=1") == (["c"], [4, 3, 0, 1, 2]))
            #expect(try await client.send(.post, "/api/v1/jobs/b/pause").status == .ok)
            #expect(try await list("?q=BRAV") == (["b"], [4, 2, 1, 1, 1]))
            // Within one text: "a" + "ärger" is no match; a non-ASCII query is compared as Strings.
            #expect(try await list("?q=aärger").ids.isEmpty)
            #expect(try await list("?q=ÄRG").ids == ["a"])
            #expect(try await list("?q=exit 3").ids == ["a"])
            // The whole list (kept as one buffer) moves with the pause too.
            let whole = try json(try await client.get("/api/v1/jobs"))
            #expect(whole["counts"]?["paused"] == 1)
            #expect(try await client.send(.post, "/api/v1/jobs/b/resume").status == .ok)
            #expect(try json(try await client.get("/api/v1/jobs"))["counts"]?["paused"] == 0)
            // One job's page renders it alone, with its last result.
            let a = try json(try await client.get("/api/v1/jobs/a"))
            #expect(a["last_execution"]?["state"] == "failed" && a["recent_results"] == ["failed"])
        }
    }

    /// A bad cron gives 400 naming the field (ndscheduler: 500, or a hung server for an out-of-range value).
    @Test(
        arguments: [
            (
                #"{"job_class_string": "simple_scheduler.jobs.shell_job.ShellJob", "name": "bad", "pub_args": ["/bin/true"], "minute": "abc"}"#,
                "minute"
            ),
            (
                #"{"job_class_string": "simple_scheduler.jobs.shell_job.ShellJob", "name": "bad", "pub_args": ["/bin/true"], "minute": "99"}"#,
                "minute"
            ),
            (
                #"{"job_class_string": "simple_scheduler.jobs.shell_job.ShellJob", "name": "bad", "pub_args": ["/bin/true"], "day_of_week": "mon-xyz"}"#,
                "day_of_week"
            ),
            (
                #"{"job_class_string": "simple_scheduler.jobs.shell_job.ShellJob", "name": "x", "pub_args": ["/bin/true"]}"#,
                "schedule"
            ),
            (#"{"job_class_string": "no.such.Job", "name": "ghost", "minute": "0", "hour": "0"}"#, "job_class_string"),
            (#"{"schedule": "61 * * * *", "command": "true"}"#, "schedule"),
            (#"{"schedule": "0 0 30 2 *", "command": "true"}"#, "schedule"),
            (#"{"schedule": "@daily"}"#, nil),
            (#"{"schedule": "@daily", "command": "true", "retries": "3"}"#, "retries"),
            (#"{"schedule": "@daily", "command": "true", "timeout": "5x"}"#, "timeout"),
            (#"{"schedule": "@daily", "command": "true", "timezone": "Mars/Olympus"}"#, "timezone"),
            (#"{"schedule": "@daily", "command": "true", "overlap": "sometimes"}"#, "overlap"),
            (#"{"schedule": "@daily", "command": "true", "tags": "x"}"#, "tags"),
            (#"{"schedule": "@daily", "command": "true", "schedul": "x"}"#, "schedul"),
            (#"{"schedule": "@daily", "command": "true", "env": {"A": 1}}"#, "env"),
            (#"{"schedule": 5, "command": "true"}"#, "schedule"),
            (#"{"job_id": "bad id!", "schedule": "@daily", "command": "true"}"#, "job_id"),
            (#"{"schedule": "@daily", "exec": []}"#, "exec"),
            (#"[1, 2]"#, nil),
            (#""#, "body"),
            (#"{"schedule": "@daily", "command": "true""#, "body"),
            (#"{"schedule": "@daily", "command": "true",}"#, "body"),
            ("{\"schedule\": \"@daily\", \"command\": \"\u{07}\"}", "body"),
        ] as [(String, String?)])
    func badBodies_are400_namingTheField_andChangeNothing(body: String, field: String?) async throws {
        try await h.test { client in
            let created = try await client.create(#"{"job_id": "keep", "schedule": "@daily", "command": "true"}"#)
            let before = try await h.store.apiJobs()
            let auditBefore = try await h.store.auditLog(limit: 100).count
            for (method, uri) in [(HTTPRequest.Method.post, "/api/v1/jobs"), (.put, "/api/v1/jobs/\(created)")] {
                let response = try await client.send(method, uri, body)
                #expect(response.status == .badRequest, "\(method) \(body) → \(response.status) \(text(response))")
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                let error = try json(response)
                #expect(error["error"]?.stringValue?.isEmpty == false)
                if let field { #expect(error["field"] == .string(field), "\(text(response))") }
            }
            #expect(try await h.store.apiJobs() == before, "nothing stored changed")
            #expect(try await h.store.auditLog(limit: 100).count == auditBefore)
            #expect(try json(try await client.get("/api/v1/jobs/keep"))["command"] == "true")
        }
    }

    @Test func otherMalformedRequests_neverGive5xx() async throws {
        try await h.test { client in
            let before = try await h.store.apiJobs()
            // Not JSON at all.
            let plain = try await client.send(
                .post, "/api/v1/jobs", #"{"schedule": "@daily", "command": "true"}"#,
                headers: [.contentType: "text/plain"])
            #expect(try plain.status == .unsupportedMediaType && (json(plain)["error"]) != nil)
            let none = try await client.send(.post, "/api/v1/jobs", #"{}"#, headers: [:])
            #expect(none.status == .unsupportedMediaType)
            // Too large.
            let huge = #"{"schedule": "@daily", "command": ""# + String(repeating: "x", count: 2 << 20) + #""}"#
            let big = try await client.send(.post, "/api/v1/jobs", huge)
            #expect(try big.status == .contentTooLarge && (json(big)["error"]) != nil)
            // Bad UTF-8.
            var bytes = Array(#"{"schedule": "@daily", "command": ""#.utf8)
            bytes += [0xFF, 0xFE, 0x22, 0x7D]
            let badUTF8 = try await client.execute(
                uri: "/api/v1/jobs", method: .post, headers: jsonHeaders, body: ByteBuffer(bytes: bytes))
            #expect(try badUTF8.status == .badRequest && (json(badUTF8)["field"]) == "body")
            // Deep nesting.
            let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
            #expect(try await client.send(.post, "/api/v1/jobs", deep).status == .badRequest)
            // Injection strings are data: stored and returned as given.
            let name = #"x'); DROP TABLE execution; -- <img src=x onerror=alert(1)>"#
            let id = try await client.create(
                JSONValue.object([("name", .string(name)), ("schedule", "@daily"), ("command", "true")]).jsonString)
            #expect(try json(try await client.get("/api/v1/jobs/\(id)"))["name"] == .string(name))
            #expect(try await h.store.executions(matching: ExecutionQuery()).count >= 0, "the table is there")
            #expect(try await h.store.apiJobs().count == before.count + 1)
            // Unknown ids and paths.
            let missing = try await client.get("/api/v1/jobs/deadbeef")
            #expect(try missing.status == .notFound && (json(missing)["error"]) == "Job not found: deadbeef")
            #expect(try await client.get("/api/v1/nope").status == .notFound)
            #expect(try json(try await client.get("/api/v1/nope"))["error"] != nil)
            let wrongMethod = try await client.send(.patch, "/api/v1/executions", nil, headers: [:])
            #expect(
                try [.methodNotAllowed, .notFound].contains(wrongMethod.status) && (json(wrongMethod)["error"]) != nil)
            // ndscheduler's trailing slash: GET redirects, other methods are 404.
            let slash = try await client.get("/api/v1/jobs/?tag=x")
            #expect(slash.status == .movedPermanently && slash.headers[.location] == "/api/v1/jobs?tag=x")
            #expect(try await client.send(.post, "/api/v1/jobs/", "{}").status == .notFound)
        }
    }
}

/// ndscheduler's timestamp form, against CronKit's formatter.
@Suite struct TimestampFormTests {
    @Test func matchesCronKit_wholeAndFractional() throws {
        for seconds in [0.0, 1_795_921_525.163725, 951_782_400, -86_400.5, 4_102_444_800, 1_709_164_799.999999] {
            let date = Date(timeIntervalSince1970: seconds)
            let text = TockAPI.timestamp(date)
            let whole = Date(timeIntervalSince1970: seconds.rounded(.down))
            #expect(text.hasPrefix(String(Timestamp.string(for: whole, in: .utc).dropLast(6))), "\(seconds): \(text)")
            #expect(text.hasSuffix("+00:00"))
            let back = try #require(Date(parsing: text, defaultZone: .utc))
            #expect(abs(back.timeIntervalSince1970 - seconds) < 0.000_001)
        }
        #expect(TockAPI.timestamp(Date(timeIntervalSince1970: 1_795_921_800)) == "2026-11-29T03:10:00+00:00")
        #expect(
            TockAPI.timestamp(Date(timeIntervalSince1970: 1_795_921_525.163725)) == "2026-11-29T03:05:25.163725+00:00")
    }
}
