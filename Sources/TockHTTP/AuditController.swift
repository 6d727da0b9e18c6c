import CronKit
import Foundation
import HTTPTypes
import Hummingbird
import TockCore
import TockJSON

/// `/api/v1/logs`: the audit log.
struct AuditController<Context: AccessRequestContext>: Sendable {
    let api: TockAPI

    func addRoutes(to routes: inout RouteTable<Context>) {
        routes.on(.get, "/api/v1/logs", .viewer) { request, context in try await logs(request, context) }
    }

    func logs(_ request: Request, _ context: Context) async throws -> Response {
        let params = request.uri.queryParameters
        let isAdmin = context.access.principal?.role == .admin
        var query = AuditQuery()
        // Logins, users and tokens are for admins; a caller limited to tags reads about those jobs only.
        query.includeSecurity = isAdmin
        query.jobIDs = await api.visibleJobIDs(context)
        query.jobID = params.get("job_id").flatMap { $0.isEmpty ? nil : $0 }
        query.limit = try RequestParsing.int(params.get("limit"), name: "limit", range: 1...10_000) ?? 1000
        (query.from, query.to) = try RequestParsing.timeRange(
            params, now: api.clock.now, defaultWindow: query.jobID == nil)
        let entries = try await api.store.auditLog(matching: query)
        return JSONResponse.make(
            .object([("logs", .array(entries.map { Render.audit($0, redactEnvironment: !isAdmin) }))]))
    }
}
