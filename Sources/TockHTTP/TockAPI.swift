import CronKit
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import TockCore

/// Tock's REST API (SPEC §5): ndscheduler's paths and shapes with its bugs fixed, plus Tock's additions.
///
/// Built over TockCore's ``Scheduler`` and the ``JobStore`` protocol; which store is in use is the composition
/// root's business. Mount it on a Hummingbird router:
///
/// ```swift
/// let router = Router()
/// let api = TockAPI(scheduler: scheduler, store: store)
/// api.addRoutes(to: router)
/// let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 8888)))
/// ```
public struct TockAPI: Sendable {
    public let scheduler: Scheduler
    public let store: any JobStore
    /// Job kinds an embedding package registered (`kind` in job bodies).
    public let kinds: Set<String>
    /// The zone of jobs that name none (shown as their `timezone`).
    public let defaultTimeZone: String
    /// The Prometheus text for `/metrics`.
    public let metricsText: @Sendable () -> String
    /// Who made a change, for the audit log (no authentication yet).
    public let user = "anonymous"
    /// Host allow-list, cross-origin writes, preflights: checked before every route.
    public let requestGuard: RequestGuard
    let now: @Sendable () -> Date
    let cache = JobRenderCache()

    public init(
        scheduler: Scheduler, store: any JobStore, kinds: Set<String> = [], defaultTimeZone: String = "UTC",
        requestGuard: RequestGuard = RequestGuard(),
        metricsText: @escaping @Sendable () -> String = { "" }, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.requestGuard = requestGuard
        self.scheduler = scheduler
        self.store = store
        self.kinds = kinds
        self.defaultTimeZone = defaultTimeZone
        self.metricsText = metricsText
        self.now = now
    }

    /// A time as the API writes it (ndscheduler's form): UTC, `+00:00`, microseconds when not whole.
    public static func timestamp(_ date: Date) -> String { Render.timeString(date) }

    /// A route the API serves (for the OpenAPI document's coverage test).
    public struct Route: Sendable, Hashable, CustomStringConvertible {
        public let method: String
        /// With `{name}` placeholders, as OpenAPI writes them.
        public let path: String
        public var description: String { "\(method) \(path)" }

        public init(method: String, path: String) {
            self.method = method
            self.path = path
        }
    }

    /// Adds every route (and the JSON error handling) to the router; returns the routes added.
    @discardableResult
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) -> [Route] {
        router.add(middleware: JSONErrorMiddleware<Context>())
        router.add(middleware: RequestGuardMiddleware<Context>(guardrail: requestGuard))
        var routes: [Route] = []
        let handlers = APIHandlers(api: self)
        func on(
            _ method: HTTPRequest.Method, _ path: String,
            _ handler: @escaping @Sendable (Request, Parameters) async throws -> Response
        ) {
            router.on(
                RouterPath(path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")),
                method: method
            ) {
                request, context in try await handler(request, context.parameters)
            }
            routes.append(Route(method: method.rawValue, path: path))
        }
        on(.get, "/healthz") { _, _ in await handlers.health() }
        on(.get, "/metrics") { _, _ in handlers.metrics() }
        on(.get, "/api/v1/openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: PackageResources.openapi_json)))
        }
        on(.get, "/api/v1/jobs") { request, _ in try await handlers.listJobs(request) }
        on(.post, "/api/v1/jobs") { request, _ in try await handlers.createJob(request) }
        on(.get, "/api/v1/jobs/{job_id}") { _, p in try await handlers.getJob(try p.require("job_id")) }
        on(.put, "/api/v1/jobs/{job_id}") { request, p in
            try await handlers.replaceJob(request, try p.require("job_id"))
        }
        on(.delete, "/api/v1/jobs/{job_id}") { _, p in try await handlers.deleteJob(try p.require("job_id")) }
        on(.patch, "/api/v1/jobs/{job_id}") { _, p in try await handlers.setPaused(true, try p.require("job_id")) }
        on(.options, "/api/v1/jobs/{job_id}") { _, p in try await handlers.setPaused(false, try p.require("job_id")) }
        on(.post, "/api/v1/jobs/{job_id}/pause") { _, p in try await handlers.setPaused(true, try p.require("job_id")) }
        on(.post, "/api/v1/jobs/{job_id}/resume") { _, p in
            try await handlers.setPaused(false, try p.require("job_id"))
        }
        // One template for both meanings (run a job now; read or stop an execution), as ndscheduler has it.
        on(.post, "/api/v1/executions/{id}") { request, p in try await handlers.runNow(request, try p.require("id")) }
        on(.get, "/api/v1/executions") { request, _ in try await handlers.listExecutions(request) }
        on(.get, "/api/v1/executions/{id}") { _, p in try await handlers.getExecution(try p.require("id")) }
        on(.delete, "/api/v1/executions/{id}") { _, p in try await handlers.stopExecution(try p.require("id")) }
        on(.get, "/api/v1/executions/{id}/output") { request, p in
            try await handlers.output(request, try p.require("id"))
        }
        on(.get, "/api/v1/logs") { request, _ in try await handlers.logs(request) }
        on(.get, "/api/v1/schedule/preview") { request, _ in try handlers.preview(request) }
        return routes
    }
}

/// Rendered jobs, kept until the scheduler's version moves: a list of a thousand jobs is then one buffer
/// written out. When it moves, only the jobs whose revision changed are rendered again, and one render at a time
/// runs (concurrent requests wait for it instead of repeating it).
final class JobRenderCache: Sendable {
    struct Item: Sendable {
        let job: Job
        let revision: Int
        let paused: Bool
        let failing: Bool
        let bytes: [UInt8]
    }

    struct Snapshot: Sendable {
        let version: Int
        let items: [Item]
        let index: [String: Int]
        /// The whole unfiltered list response.
        let fullList: ByteBuffer
    }

    private struct State {
        var latest: Snapshot?
        var inFlight: (version: Int, task: Task<Snapshot, any Error>)?
    }

    private let state = Mutex(State())

    /// The snapshot of `version`, built by `build` (given the previous snapshot) unless kept or being built.
    func snapshot(
        version: Int, build: @escaping @Sendable (Snapshot?) async throws -> Snapshot
    ) async throws -> Snapshot {
        let task: Task<Snapshot, any Error> = state.withLock { state in
            if let latest = state.latest, latest.version == version {
                return Task { latest }
            }
            if let inFlight = state.inFlight, inFlight.version >= version { return inFlight.task }
            let previous = state.latest
            let task = Task { try await build(previous) }
            state.inFlight = (version, task)
            return task
        }
        let snapshot: Snapshot
        do {
            snapshot = try await task.value
        } catch {
            // A failed build (the store could not be read) must not be handed to later requests.
            state.withLock { state in
                if state.inFlight?.version == version { state.inFlight = nil }
            }
            throw error
        }
        state.withLock { state in
            if snapshot.version >= state.latest?.version ?? Int.min { state.latest = snapshot }
            if state.inFlight?.version == snapshot.version { state.inFlight = nil }
        }
        return snapshot
    }

    func current(version: Int) -> Snapshot? {
        state.withLock { $0.latest?.version == version ? $0.latest : nil }
    }
}
