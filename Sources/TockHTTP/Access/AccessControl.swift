import Foundation
import Glibc
import HTTPTypes
import Logging
import NIOPosix
import Synchronization
import TockCore

/// Who may call the API: finds the caller of each request (an API token, a UI session, or nobody), decides what
/// an unauthenticated caller gets (SPEC §5 and ARCHITECTURE.md, "Authentication"), and logs people in and out.
///
/// Modes:
/// - **open** (`auth = "auto"`, a loopback listener, a daemon not running as root, and no user or token in the
///   store): every caller is `local`, with every right — today's behaviour for one person on their own machine.
/// - **required**: any user or token exists, or the daemon runs as root, or listens beyond loopback, or
///   `auth = "required"`. A request without valid credentials gets 401.
/// - **locked**: required, and there are no credentials yet: 401 saying how to make the first admin (`tock users
///   add` on the server, or `/setup` with the one-time code in the data directory). Never a default password.
/// - **off** (`--insecure-no-auth`): every caller is `local`, whatever the listener; a warning at every start.
///
/// Once any credential exists, an open daemon requires authentication from then on (checked at most once a second,
/// so a user added with `tock users add` on a running open daemon closes it within a second).
public final class AccessControl: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        case auto, required, off
    }

    public struct Settings: Sendable {
        public var mode: Mode = .auto
        /// Whether every address the server listens on is a loopback one.
        public var loopbackListener = true
        /// Whether the daemon runs as root (then an open API would be a root shell for every local user).
        public var runningAsRoot = getuid() == 0
        /// Proxies allowed to set `X-Forwarded-For` and `X-Forwarded-Proto`.
        public var trustedProxies: [AddressRange] = []
        /// The one-time setup code's file (`<data_dir>/setup-code`), while the daemon is locked.
        public var setupCodePath: String?
        /// Whether the session cookie is marked `Secure` even when the request did not arrive over HTTPS (set when
        /// `public_url` is https).
        public var alwaysSecureCookies = false
        /// Whether `/metrics` answers without credentials (for a Prometheus that sends none).
        public var publicMetrics = false

        public init() {}
    }

    public let settings: Settings
    let store: (any AccessStore)?
    let clock: any WallClock
    let logger: Logger

    struct State {
        /// Latched true once any credential was seen.
        var credentialsExist = false
        var credentialsCheckedAt: Date?
        /// Last time each token's use was written.
        var tokenTouched: [String: Date] = [:]
        /// Tokens (or their absence) by hash, and when they were read from the store.
        var tokens: [String: (token: APIToken?, readAt: Date)] = [:]
        /// Failed logins by `user|address`: count and the time before which no attempt is checked.
        var failures: [String: (count: Int, blockedUntil: Date)] = [:]
    }

    let state = Mutex(State())

    public init(
        settings: Settings, store: (any AccessStore)?, clock: any WallClock = SystemWallClock(),
        logger: Logger = Logger(label: "tock.access")
    ) {
        self.settings = settings
        self.store = store
        self.clock = clock
        self.logger = logger
    }

    /// No authentication at all: every caller is `local` (library use and tests of other things).
    public static func open() -> AccessControl {
        var settings = Settings()
        settings.mode = .off
        return AccessControl(settings: settings, store: nil)
    }

    /// Whether an unauthenticated caller may act as `local` when no credential exists.
    var openWithoutCredentials: Bool {
        switch settings.mode {
        case .off: true
        case .required: false
        case .auto: settings.loopbackListener && !settings.runningAsRoot
        }
    }

    /// The mode in force now: `open`, `required`, `locked` or `off`.
    public func currentMode() async -> String {
        if settings.mode == .off { return "off" }
        let exist = await credentialsExist()
        if exist { return "required" }
        return openWithoutCredentials ? "open" : "locked"
    }

    /// Whether any user or token exists; latched, and read from the store at most once a second until it is true.
    func credentialsExist() async -> Bool {
        let now = clock.now
        let cached: Bool? = state.withLock { s in
            if s.credentialsExist { return true }
            if let at = s.credentialsCheckedAt, now.timeIntervalSince(at) < 1 { return false }
            return nil
        }
        if let cached { return cached }
        let exists = (try? await store?.hasCredentials()) ?? false
        state.withLock { s in
            s.credentialsExist = s.credentialsExist || exists
            s.credentialsCheckedAt = now
        }
        return exists
    }

    /// Forgets the cached answer (after the API created or removed a credential).
    func credentialsChanged() {
        state.withLock { s in
            s.credentialsCheckedAt = nil
            s.tokens.removeAll()
        }
    }

    /// How long a token read from the store is believed (found or not found). A request with a bearer token then
    /// costs a SHA-256 and a dictionary lookup, not a database read; a token revoked through the API stops working
    /// at once (the cache is cleared), one revoked with `tock tokens revoke` on the store within this time.
    static let tokenCacheTTL: TimeInterval = 1

    // MARK: - Identifying a request

    /// The client's address: the peer, or behind a trusted proxy the nearest untrusted hop of `X-Forwarded-For`.
    public func clientAddress(peer: String?, headers: HTTPFields) -> String? {
        guard let peer, isTrustedProxy(peer) else { return peer }
        let forwarded = headers[values: HTTPField.Name("X-Forwarded-For")!]
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in forwarded.reversed() where !hop.isEmpty {
            if !isTrustedProxy(hop) { return hop }
        }
        return forwarded.first ?? peer
    }

    func isTrustedProxy(_ address: String) -> Bool {
        settings.trustedProxies.contains { $0.contains(address) }
    }

    /// Whether the request reached the proxy or the server over HTTPS (for the cookie's `Secure`).
    func isHTTPS(peer: String?, headers: HTTPFields) -> Bool {
        if settings.alwaysSecureCookies { return true }
        guard let peer, isTrustedProxy(peer),
            let proto = headers[HTTPField.Name("X-Forwarded-Proto")!]?.split(separator: ",").first
        else { return false }
        return proto.trimmingCharacters(in: .whitespaces).lowercased() == "https"
    }

    /// Why a request has no principal: said in the 401's body.
    public enum Refusal: Error, Sendable, Equatable {
        /// No credentials sent, and they are needed.
        case required
        /// No credentials exist yet and the daemon is not open: how to make the first admin.
        case locked
        /// Credentials were sent and are not valid (unknown, revoked, expired, disabled, logged out).
        case invalid(String)
    }

    /// Finds who sent a request.
    public func identify(headers: HTTPFields, address: String?) async -> Result<Principal, Refusal> {
        // Authentication off: credentials are not even looked at.
        if settings.mode == .off { return .success(.local) }
        if let authorization = headers[.authorization] {
            guard let token = Self.bearerToken(authorization) else {
                return .failure(.invalid("Authorization must be 'Bearer <token>'"))
            }
            return await identify(token: token, address: address)
        }
        if let session = Self.cookie(named: Self.sessionCookie, in: headers) {
            switch await identify(session: session) {
            case .success(let principal): return .success(principal)
            case .failure(let refusal):
                // A stale cookie is no credential: an open daemon still lets the caller in.
                if openWithoutCredentials, !(await credentialsExist()) { return .success(.local) }
                return .failure(refusal)
            }
        }
        if await credentialsExist() { return .failure(.required) }
        return openWithoutCredentials ? .success(.local) : .failure(.locked)
    }

    /// The token of an `Authorization: Bearer TOKEN` value (scheme in any case, blanks around the token ignored).
    static func bearerToken(_ value: String) -> String? {
        let utf8 = value.utf8
        guard utf8.count > 7 else { return nil }
        var scheme = utf8.prefix(6).makeIterator()
        for expected in "bearer".utf8 {
            guard let byte = scheme.next(), byte | 0x20 == expected else { return nil }
        }
        let rest = utf8.dropFirst(6)
        guard rest.first == UInt8(ascii: " ") else { return nil }
        let token = rest.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        var end = token.endIndex
        while end > token.startIndex, [UInt8(ascii: " "), UInt8(ascii: "\t")].contains(utf8[utf8.index(before: end)]) {
            end = utf8.index(before: end)
        }
        let trimmed = token[..<end]
        return trimmed.isEmpty ? nil : String(Substring(trimmed))
    }

    func identify(token: String, address: String?) async -> Result<Principal, Refusal> {
        guard token.hasPrefix(Secrets.tokenPrefix), let store else {
            return .failure(.invalid("the bearer token is not a Tock token (tock_…)"))
        }
        let hash = Secrets.hash(token)
        let now = clock.now
        let found: APIToken?
        if let cached = state.withLock({ $0.tokens[hash] }), now.timeIntervalSince(cached.readAt) < Self.tokenCacheTTL,
            now >= cached.readAt
        {
            found = cached.token
        } else {
            do { found = try await store.token(hash: hash) } catch {
                return .failure(.invalid("tokens cannot be checked right now: \(error)"))
            }
            state.withLock { s in
                if s.tokens.count >= 10_000 { s.tokens.removeAll(keepingCapacity: true) }
                s.tokens[hash] = (found, now)
            }
        }
        guard let found else { return .failure(.invalid("the bearer token is unknown or revoked")) }
        if let expiry = found.expiresAt, expiry <= now {
            return .failure(.invalid("the bearer token '\(found.name)' expired at \(Render.timeString(expiry))"))
        }
        let touch = state.withLock { s in
            s.credentialsExist = true
            if let last = s.tokenTouched[found.id], now.timeIntervalSince(last) < 60 { return false }
            s.tokenTouched[found.id] = now
            return true
        }
        if touch { Task { try? await store.touchToken(id: found.id, at: now, address: address) } }
        return .success(
            Principal(
                name: "token:\(found.name)", kind: .token, role: found.role,
                tags: found.role == .admin ? nil : found.tags, account: found.name))
    }

    func identify(session id: String) async -> Result<Principal, Refusal> {
        guard let store else { return .failure(.invalid("no session store")) }
        let hash = Secrets.hash(id)
        let found: (UserSession, TockUser)?
        do { found = try await store.session(hash: hash) } catch {
            return .failure(.invalid("sessions cannot be checked right now: \(error)"))
        }
        let now = clock.now
        guard let (session, user) = found, session.isValid(at: now), !user.disabled else {
            return .failure(.invalid("your session has ended; log in again"))
        }
        state.withLock { $0.credentialsExist = true }
        if now.timeIntervalSince(session.lastSeenAt) >= 60 { try? await store.touchSession(hash: hash, at: now) }
        return .success(
            Principal(
                name: user.name, kind: .user, role: user.role, tags: user.role == .admin ? nil : user.tags,
                account: user.name))
    }
}
