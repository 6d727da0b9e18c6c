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

/// `/api/v1/notifications` over a real SQLite outbox: the log, its filters and pages, a retry, and each
/// execution's deliveries in its JSON; every response checked against the OpenAPI document.
@Suite(.timeLimit(.minutes(2)))
struct NotificationsAPITests {
    let h: APIHarness
    init() throws { h = try APIHarness() }

    /// Writes a failed run of `job` with a delivery per target of its `on_failure`.
    func failedRun(_ job: String, targets: [String], at date: Date) async throws -> (String, [NotificationDelivery]) {
        var record = ExecutionRecord(jobID: job, state: .failed, trigger: .manual, scheduledAt: date, host: "h")
        record.startedAt = date
        record.endedAt = date.addingTimeInterval(1)
        record.exitCode = 1
        let deliveries = targets.map {
            NotificationDelivery(
                eventID: "evt_\(record.id)_failed", eventType: "execution.failed", jobID: job, executionID: record.id,
                channel: .webhook, target: $0, payload: Array("{}".utf8), createdAt: date)
        }
        try await h.store.save([record], enqueuing: deliveries)
        return (record.id, deliveries)
    }

    @Test func log_filtersPagesAndMatchesTheDocument() async throws {
        let start = Date(timeIntervalSince1970: 1_796_000_000)
        var executions: [String] = []
        for n in 0..<3 {
            let (id, _) = try await failedRun(
                n == 2 ? "other" : "backup", targets: ["notifier:a", "https://b.example/hook"],
                at: start.addingTimeInterval(Double(n)))
            executions.append(id)
        }
        let ids = executions
        try await h.test { client in
            let document = OpenAPISchemaChecker(document: try json(try await client.get("/api/v1/openapi.json")))
            let schema = try document.responseSchema(path: "/api/v1/notifications", method: "get")
            var seen: [String] = []
            var uri = "/api/v1/notifications?limit=4"
            while true {
                let response = try await client.get(uri)
                #expect(response.status == .ok)
                let page = try json(response)
                #expect(
                    document.problems(of: page, against: schema).isEmpty,
                    "\(document.problems(of: page, against: schema))")
                guard case .array(let items)? = page["notifications"] else { break }
                seen += items.compactMap { $0["notification_id"]?.stringValue }
                guard let cursor = page["next_cursor"]?.stringValue else { break }
                uri = "/api/v1/notifications?limit=4&cursor=\(cursor)"
            }
            #expect(seen.count == 6 && Set(seen).count == 6)
            let backup = try json(try await client.get("/api/v1/notifications?job_id=backup"))
            guard case .array(let items)? = backup["notifications"] else { throw APIError(.badRequest, "no list") }
            #expect(items.count == 4 && items.allSatisfy { $0["job_id"] == "backup" })
            #expect(items.first?["execution_id"]?.stringValue == ids[1], "newest first")
            let pending = try json(try await client.get("/api/v1/notifications?state=pending&channel=webhook"))
            if case .array(let all)? = pending["notifications"] { #expect(all.count == 6) }
            let bad = try await client.get("/api/v1/notifications?state=lost")
            #expect(bad.status == .badRequest)
            #expect(try json(bad)["field"] == "state")

            // Each execution's JSON lists its deliveries.
            let execution = try json(try await client.get("/api/v1/executions/\(ids[0])"))
            if case .array(let own)? = execution["notifications"] {
                #expect(own.count == 2 && own.allSatisfy { $0["state"] == "pending" && $0["attempts"] == 0 })
            } else {
                Issue.record("no notifications in \(execution)")
            }
        }
    }

    @Test func retry_makesADeliveryDueAgain() async throws {
        let (_, deliveries) = try await failedRun("backup", targets: ["notifier:a"], at: Date())
        let id = deliveries[0].id
        let claimed = try await h.store.claimDueDeliveries(at: Date().addingTimeInterval(1), limit: 10)
        #expect(claimed.map(\.id) == [id])
        try await h.test { client in
            let busy = try await client.send(.post, "/api/v1/notifications/\(id)/retry", nil, headers: [:])
            #expect(busy.status == .conflict, "being delivered")
            try await h.store.recordAttempt(
                deliveryID: id, state: .abandoned, at: Date(), nextAttemptAt: nil,
                attempt: DeliveryAttempt(.abandoned, status: 410, error: "410 Gone"))
            let shown = try json(try await client.get("/api/v1/notifications/\(id)"))
            #expect(shown["state"] == "abandoned" && shown["last_status"] == 410 && shown["next_attempt_time"] == .null)
            let retried = try await client.send(.post, "/api/v1/notifications/\(id)/retry", nil, headers: [:])
            #expect(retried.status == .ok)
            #expect(try json(retried)["state"] == "pending")
            #expect(
                try await client.send(.post, "/api/v1/notifications/nope/retry", nil, headers: [:]).status == .notFound)
            #expect(try await client.get("/api/v1/notifications/nope").status == .notFound)
            #expect(try await client.send(.post, "/api/v1/notifiers/x/test", nil, headers: [:]).status == .notFound)
        }
    }
}
