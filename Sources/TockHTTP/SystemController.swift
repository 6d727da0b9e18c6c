import CronKit
import Foundation
import HTTPTypes
import Hummingbird
import TockCore
import TockJSON

/// Health, metrics, the OpenAPI document and the schedule preview.
struct SystemController<Context: AccessRequestContext>: Sendable {
    let api: TockAPI

    var scheduler: Scheduler { api.scheduler }

    func addRoutes(to routes: inout RouteTable<Context>) {
        routes.on(.get, "/healthz", .public) { _, _ in await health() }
        // Job ids and counts: readers only, unless the configuration makes them public (`public_metrics`).
        routes.on(.get, "/metrics", api.access.settings.publicMetrics ? .public : .viewer) { _, _ in
            await metrics()
        }
        routes.on(.get, "/api/v1/openapi.json", .public) { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: PackageResources.openapi_json)))
        }
        routes.on(.get, "/api/v1/schedule/preview", .viewer) { request, _ in try preview(request) }
    }

    func health() async -> Response {
        let count = await scheduler.jobCount
        let running = await scheduler.runningExecutionIDs().count
        // A node that lost its lease on a shared store runs nothing: a load balancer should look elsewhere.
        if let reason = scheduler.fencedReason {
            return JSONResponse.make(
                .object([("status", "fenced"), ("reason", .string(reason)), ("jobs", .int(count))]),
                status: .serviceUnavailable)
        }
        return JSONResponse.make(.object([("status", "ok"), ("jobs", .int(count)), ("running", .int(running))]))
    }

    func metrics() async -> Response {
        var text = api.metricsText()
        // Each job's next instant, read from the scheduler at the scrape (not a gauge per job kept up to date on
        // every reschedule: at 100,000 jobs that would cost memory for what only a scrape reads). Job ids need no
        // escaping (letters, digits, `_`, `.`, `-`).
        let next = await scheduler.nextFireTimes()
        if !next.isEmpty {
            text += "# TYPE tock_job_next_run_timestamp_seconds gauge\n"
            for (job, date) in next.sorted(by: { $0.key < $1.key }) {
                text += "tock_job_next_run_timestamp_seconds{job=\"\(job)\"} \(date.timeIntervalSince1970)\n"
            }
        }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    func preview(_ request: Request) throws -> Response {
        let params = request.uri.queryParameters
        guard let text = params.get("expr"), !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw APIError(.badRequest, "give the schedule as ?expr=", field: "expr")
        }
        let zoneName = params.get("tz").flatMap { $0.isEmpty ? nil : $0 } ?? api.defaultTimeZone
        guard let rules = ZoneRules.rules(forIdentifier: zoneName) else {
            throw APIError(.badRequest, "unknown time zone '\(zoneName)' (use an IANA name)", field: "tz")
        }
        let count = try RequestParsing.int(params.get("count"), name: "count", range: 1...100) ?? 5
        var expression: ScheduleExpression
        do {
            expression = try ScheduleExpression(parsing: text)
        } catch {
            throw APIError(.badRequest, error.description, field: "expr", extra: [("valid", false)])
        }
        // A job's `cron_days = "both"` (APScheduler's rule): day of month and day of week must both match.
        switch params.get("cron_days") ?? "" {
        case "", "either": break
        case "both":
            if case .cron(let cron) = expression,
                let both = try? CronExpression(parsing: cron.source, daysMatchBoth: true)
            {
                expression = .cron(both)
            }
        case let other:
            throw APIError(.badRequest, "'\(other)' is not either or both", field: "cron_days")
        }
        let times = expression.schedule(in: rules.timeZone)?.nextFireDates(after: api.clock.now, count: count) ?? []
        return JSONResponse.make(
            .object([
                ("expr", .string(text)), ("valid", true), ("description", .string(expression.englishDescription)),
                ("timezone", .string(zoneName)),
                ("next_run_times", Render.strings(times.map { Timestamp.string(for: $0, in: rules) })),
            ]))
    }
}
