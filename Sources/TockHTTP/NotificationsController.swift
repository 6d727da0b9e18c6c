import CronKit
import Foundation
import HTTPTypes
import Hummingbird
import TockCore
import TockJSON

/// `/api/v1/notifications`: the delivery log (every notification with its state and last attempt), a retry, and
/// `/api/v1/notifiers/{name}/test`: a test event sent to a named notifier.
///
/// Answers 503 when the store keeps no outbox.
struct NotificationsController<Context: AccessRequestContext>: Sendable {
    let api: TockAPI

    func addRoutes(to routes: inout RouteTable<Context>) {
        routes.on(.get, "/api/v1/notifications", .viewer) { request, context in try await list(request, context) }
        routes.on(.get, "/api/v1/notifications/{id}", .viewer) { _, context in
            try await get(try context.parameters.require("id"), context)
        }
        routes.on(.post, "/api/v1/notifications/{id}/retry", .operator) { _, context in
            try await retry(try context.parameters.require("id"), context)
        }
        routes.on(.post, "/api/v1/notifiers/{name}/test", .admin) { _, context in
            try await testSend(try context.parameters.require("name"))
        }
    }

    var outbox: any NotificationOutbox {
        get throws {
            guard let outbox = api.store as? any NotificationOutbox else {
                throw APIError(.serviceUnavailable, "this store keeps no notification log")
            }
            return outbox
        }
    }

    func list(_ request: Request, _ context: Context) async throws -> Response {
        let params = request.uri.queryParameters
        var query = NotificationQuery()
        query.jobID = params.get("job_id").flatMap { $0.isEmpty ? nil : $0 }
        query.executionID = params.get("execution_id").flatMap { $0.isEmpty ? nil : $0 }
        if let text = params.get("state"), !text.isEmpty {
            guard let state = NotificationDelivery.State(rawValue: text) else {
                let states = NotificationDelivery.State.allCases.map(\.rawValue).joined(separator: ", ")
                throw APIError(.badRequest, "'\(text)' is not a delivery state (\(states))", field: "state")
            }
            query.state = state
        }
        if let text = params.get("channel"), !text.isEmpty {
            guard let channel = NotificationDelivery.Channel(rawValue: text) else {
                throw APIError(.badRequest, "'\(text)' is not webhook, command or mail", field: "channel")
            }
            query.channel = channel
        }
        if let text = params.get("cursor"), !text.isEmpty {
            guard let cursor = NotificationCursor(text) else {
                throw APIError(.badRequest, "'\(text)' is not a cursor from a previous page", field: "cursor")
            }
            query.after = cursor
        }
        query.limit = try RequestParsing.int(params.get("limit"), name: "limit", range: 1...1000) ?? 100
        var page = try await outbox.deliveries(matching: query)
        let next: JSONValue =
            page.count == query.limit
            ? page.last.map { .string(NotificationCursor(createdAt: $0.createdAt, id: $0.id).text) } ?? .null : .null
        // A caller limited to tags sees its jobs' deliveries (a page may then be short without being the last).
        if let visible = await api.visibleJobIDs(context) { page.removeAll { !visible.contains($0.jobID) } }
        let redact = context.access.principal?.role != .admin
        return JSONResponse.make(
            .object([
                ("notifications", .array(page.map { Self.render($0, redactTarget: redact) })), ("next_cursor", next),
            ]))
    }

    func get(_ id: String, _ context: Context) async throws -> Response {
        guard let delivery = try await outbox.delivery(id: id), await api.isVisible(jobID: delivery.jobID, context)
        else {
            throw APIError(.notFound, "Notification not found: \(id)")
        }
        return JSONResponse.make(Self.render(delivery, redactTarget: context.access.principal?.role != .admin))
    }

    func retry(_ id: String, _ context: Context) async throws -> Response {
        let outbox = try outbox
        guard let existing = try await outbox.delivery(id: id), await api.isVisible(jobID: existing.jobID, context)
        else {
            throw APIError(.notFound, "Notification not found: \(id)")
        }
        guard let retried = try await outbox.retryDelivery(id: id, at: api.clock.now) else {
            if try await outbox.delivery(id: id) != nil {
                throw APIError(.conflict, "notification \(id) is being delivered right now")
            }
            throw APIError(.notFound, "Notification not found: \(id)")
        }
        api.notifications?.enqueued()
        return JSONResponse.make(Self.render(retried, redactTarget: context.access.principal?.role != .admin))
    }

    func testSend(_ name: String) async throws -> Response {
        let outbox = try outbox
        guard let planner = api.notifications, planner.settings.notifiers[name] != nil else {
            throw APIError(.notFound, "no notifier named '\(name)' in the server configuration")
        }
        let deliveries = planner.testDeliveries(notifier: name, at: api.clock.now)
        try await outbox.enqueue(deliveries)
        planner.enqueued()
        return JSONResponse.make(
            .object([
                ("event_id", .string(deliveries.first?.eventID ?? "")),
                ("notifications", .array(deliveries.map { Self.render($0) })),
            ]), status: .accepted)
    }

    /// A delivery as the API shows it (never its payload: an event carries the job's output).
    static func render(_ d: NotificationDelivery, redactTarget: Bool = false) -> JSONValue {
        let time: (Date?) -> JSONValue = { $0.map { .string(TockAPI.timestamp($0)) } ?? .null }
        return .object([
            ("notification_id", .string(d.id)), ("event_id", .string(d.eventID)), ("event_type", .string(d.eventType)),
            ("job_id", .string(d.jobID)), ("execution_id", d.executionID.map { .string($0) } ?? .null),
            ("channel", .string(d.channel.rawValue)),
            // Non-admins see an inline webhook's scheme and host only (its path often is the secret).
            ("target", .string(redactTarget ? Self.redacted(d) : d.target)), ("state", .string(d.state.rawValue)),
            ("attempts", .int(d.attempts)),
            ("next_attempt_time", d.state.isFinal || d.state == .delivering ? .null : time(d.nextAttemptAt)),
            ("last_attempt_time", time(d.lastAttemptAt)), ("last_status", d.lastStatus.map { .int($0) } ?? .null),
            ("last_error", d.lastError.map { .string($0) } ?? .null),
            ("response_excerpt", d.responseExcerpt.map { .string($0) } ?? .null), ("created_time", time(d.createdAt)),
            ("delivered_time", time(d.deliveredAt)),
        ])
    }

    /// The deliveries of one execution, for its JSON (`notifications`); empty without an outbox.
    static func deliveries(of executionID: String, store: any JobStore, redactTargets: Bool) async throws -> JSONValue {
        guard let outbox = store as? any NotificationOutbox else { return .array([]) }
        let list = try await outbox.deliveries(matching: NotificationQuery(executionID: executionID, limit: 100))
        return .array(list.map { render($0, redactTarget: redactTargets) })
    }

    static func redacted(_ d: NotificationDelivery) -> String {
        guard d.channel == .webhook, !d.target.hasPrefix("notifier:"), let url = URL(string: d.target),
            let scheme = url.scheme, let host = url.host
        else { return d.target }
        return "\(scheme)://\(host)/…"
    }
}
