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
/// let router = Router(context: TockRequestContext.self)
/// let api = TockAPI(scheduler: scheduler, store: store, access: AccessControl(settings: .init(), store: store))
/// api.addRoutes(to: router)
/// let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 8888)))
/// ```
///
/// One controller per resource (jobs, executions, audit log, system, access); each route declares who may call it
/// (``RouteAccess``: public, viewer, operator, admin) where it is added, and each handler receives the request and
/// its context, where the caller travels (``RequestAccess``, found by ``AccessControl``).
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
    /// Who is calling, and what an unauthenticated caller gets.
    public let access: AccessControl
    /// The time, for default ranges and previews (tests pass a manual clock).
    let clock: any WallClock
    let cache = JobRenderCache()
    /// Named notifiers (test-send) and the delivery worker's wake-up (retry); `nil` when notifications are off.
    public var notifications: NotificationPlanner?
    /// The nodes sharing the store (`GET /api/v1/cluster`); `nil`: this daemon alone (see ``LocalClusterView``).
    public var cluster: (any ClusterView)?

    public init(
        scheduler: Scheduler, store: any JobStore, kinds: Set<String> = [], defaultTimeZone: String = "UTC",
        requestGuard: RequestGuard = RequestGuard(), access: AccessControl = .open(),
        jobPolicy: JobCatalog.Policy = JobCatalog.Policy(),
        metricsText: @escaping @Sendable () -> String = { "" }, clock: any WallClock = SystemWallClock()
    ) {
        self.scheduler = scheduler
        self.store = store
        self.catalog = JobCatalog(
            scheduler: scheduler, store: store, kinds: kinds, defaultTimeZone: defaultTimeZone, policy: jobPolicy,
            clock: clock)
        self.access = access
        self.kinds = kinds
        self.defaultTimeZone = defaultTimeZone
        self.requestGuard = requestGuard
        self.metricsText = metricsText
        self.clock = clock
    }

    /// Who is acting, for the audit log: the caller's name and address.
    func user(_ context: some AccessRequestContext) -> Actor { context.access.actor }

    /// A time as the API writes it (ndscheduler's form): UTC, `+00:00`, microseconds when not whole.
    public static func timestamp(_ date: Date) -> String { Render.timeString(date) }

    /// A route the API serves (for the OpenAPI document's coverage test).
    public struct Route: Sendable, Hashable, CustomStringConvertible {
        public let method: String
        /// With `{name}` placeholders, as OpenAPI writes them.
        public let path: String
        /// Who may call it.
        public let access: RouteAccess
        public var description: String { "\(method) \(path)" }

        public init(method: String, path: String, access: RouteAccess) {
            self.method = method
            self.path = path
            self.access = access
        }
    }

    /// Adds every route (with the JSON error handling and the request guards) to the router; returns the routes.
    @discardableResult
    public func addRoutes<Context: AccessRequestContext>(to router: Router<Context>) -> [Route] {
        router.add(middleware: JSONErrorMiddleware<Context>())
        router.add(middleware: RequestGuardMiddleware<Context>(guardrail: requestGuard))
        router.add(middleware: AccessMiddleware<Context>(control: access))
        var table = RouteTable(router: router)
        AccessController<Context>(api: self).addRoutes(to: &table)
        SystemController<Context>(api: self).addRoutes(to: &table)
        JobsController<Context>(api: self).addRoutes(to: &table)
        ExecutionsController<Context>(api: self).addRoutes(to: &table)
        AuditController<Context>(api: self).addRoutes(to: &table)
        NotificationsController<Context>(api: self).addRoutes(to: &table)
        ClusterController<Context>(api: self).addRoutes(to: &table)
        return table.routes
    }
}

extension TockAPI {
    /// The router `tock serve` runs, and the API tests too: every route of the API, then the web UI for what no
    /// route answers — the files of `webDirectory`, or without one the UI compiled into the binary
    /// (``EmbeddedWebUI``) — with a Content-Security-Policy that lets the UI run scripts from itself only.
    public func buildRouter(webDirectory: String?, logger: Logger) -> (
        router: Router<TockRequestContext>, routes: [Route]
    ) {
        let router = Router(context: TockRequestContext.self)
        router.add(middleware: SecurityHeadersMiddleware<TockRequestContext>())
        let routes = addRoutes(to: router)
        if let webDirectory {
            router.add(
                middleware: FileMiddleware(
                    webDirectory, cacheControl: .init([(MediaType(type: .any), [.noCache])]), searchForIndexHtml: true,
                    logger: logger))
        } else {
            router.add(middleware: EmbeddedWebUIMiddleware<TockRequestContext>())
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

/// Mounts routes written with OpenAPI's `{name}` placeholders, each with who may call it, and keeps the list of
/// what was mounted: the one table of the API's routes and roles (a test walks it: 401 without credentials, 403
/// for too small a role, success for the right one).
struct RouteTable<Context: AccessRequestContext> {
    let router: Router<Context>
    var routes: [TockAPI.Route] = []

    mutating func on(
        _ method: HTTPRequest.Method, _ path: String, _ access: RouteAccess,
        _ handler: @escaping @Sendable (Request, Context) async throws -> Response
    ) {
        router.on(
            RouterPath(path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")),
            method: method
        ) { request, context in
            try access.check(context.access)
            return try await handler(request, context)
        }
        routes.append(TockAPI.Route(method: method.rawValue, path: path, access: access))
    }
}
