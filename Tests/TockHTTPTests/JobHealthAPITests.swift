import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TockCore
import TockJSON
import TockTesting

/// `health` in the job JSON, the `?health=` filter and the counts per state, over real runs.
@Suite(.timeLimit(.minutes(2)))
struct JobHealthAPITests {
    let h: APIHarness
    init() throws { h = try APIHarness() }

    func ids(_ list: JSONValue) -> [String] {
        guard case .array(let jobs)? = list["jobs"] else { return [] }
        return jobs.compactMap { $0["job_id"]?.stringValue }
    }

    @Test func health_followsTheRuns_filtersAndCounts() async throws {
        try await h.test { client in
            _ = try await client.create(
                #"{"job_id": "flaky", "schedule": "@yearly", "command": "exit 3", "alert_after_failures": 2}"#)
            _ = try await client.create(#"{"job_id": "fine", "schedule": "@yearly", "command": "true"}"#)
            #expect(try json(try await client.get("/api/v1/jobs/flaky"))["health"]?["state"] == "new")

            func run(_ id: String) async throws {
                let started = try json(try await client.send(.post, "/api/v1/executions/\(id)"))
                _ = try await client.finished(try #require(started["execution_id"]?.stringValue))
            }
            try await run("fine")
            try await run("flaky")
            var flaky = try json(try await client.get("/api/v1/jobs/flaky"))
            #expect(flaky["health"]?["state"] == "failing")
            #expect(flaky["health"]?["detail"] == "the last run failed")
            try await run("flaky")
            flaky = try json(try await client.get("/api/v1/jobs/flaky"))
            #expect(flaky["health"]?["state"] == "down", "\(flaky["health"] ?? .null)")
            #expect(flaky["health"]?["detail"] == "2 failing runs in a row")
            #expect(flaky["health"]?["since"]?.stringValue != nil)
            #expect(try json(try await client.get("/api/v1/jobs/fine"))["health"]?["state"] == "ok")

            let down = try json(try await client.get("/api/v1/jobs?health=down"))
            #expect(ids(down) == ["flaky"])
            #expect(down["counts"]?["matching"] == 1)
            #expect(down["counts"]?["health"]?["down"] == 1)
            #expect(down["counts"]?["health"]?["ok"] == 1)
            #expect(down["counts"]?["health"]?["new"] == 1, "the file job never ran")
            let either = try json(try await client.get("/api/v1/jobs?health=ok,new"))
            #expect(Set(ids(either)) == ["fine", "from-file"])

            #expect(try await client.send(.post, "/api/v1/jobs/fine/pause").status == .ok)
            #expect(try json(try await client.get("/api/v1/jobs/fine"))["health"]?["state"] == "paused")

            let bad = try await client.get("/api/v1/jobs?health=sick")
            #expect(bad.status == .badRequest)
            let error = try json(bad)
            #expect(error["field"] == "health")
            #expect(error["error"]?.stringValue?.hasPrefix("health: unknown state 'sick'") == true)
        }
    }

    /// The list's health (kept between requests and patched with the jobs that changed) says what each job's own
    /// JSON says, after every kind of change, and its counts add up.
    @Test func listHealth_keptBetweenRequests_followsEveryChange() async throws {
        try await h.test { client in
            _ = try await client.create(
                #"{"job_id": "flaky", "schedule": "@yearly", "command": "exit 3", "alert_after_failures": 2}"#)
            _ = try await client.create(#"{"job_id": "fine", "schedule": "@yearly", "command": "true"}"#)
            _ = try await client.create(#"{"job_id": "idle", "schedule": "@yearly", "command": "true"}"#)

            func fromList() async throws -> (states: [String: String], counts: JSONValue?) {
                var states: [String: String] = [:]
                var counts: JSONValue?
                for state in JobHealth.State.allCases {
                    let list = try json(try await client.get("/api/v1/jobs?health=\(state.rawValue)"))
                    counts = list["counts"]
                    for id in ids(list) { states[id] = state.rawValue }
                }
                return (states, counts)
            }
            func fromJobs() async throws -> [String: String] {
                var states: [String: String] = [:]
                for id in ids(try json(try await client.get("/api/v1/jobs"))) {
                    states[id] = try json(try await client.get("/api/v1/jobs/\(id)"))["health"]?["state"]?.stringValue
                }
                return states
            }
            func agree(_ step: String) async throws {
                try await eventually("the list's health after \(step)", timeout: .seconds(10)) {
                    let (listed, counts) = try await fromList()
                    let truth = try await fromJobs()
                    var histogram: [String: Int] = [:]
                    for state in truth.values { histogram[state, default: 0] += 1 }
                    let failing = truth.values.count { $0 == "failing" || $0 == "down" }
                    return listed == truth
                        && JobHealth.State.allCases.allSatisfy {
                            counts?["health"]?[$0.rawValue] == .int(histogram[$0.rawValue] ?? 0)
                        } && counts?["failing"] == .int(failing)
                }
            }
            func run(_ id: String) async throws {
                let started = try json(try await client.send(.post, "/api/v1/executions/\(id)"))
                _ = try await client.finished(try #require(started["execution_id"]?.stringValue))
            }

            try await agree("the start")
            try await run("fine")
            try await agree("a success")
            try await run("flaky")
            try await agree("a failure")
            #expect(try await fromList().states["flaky"] == "failing")
            try await run("flaky")
            try await agree("a second failure")
            #expect(try await fromList().states["flaky"] == "down")
            #expect(try await client.send(.post, "/api/v1/jobs/idle/pause").status == .ok)
            try await agree("a pause")
            #expect(try await fromList().states["idle"] == "paused")
            #expect(try await client.send(.delete, "/api/v1/jobs/fine", nil, headers: [:]).status == .ok)
            try await agree("a removal")
            _ = try await client.create(#"{"job_id": "fresh", "schedule": "@yearly", "command": "exit 1"}"#)
            try await agree("a new job")
            try await run("fresh")
            #expect(try await client.send(.post, "/api/v1/jobs/idle/resume").status == .ok)
            try await agree("a resume and a new job's failure")
            #expect(try await fromList().states["fresh"] == "failing")
        }
    }
}
