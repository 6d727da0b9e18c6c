import CronKit
import Foundation
import HTTPTypes
import Hummingbird
import TockCore
import TockJSON

/// `/api/v1/jobs`: list, read, create, replace, delete, pause and resume. The rules (conflicts, file jobs, the
/// audit log) are ``JobCatalog``'s; this parses requests and renders answers. Job lists come from kept renders
/// (``JobRenderCache``).
struct JobsController<Context: AccessRequestContext>: Sendable {
    let api: TockAPI
    static var failingStates: Set<ExecutionState> { [.failed, .timeout, .scheduledError, .interrupted] }

    var scheduler: Scheduler { api.scheduler }
    var store: any JobStore { api.store }

    func addRoutes(to routes: inout RouteTable<Context>) {
        routes.on(.get, "/api/v1/jobs", .viewer) { request, context in try await listJobs(request, context) }
        routes.on(.post, "/api/v1/jobs", .admin) { request, context in try await createJob(request, context) }
        routes.on(.get, "/api/v1/jobs/{job_id}", .viewer) { _, context in
            try await getJob(try context.parameters.require("job_id"), context)
        }
        routes.on(.put, "/api/v1/jobs/{job_id}", .admin) { request, context in
            try await replaceJob(request, context, try context.parameters.require("job_id"))
        }
        routes.on(.delete, "/api/v1/jobs/{job_id}", .admin) { _, context in
            try await deleteJob(context, try context.parameters.require("job_id"))
        }
        // ndscheduler's verbs: PATCH pauses, OPTIONS resumes (a CORS preflight never gets here: RequestGuard).
        routes.on(.patch, "/api/v1/jobs/{job_id}", .operator) { _, context in
            try await setPaused(true, context, try context.parameters.require("job_id"))
        }
        routes.on(.options, "/api/v1/jobs/{job_id}", .operator) { _, context in
            try await setPaused(false, context, try context.parameters.require("job_id"))
        }
        routes.on(.post, "/api/v1/jobs/{job_id}/pause", .operator) { _, context in
            try await setPaused(true, context, try context.parameters.require("job_id"))
        }
        routes.on(.post, "/api/v1/jobs/{job_id}/resume", .operator) { _, context in
            try await setPaused(false, context, try context.parameters.require("job_id"))
        }
    }

    /// Every job rendered, from the cache when nothing changed since.
    func snapshot() async throws -> JobRenderCache.Snapshot {
        let version = scheduler.version
        if let cached = api.cache.current(version: version) { return cached }
        let scheduler = self.scheduler
        let store = self.store
        let zone = api.defaultTimeZone
        return try await api.cache.snapshot(version: version) { previous in
            let statuses = await scheduler.allStatuses().sorted { $0.job.id < $1.job.id }
            var kept: [String: JobRenderCache.Item] = [:]
            if let previous {
                for item in previous.items { kept[item.job.id] = item }
            }
            let stale = statuses.filter { kept[$0.job.id]?.revision != $0.revision }.map(\.job.id)
            let recent = try await store.recentExecutions(jobIDs: stale, perJob: 20)
            var items: [JobRenderCache.Item] = []
            var index: [String: Int] = [:]
            items.reserveCapacity(statuses.count)
            for status in statuses {
                index[status.job.id] = items.count
                if let item = kept[status.job.id], item.revision == status.revision {
                    items.append(item)
                    continue
                }
                let history = recent[status.job.id] ?? []
                let value = Render.job(status, recent: history, defaultTimeZone: zone)
                let redacted =
                    status.job.environment.isEmpty
                    ? nil
                    : Render.job(status, recent: history, defaultTimeZone: zone, redactEnvironment: true).jsonBytes
                items.append(
                    .init(
                        job: status.job, revision: status.revision, paused: status.paused,
                        failing: history.first.map { Self.failingStates.contains($0.state) } ?? false,
                        health: Render.health(status, recent: history).state,
                        bytes: value.jsonBytes, redactedBytes: redacted))
            }
            let full = Self.listBody(items[...], counts: Self.counts(items, matching: items.count))
            let fullRedacted =
                items.contains { $0.redactedBytes != nil }
                ? Self.listBody(items[...], counts: Self.counts(items, matching: items.count), redacted: true) : full
            return JobRenderCache.Snapshot(
                version: version, items: items, index: index, fullList: ByteBuffer(bytes: full),
                fullListRedacted: ByteBuffer(bytes: fullRedacted))
        }
    }

    static func counts(_ items: [JobRenderCache.Item], matching: Int) -> JSONValue {
        .object([
            ("total", .int(items.count)),
            ("active", .int(items.filter { $0.job.enabled && !$0.paused }.count)),
            ("paused", .int(items.filter(\.paused).count)),
            ("failing", .int(items.filter(\.failing).count)),
            ("matching", .int(matching)),
            (
                "health",
                .object(
                    JobHealth.State.allCases.map { state in
                        (state.rawValue, .int(items.lazy.filter { $0.health == state }.count))
                    })
            ),
        ])
    }

    static func listBody(_ page: ArraySlice<JobRenderCache.Item>, counts: JSONValue, redacted: Bool = false)
        -> [UInt8]
    {
        var out: [UInt8] = Array(#"{"jobs":["#.utf8)
        out.reserveCapacity(page.reduce(128) { $0 + $1.bytes.count + 1 })
        for (n, item) in page.enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: item.bytes(redacted: redacted))
        }
        out.append(contentsOf: #"],"counts":"#.utf8)
        counts.write(into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    func listJobs(_ request: Request, _ context: Context) async throws -> Response {
        let principal = context.access.principal
        let redact = principal?.role != .admin
        let query = request.uri.queryParameters
        let tag = query.get("tag").flatMap { $0.isEmpty ? nil : $0 }
        let text = query.get("q").flatMap { $0.isEmpty ? nil : $0.lowercased() }
        let limit = try RequestParsing.int(query.get("limit"), name: "limit", range: 1...100_000)
        let offset = try RequestParsing.int(query.get("offset"), name: "offset", range: 0...Int.max) ?? 0
        let health = try Self.healthFilter(query.get("health"))
        let snapshot = try await snapshot()
        let scoped = principal?.tags != nil
        if tag == nil && text == nil && health == nil && limit == nil && offset == 0 && !scoped {
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody(byteBuffer: redact ? snapshot.fullListRedacted : snapshot.fullList))
        }
        // A caller limited to tags sees only those jobs, and counts of only those.
        let visible =
            scoped ? snapshot.items.filter { principal?.canSee(jobTags: $0.job.tags) ?? false } : snapshot.items
        let matching = visible.filter { item in
            if let tag, !item.job.tags.contains(tag) { return false }
            if let health, !health.contains(item.health) { return false }
            if let text {
                let haystack =
                    [item.job.id, item.job.name, item.job.description, item.job.schedule]
                    + Render.pubArgs(item.job) + item.job.tags
                return haystack.contains { $0.lowercased().contains(text) }
            }
            return true
        }
        let page = matching.dropFirst(offset).prefix(limit ?? matching.count)
        return JSONResponse.bytes(
            Self.listBody(ArraySlice(page), counts: Self.counts(visible, matching: matching.count), redacted: redact))
    }

    /// `health=down,late`: jobs in any of these states.
    static func healthFilter(_ text: String?) throws -> Set<JobHealth.State>? {
        guard let text, !text.isEmpty else { return nil }
        var states: Set<JobHealth.State> = []
        for name in text.split(separator: ",") {
            guard let state = JobHealth.State(rawValue: String(name)) else {
                throw APIError(
                    .badRequest,
                    "health: unknown state '\(name)' (one of "
                        + JobHealth.State.allCases.map(\.rawValue).joined(separator: ", ") + ")",
                    field: "health")
            }
            states.insert(state)
        }
        return states
    }

    func getJob(_ id: String, _ context: Context) async throws -> Response {
        let snapshot = try await snapshot()
        guard let position = snapshot.index[id],
            context.access.principal?.canSee(jobTags: snapshot.items[position].job.tags) ?? false
        else { throw APIError(.notFound, "Job not found: \(id)") }
        return JSONResponse.bytes(snapshot.items[position].bytes(redacted: context.access.principal?.role != .admin))
    }

    func createJob(_ request: Request, _ context: Context) async throws -> Response {
        let body = try await RequestParsing.jsonBody(request)
        var id = RandomID.make()
        for key in ["job_id", "id"] {
            guard let given = body[key], given != .null else { continue }
            guard let text = given.stringValue, Job.isValidID(text) else {
                throw APIError(
                    .badRequest, "must be a string of letters, digits, '_', '.' and '-'", field: key)
            }
            id = text
        }
        try await api.catalog.create(APIJobDefinition(id: id, body: body), user: api.user(context))
        return JSONResponse.make(.object([("job_id", .string(id))]), status: .created)
    }

    func replaceJob(_ request: Request, _ context: Context, _ id: String) async throws -> Response {
        let body = try await RequestParsing.jsonBody(request)
        if let given = body["job_id"]?.stringValue ?? body["id"]?.stringValue, given != id {
            throw APIError(.badRequest, "'\(given)' differs from the id in the path ('\(id)')", field: "job_id")
        }
        let changes = try await api.catalog.replace(APIJobDefinition(id: id, body: body), user: api.user(context))
        return JSONResponse.make(.object([("job_id", .string(id)), ("modified", Render.strings(changes.map(\.key)))]))
    }

    func deleteJob(_ context: Context, _ id: String) async throws -> Response {
        let (_, running) = try await api.catalog.delete(id: id, user: api.user(context))
        return JSONResponse.make(
            .object([
                ("job_id", .string(id)), ("deleted", true),
                // Runs in progress are not stopped by a delete; they finish and stay in the history.
                ("running", Render.strings(running)),
            ]))
    }

    func setPaused(_ pause: Bool, _ context: Context, _ id: String) async throws -> Response {
        try await api.requireVisible(jobID: id, context)
        let changed = try await api.catalog.setPaused(pause, jobID: id, user: api.user(context))
        return JSONResponse.make(
            .object([("job_id", .string(id)), ("paused", .bool(pause)), ("changed", .bool(changed))]))
    }
}
