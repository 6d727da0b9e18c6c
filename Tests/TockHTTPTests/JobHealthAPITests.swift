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
}
