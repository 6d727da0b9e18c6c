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

    /// The catalog's index (every job sorted by id, with its search text), kept until the catalog moves.
    func index() async throws -> JobRenderCache.Index {
        let scheduler = self.scheduler
        let version = scheduler.catalogVersion
        if let kept = api.cache.keptIndex(version: version) { return kept }
        return try await api.cache.index(version: version) { previous in
            // While start-up schedules every job, from its snapshot of the catalog: not waiting for the actor.
            let starting = scheduler.catalogDuringStart.flatMap { $0.version == scheduler.catalogVersion ? $0 : nil }
            let entries: @Sendable (ArraySlice<String>) async -> [Scheduler.CatalogEntry] = { ids in
                if let starting { starting.entries(ofIDs: ids) } else { await scheduler.catalogEntries(ofIDs: ids) }
            }
            // Patched with the jobs that changed since the index kept, when the scheduler still knows which.
            if let previous, let changes = scheduler.catalogChanges(since: previous.version),
                changes.ids.count + previous.dependents <= JobRenderCache.Index.patchLimit,
                changes.version <= starting?.version ?? .max
            {
                let ids = changes.ids.union(previous.dependentIDs)
                let statuses = await entries(Array(ids)[...])
                return previous.patched(version: changes.version, changed: ids, statuses: statuses)
            }
            if let starting { return JobRenderCache.Index.built(from: starting) }
            let (version, unsorted) = await scheduler.catalogIDs()
            return await JobRenderCache.Index.built(
                version: version, ids: unsorted.sorted(), previous: previous, entriesOf: entries)
        }
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

    static func healthCounts(_ states: some Sequence<JobHealth.State>) -> JSONValue {
        var counts: [JobHealth.State: Int] = [:]
        for state in states { counts[state, default: 0] += 1 }
        return .object(JobHealth.State.allCases.map { ($0.rawValue, .int(counts[$0] ?? 0)) })
    }

    /// These jobs rendered, in the order given: kept renders while their revision
    /// stays, the others rendered with their last 20 executions, read for them alone.
    func rendered(_ statuses: [Scheduler.JobStatus]) async throws -> [JobRenderCache.Item] {
        var items: [JobRenderCache.Item?] = statuses.map { api.cache.item($0.job.id, revision: $0.revision) }
        let stale = zip(statuses, items).filter { $1 == nil }.map(\.0.job.id)
        guard !stale.isEmpty else { return items.compactMap { $0 } }
        let zone = api.defaultTimeZone
        // A whole list of many jobs reads their executions in slices, not all at once.
        var recent: [String: [ExecutionRecord]] = [:]
        for start in stride(from: 0, to: stale.count, by: 1000) {
            let slice = Array(stale[start..<min(start + 1000, stale.count)])
            recent.merge(try await store.recentExecutions(jobIDs: slice, perJob: 20)) { $1 }
        }
        for (n, status) in statuses.enumerated() where items[n] == nil {
            let history = recent[status.job.id] ?? []
            let redacted =
                status.job.environment.isEmpty
                ? nil
                : Render.job(status, recent: history, defaultTimeZone: zone, redactEnvironment: true).jsonBytes
            let item = JobRenderCache.Item(
                revision: status.revision, tags: status.job.tags,
                bytes: Render.job(status, recent: history, defaultTimeZone: zone).jsonBytes, redactedBytes: redacted)
            api.cache.keep(status.job.id, item)
            items[n] = item
        }
        return items.compactMap { $0 }
    }

    static func counts(
        total: Int, active: Int, paused: Int, failing: Int, matching: Int, health: JSONValue = .object([])
    ) -> JSONValue {
        .object([
            ("total", .int(total)), ("active", .int(active)), ("paused", .int(paused)), ("failing", .int(failing)),
            ("matching", .int(matching)), ("health", health),
        ])
    }

    static func listBody(_ page: [JobRenderCache.Item], counts: JSONValue, redacted: Bool = false) -> [UInt8] {
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
        let healthFilter = try Self.healthFilter(query.get("health"))
        let version = scheduler.version
        let scoped = principal?.tags != nil
        let whole = tag == nil && text == nil && healthFilter == nil && limit == nil && offset == 0 && !scoped
        if whole, let kept = api.cache.fullList(version: version, redacted: redact) {
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody(byteBuffer: kept))
        }
        let index = try await index()
        let view = try await healthView(index)
        // The text searched as bytes when it is plain ASCII (no control characters), as Strings otherwise.
        let ascii: [UInt8]? = text.flatMap { text in
            text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F } ? Array(text.utf8) : nil
        }
        // Kept with the view, brought up to date with the jobs that changed.
        let failingCount = view.failingCount
        let healthCounts = view.countsJSON
        var counts = Self.counts(
            total: index.entries.count, active: index.active, paused: index.paused, failing: failingCount,
            matching: index.entries.count, health: healthCounts)
        let page: [String]
        if !scoped && tag == nil && text == nil && healthFilter == nil {
            // Every job: the page is a slice of the index.
            let from = min(offset, index.entries.count)
            page = index.entries[from..<min(from + (limit ?? index.entries.count), index.entries.count)].map(\.id)
        } else if !scoped, let tag, text == nil, healthFilter == nil {
            // One tag: the page is a slice of that tag's ids.
            let ids = index.tagged[tag] ?? []
            let from = min(offset, ids.count)
            page = Array(ids[from..<min(from + (limit ?? ids.count), ids.count)])
            counts = Self.counts(
                total: index.entries.count, active: index.active, paused: index.paused, failing: failingCount,
                matching: ids.count, health: healthCounts)
        } else {
            // A caller limited to tags sees only those jobs, and counts of only those.
            var visible = 0
            var active = 0
            var paused = 0
            var failed = 0
            var matching = 0
            var visibleHealth: [JobHealth.State] = []
            var selected: [String] = []
            let wanted = limit ?? Int.max
            index.haystacks.withUnsafeBufferPointer { haystacks in
                index.entries.withUnsafeBufferPointer { entries in
                    for (n, entry) in entries.enumerated() {
                        if scoped {
                            guard principal?.canSee(jobTags: entry.tags) ?? false else { continue }
                            visible += 1
                            if entry.enabled && !entry.paused { active += 1 }
                            if entry.paused { paused += 1 }
                            if view.isFailing(at: n) { failed += 1 }
                            visibleHealth.append(view.state(at: n))
                        }
                        if let tag, !entry.tags.contains(tag) { continue }
                        if let healthFilter, !healthFilter.contains(view.state(at: n)) { continue }
                        if let text, !entry.matches(text, ascii: ascii, in: haystacks) { continue }
                        if matching >= offset && selected.count < wanted { selected.append(entry.id) }
                        matching += 1
                    }
                }
            }
            counts =
                scoped
                ? Self.counts(
                    total: visible, active: active, paused: paused, failing: failed, matching: matching,
                    health: Self.healthCounts(visibleHealth))
                : Self.counts(
                    total: index.entries.count, active: index.active, paused: index.paused, failing: failingCount,
                    matching: matching, health: healthCounts)
            page = selected
        }
        let items = try await rendered(await scheduler.statuses(ofIDs: page))
        let body = Self.listBody(items, counts: counts, redacted: redact)
        if whole {
            let buffer = ByteBuffer(bytes: body)
            api.cache.keepFullList(buffer, version: version, redacted: redact)
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody(byteBuffer: buffer))
        }
        return JSONResponse.bytes(body)
    }

    func getJob(_ id: String, _ context: Context) async throws -> Response {
        let principal = context.access.principal
        // A render of the job's current revision answers without going through the scheduler (a deleted job's
        // revision has moved past every render of it).
        if let item = api.cache.item(id, revision: scheduler.revision(ofJob: id)),
            principal?.canSee(jobTags: item.tags) ?? false
        {
            return JSONResponse.bytes(item.bytes(redacted: principal?.role != .admin))
        }
        guard let status = await scheduler.status(of: id),
            context.access.principal?.canSee(jobTags: status.job.tags) ?? false,
            let item = try await rendered([status]).first
        else { throw APIError(.notFound, "Job not found: \(id)") }
        return JSONResponse.bytes(item.bytes(redacted: context.access.principal?.role != .admin))
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
