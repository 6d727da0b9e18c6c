import Foundation
import HTTPTypes
import Hummingbird

/// The checks every request passes before any route sees it, always on (with or without authentication):
///
/// - **Host allow-list** (DNS rebinding): a page on `attacker.example` whose name resolves to 127.0.0.1 is
///   same-origin with Tock as far as the browser knows, but it sends `Host: attacker.example`. Allowed are IP
///   literals (a rebinding needs a name), `localhost` and `*.localhost`, this machine's host name, the listen host,
///   the `public_url` host and `allowed_hosts` (`"*"` turns the check off). A request with no Host (HTTP/1.0
///   tools) passes.
/// - **Cross-origin writes** (CSRF): a request with an unsafe method (anything but GET and HEAD) is refused when
///   the browser says it comes from another site or origin — `Sec-Fetch-Site` other than `same-origin` or `none`,
///   else an `Origin` that is not this server's. A bodiless cross-site POST needs no preflight, so this is the
///   only thing that stops it. Requests carrying `Authorization: Bearer` are exempt: a browser cannot attach one
///   cross-site without a preflight, which Tock never grants.
/// - **Preflights have no side effect**: an `OPTIONS` with `Access-Control-Request-Method` is a CORS preflight,
///   answered 204 with no `Access-Control-Allow-*` header (so the browser refuses the real request) — it must not
///   resume a job, as ndscheduler's `OPTIONS` verb would. A plain `OPTIONS` (an ndscheduler client) still does.
public struct RequestGuard: Sendable {
    /// Host names (lowercased, no port) allowed besides the built-in ones; `"*"` allows any.
    public var allowedHosts: Set<String>
    /// The server's public origin behind a proxy (`https://cron.example.com`), also an allowed `Origin`.
    public var publicURL: URL?

    public init(allowedHosts: some Sequence<String> = [], publicURL: URL? = nil, listenHost: String? = nil) {
        var hosts = Set(allowedHosts.map { Self.hostName(of: $0) })
        if let host = publicURL?.host { hosts.insert(Self.hostName(of: host)) }
        if let listenHost, !["0.0.0.0", "::", ""].contains(listenHost) { hosts.insert(Self.hostName(of: listenHost)) }
        let machine = ProcessInfo.processInfo.hostName
        if !machine.isEmpty {
            hosts.insert(Self.hostName(of: machine))
            if let short = machine.split(separator: ".").first { hosts.insert(Self.hostName(of: String(short))) }
        }
        self.allowedHosts = hosts
        self.publicURL = publicURL
    }

    /// Why a request is refused, or `nil` when it may go on.
    public enum Refusal: Equatable, Sendable {
        case foreignHost(String)
        case crossOrigin(String)
    }

    /// Checks one request's method and headers.
    public func check(method: HTTPRequest.Method, headers: HTTPFields, authority: String?) -> Refusal? {
        // Over HTTP/1 the Host header becomes the authority; a second Host header (or one beside an authority)
        // must pass too.
        let hostFields = headers[values: HTTPField.Name("Host")!]
        for candidate in [authority].compactMap({ $0 }) + hostFields where !isAllowed(host: candidate) {
            return .foreignHost(candidate)
        }
        let host = hostFields.first ?? authority
        guard Self.isUnsafe(method) else { return nil }
        if let authorization = headers[.authorization], authorization.lowercased().hasPrefix("bearer ") { return nil }
        if let site = headers[HTTPField.Name("Sec-Fetch-Site")!]?.lowercased() {
            return site == "same-origin" || site == "none" ? nil : .crossOrigin("Sec-Fetch-Site: \(site)")
        }
        if let origin = headers[.origin] {
            return isOwnOrigin(origin, host: host) ? nil : .crossOrigin("Origin: \(origin)")
        }
        return nil
    }

    static func isUnsafe(_ method: HTTPRequest.Method) -> Bool {
        method != .get && method != .head
    }

    /// Whether a `Host` value (name or IP literal, with an optional port) is one this server answers to.
    public func isAllowed(host value: String) -> Bool {
        if allowedHosts.contains("*") { return true }
        let name = Self.hostName(of: value)
        if name.isEmpty { return false }
        if name == "localhost" || name.hasSuffix(".localhost") { return true }
        if Self.isIPLiteral(name) { return true }
        return allowedHosts.contains(name)
    }

    func isOwnOrigin(_ origin: String, host: String?) -> Bool {
        guard origin != "null", let url = URL(string: origin), let originHost = url.host else { return false }
        if let publicURL, let publicHost = publicURL.host, publicHost.lowercased() == originHost.lowercased(),
            (url.port ?? Self.defaultPort(url.scheme)) == (publicURL.port ?? Self.defaultPort(publicURL.scheme))
        {
            return true
        }
        // Same origin: the Origin's host and port are the ones the request was sent to.
        guard let host else { return false }
        let originPort = url.port ?? Self.defaultPort(url.scheme)
        return Self.hostName(of: originHost) == Self.hostName(of: host)
            && originPort == Self.port(of: host) ?? Self.defaultPort(url.scheme)
    }

    static func defaultPort(_ scheme: String?) -> Int { scheme?.lowercased() == "https" ? 443 : 80 }

    /// `Example.COM:8888` → `example.com`; `[::1]:8888` → `::1`.
    static func hostName(of value: String) -> String {
        var text = value.trimmingCharacters(in: .whitespaces).lowercased()
        if text.hasPrefix("[") {
            if let close = text.firstIndex(of: "]") { return String(text[text.index(after: text.startIndex)..<close]) }
            return text
        }
        if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon { text = String(text[..<colon]) }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    static func port(of value: String) -> Int? {
        let text = value.trimmingCharacters(in: .whitespaces)
        guard let colon = text.lastIndex(of: ":"), !text.hasSuffix("]") else { return nil }
        if !text.hasPrefix("[") && text.firstIndex(of: ":") != colon { return nil }
        return Int(text[text.index(after: colon)...])
    }

    static func isIPLiteral(_ name: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
    }
}

/// Applies a ``RequestGuard`` to every request (API, UI files, metrics), answering refusals as JSON 403/421.
struct RequestGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    let guardrail: RequestGuard

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        switch guardrail.check(method: request.method, headers: request.headers, authority: request.head.authority) {
        case .foreignHost(let host):
            return APIError(
                .misdirectedRequest,
                "this server does not answer to the host name '\(host)'; add it to allowed_hosts (or set public_url) "
                    + "in the server configuration if it is yours"
            ).response()
        case .crossOrigin(let reason):
            return APIError(
                .forbidden,
                "cross-site request refused (\(reason)): a change must come from Tock's own pages, the CLI or a "
                    + "client with a bearer token"
            ).response()
        case nil:
            break
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            // A CORS preflight: no side effect, and no permission granted.
            return Response(status: .noContent, headers: [.allow: "GET, HEAD"])
        }
        return try await next(request, context)
    }
}
