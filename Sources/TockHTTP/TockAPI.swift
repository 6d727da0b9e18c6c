import CronKit
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import TockCore
import TockJSON

/// Tock's REST API (SPEC §5): ndscheduler's paths and shapes with its bugs fixed, plus Tock's additions.
///
/// Built over TockCore's ``Scheduler``, ``JobCatalog`` and the ``JobStore`` protocol; which store is in use is
/// the composition root's business. Mount it on a Hummingbird router:
///
/// ```swift
/// let router = Router()
/// let api = TockAPI(scheduler: scheduler, store: store)
/// api.addRoutes(to: router)
/// let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 8888)))
/// ```
///
/// One controller per resource (jobs, executions, audit log, system); each handler receives the request and its
/// context, where the caller's identity will travel once there is authentication.
public struct TockAPI: Sendable {
    public let scheduler: Scheduler
    public let store: any JobStore
    /// Administers jobs and writes the audit log.
    public let catalog: JobCatalog
    /// Job kinds an embedding package registered (`kind` in job bodies).
    public let kinds: Set<String>
    /// The zone of jobs that name none (shown as their `timezone`).
    public let defaultTimeZone: String
    /// The Prometheus text for `/metrics`.
    public let metricsText: @Sendable () -> String
    /// Host allow-list, cross-origin writes, preflights: checked before every route.
    public let requestGuard: RequestGuard
    /// The time, for default ranges and previews (tests pass a manual clock).
    let clock: any WallClock
    let cache = JobRenderCache()
    /// Named notifiers (test-send) and the delivery worker's wake-up (retry); `nil` when notifications are off.
    public var notifications: NotificationPlanner?

    public init(
        scheduler: Scheduler, store: any JobStore, kinds: Set<String> = [], defaultTimeZone: String = "UTC",
        requestGuard: RequestGuard = RequestGuard(),
        metricsText: @escaping @Sendable () -> String = { "" }, clock: any WallClock = SystemWallClock()
    ) {
        self.scheduler = scheduler
        self.store = store
        self.catalog = JobCatalog(
            scheduler: scheduler, store: store, kinds: kinds, defaultTimeZone: defaultTimeZone, clock: clock)
        self.kinds = kinds
        self.defaultTimeZone = defaultTimeZone
        self.requestGuard = requestGuard
        self.metricsText = metricsText
        self.clock = clock
    }

    /// Who is acting, for the audit log. There is no authentication yet: everyone is `anonymous`; an identity in
    /// the request context will answer here.
    func user(_ context: some RequestContext) -> String { "anonymous" }

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

    /// Adds every route (with the JSON error handling and the request guards) to the router; returns the routes.
    @discardableResult
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) -> [Route] {
        router.add(middleware: JSONErrorMiddleware<Context>())
        router.add(middleware: RequestGuardMiddleware<Context>(guardrail: requestGuard))
        var table = RouteTable(router: router)
        SystemController<Context>(api: self).addRoutes(to: &table)
        JobsController<Context>(api: self).addRoutes(to: &table)
        ExecutionsController<Context>(api: self).addRoutes(to: &table)
        AuditController<Context>(api: self).addRoutes(to: &table)
        NotificationsController<Context>(api: self).addRoutes(to: &table)
        return table.routes
    }
}

extension TockAPI {
    /// The router `tock serve` runs, and the API tests too: every route of the API, then the web UI's files from
    /// `webDirectory` for what no route answers (Hummingbird's `FileMiddleware` acts only on a 404, so the API
    /// pays nothing for it), with a Content-Security-Policy that lets the UI run scripts from itself only.
    public func buildRouter(webDirectory: String?, logger: Logger) -> (
        router: Router<BasicRequestContext>, routes: [Route]
    ) {
        let router = Router()
        router.add(middleware: SecurityHeadersMiddleware<BasicRequestContext>())
        let routes = addRoutes(to: router)
        if let webDirectory {
            router.add(
                middleware: FileMiddleware(
                    webDirectory, cacheControl: .init([(MediaType(type: .any), [.noCache])]), searchForIndexHtml: true,
                    logger: logger))
        }
        return (router, routes)
    }
}

/// Headers on every response: the UI may run only its own scripts and styles (no inline code, no other origin:
/// text that reaches the page cannot become code), may not be framed, and types are not sniffed.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    static var contentSecurityPolicy: String {
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
            + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response = try await next(request, context)
        response.headers[HTTPField.Name("Content-Security-Policy")!] = Self.contentSecurityPolicy
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        return response
    }
}

/// Mounts routes written with OpenAPI's `{name}` placeholders and keeps the list of what was mounted.
struct RouteTable<Context: RequestContext> {
    let router: Router<Context>
    var routes: [TockAPI.Route] = []

    mutating func on(
        _ method: HTTPRequest.Method, _ path: String,
        _ handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) {
        router.on(
            RouterPath(path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")),
            method: method, use: handler)
        routes.append(TockAPI.Route(method: method.rawValue, path: path))
    }
}
