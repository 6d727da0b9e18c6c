import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TockCore
import TockJSON

/// What a request context carries for Tock's routes: the caller, found once per request by ``AccessMiddleware``.
/// A package mounting Tock's API on a router of its own uses ``TockRequestContext`` or a context of its own that
/// conforms.
public protocol AccessRequestContext: RequestContext {
    var access: RequestAccess { get set }
    /// The TCP peer (nil in router tests).
    var peerAddress: String? { get }
}

/// The caller of one request.
public struct RequestAccess: Sendable {
    /// Who it is, or why nobody is.
    public var caller: Result<Principal, AccessControl.Refusal> = .failure(.required)
    /// The client's address (behind trusted proxies, the forwarded one).
    public var address: String?
    /// Whether the request came over HTTPS (directly or through a trusted proxy).
    public var isHTTPS = false

    public init() {}

    public var principal: Principal? {
        if case .success(let principal) = caller { return principal }
        return nil
    }

    /// The acting user for the audit log.
    public var actor: Actor { Actor(principal?.name ?? "anonymous", address: address) }
}

/// Tock's request context: Hummingbird's core storage, the peer address and the caller.
public struct TockRequestContext: AccessRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var access = RequestAccess()
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    public var peerAddress: String? { remoteAddress?.ipAddress }
}

/// Finds each request's caller (token, session cookie, or the mode's answer for nobody) before any route runs.
/// Routes then check it against the role they declared (``RouteTable``).
struct AccessMiddleware<Context: AccessRequestContext>: RouterMiddleware {
    let control: AccessControl

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var context = context
        let address = control.clientAddress(peer: context.peerAddress, headers: request.headers)
        context.access.address = address
        context.access.isHTTPS = control.isHTTPS(peer: context.peerAddress, headers: request.headers)
        context.access.caller = await control.identify(headers: request.headers, address: address)
        return try await next(request, context)
    }
}

/// Who may call a route: everyone, or a role and up.
public enum RouteAccess: Sendable, Hashable, CustomStringConvertible {
    case `public`
    case role(Role)

    public static let viewer = RouteAccess.role(.viewer)
    public static let `operator` = RouteAccess.role(.operator)
    public static let admin = RouteAccess.role(.admin)

    public var description: String {
        switch self {
        case .public: "public"
        case .role(let role): role.rawValue
        }
    }

    /// Throws the 401 or 403 a caller without the right gets.
    func check(_ access: RequestAccess) throws(APIError) {
        guard case .role(let needed) = self else { return }
        switch access.caller {
        case .success(let principal):
            if principal.role < needed {
                throw APIError(
                    .forbidden,
                    "\(principal.name) has the role \(principal.role.rawValue); this needs \(needed.rawValue) or more",
                    extra: [("role", .string(principal.role.rawValue)), ("required_role", .string(needed.rawValue))])
            }
        case .failure(let refusal):
            throw Self.unauthorized(refusal)
        }
    }

    static func unauthorized(_ refusal: AccessControl.Refusal) -> APIError {
        let challenge: HTTPFields = [.wwwAuthenticate: #"Bearer realm="tock""#]
        switch refusal {
        case .required:
            return APIError(
                .unauthorized,
                "authentication required: send 'Authorization: Bearer tock_…' (tock tokens create) or log in at /login",
                headers: challenge)
        case .locked:
            return APIError(
                .unauthorized,
                "Tock is locked until it has an admin: run 'tock users add NAME --role admin' on the server (with "
                    + "the daemon's --data-dir), or open /#/setup with the one-time code in the data directory's "
                    + "setup-code file",
                extra: [("locked", true)], headers: challenge)
        case .invalid(let reason):
            return APIError(.unauthorized, reason, headers: challenge)
        }
    }
}
