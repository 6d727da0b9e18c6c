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

/// `after` through the API: the keys, the derived `downstream` and `dependencies`, a cycle refused as a 400 naming
/// `after`, and a triggered run through the real runner.
@Suite(.timeLimit(.minutes(2)))
struct DependencyAPITests {
    let h: APIHarness
    init() throws { h = try APIHarness() }

    @Test func jobsCarryAfterDownstreamAndEachDependencysState_andATriggeredJobRuns() async throws {
        try await h.test { client in
            _ = try await client.create(#"{"job_id": "extract", "schedule": "@yearly", "command": "true"}"#)
            _ = try await client.create(#"{"job_id": "report", "after": ["extract"], "command": "true"}"#)
            let report = try json(try await client.get("/api/v1/jobs/report"))
            #expect(report["schedule"] == .null && report["after"] == ["extract"])
            #expect(report["after_window"] == "1d" && report["after_wait"] == "0s")
            #expect(report["waiting_on"] == ["extract"] && report["blocked"] == .null)
            #expect(
                report["dependencies"]
                    == .array([
                        .object([
                            ("job_id", "extract"), ("known", true), ("satisfied", false), ("last_success", .null),
                        ])
                    ]))
            #expect(try json(try await client.get("/api/v1/jobs/extract"))["downstream"] == ["report"])

            // What GET returned can be sent back with PUT.
            let put = try await client.send(.put, "/api/v1/jobs/report", report.jsonString)
            #expect(put.status == .ok, "\(text(put))")

            let run = try await client.send(.post, "/api/v1/executions/extract")
            #expect(run.status.code < 300, "\(text(run))")
            try await eventually("report triggered") {
                let list = try json(try await client.get("/api/v1/executions?job_id=report"))
                guard case .array(let items)? = list["executions"] else { return false }
                return items.contains { $0["trigger"] == "dependency" && $0["state"] == "succeeded" }
            }
            let after = try json(try await client.get("/api/v1/jobs/report"))
            // Consumed: the next run waits for extract's next success.
            #expect(after["waiting_on"] == ["extract"])
            #expect(after["dependencies"]?.arrayItems?.first?["satisfied"] == false)
            #expect(after["dependencies"]?.arrayItems?.first?["last_success"] != .null)
        }
    }

    @Test func aCycleIsA400NamingAfter_andChangesNothing() async throws {
        try await h.test { client in
            _ = try await client.create(#"{"job_id": "backup", "schedule": "@daily", "command": "true"}"#)
            _ = try await client.create(#"{"job_id": "report", "after": ["backup"], "command": "true"}"#)
            let before = try await h.store.apiJobs()
            let closing = try await client.send(
                .put, "/api/v1/jobs/backup", #"{"schedule": "@daily", "command": "true", "after": ["report"]}"#)
            #expect(closing.status == .badRequest)
            let error = try json(closing)
            #expect(error["field"] == "after", "\(text(closing))")
            #expect(error["error"]?.stringValue?.contains("cycle backup → report → backup") == true, "\(text(closing))")
            let selfEdge = try await client.send(
                .post, "/api/v1/jobs", #"{"job_id": "loop", "after": ["loop"], "command": "true"}"#)
            #expect(selfEdge.status == .badRequest)
            #expect(try json(selfEdge)["field"] == "after")
            let reboot = try await client.send(
                .post, "/api/v1/jobs",
                #"{"job_id": "r", "schedule": "@reboot", "after": ["backup"], "command": "true"}"#)
            #expect(reboot.status == .badRequest)
            #expect(try json(reboot)["field"] == "after")
            #expect(try await h.store.apiJobs() == before)
        }
    }

    @Test func anUnknownUpstreamIsAcceptedAndShownBlocked() async throws {
        try await h.test { client in
            _ = try await client.create(#"{"job_id": "report", "after": ["later"], "command": "true"}"#)
            let report = try json(try await client.get("/api/v1/jobs/report"))
            #expect(report["blocked"] == "upstream 'later' unknown")
            #expect(report["dependencies"]?.arrayItems?.first?["known"] == false)
            _ = try await client.create(#"{"job_id": "later", "schedule": "@yearly", "command": "true"}"#)
            #expect(try json(try await client.get("/api/v1/jobs/report"))["blocked"] == .null)
        }
    }
}
