import CronKit
import Foundation
import HTTPTypes
import Hummingbird
import TockCore
import TockJSON

/// `/api/v1/logs`: the audit log.
struct AuditController<Context: RequestContext>: Sendable {
    let api: TockAPI

    func addRoutes(to routes: inout RouteTable<Context>) {
        routes.on(.get, "/api/v1/logs") { request, _ in try await logs(request) }
    }

    func logs(_ request: Request) async throws -> Response {
        let params = request.uri.queryParameters
        var query = AuditQuery()
        query.jobID = params.get("job_id").flatMap { $0.isEmpty ? nil : $0 }
        query.limit = try RequestParsing.int(params.get("limit"), name: "limit", range: 1...10_000) ?? 1000
        (query.from, query.to) = try RequestParsing.timeRange(
            params, now: api.clock.now, defaultWindow: query.jobID == nil)
        let entries = try await api.store.auditLog(matching: query)
        return JSONResponse.make(.object([("logs", .array(entries.map(Render.audit)))]))
    }
}
