import Foundation

/// Users, API tokens and sessions: what authentication reads and writes. Secrets are never stored, only their
/// hashes (bcrypt for passwords, SHA-256 for tokens and session ids, which are 256 random bits each).
///
/// Stores implement it beside ``JobStore`` (the SQLite store does; `tock users` and `tock tokens` open it
/// directly: access to the data directory is the authority on the server itself).
public protocol AccessStore: Sendable {
    /// Whether any user or unrevoked token exists (then authentication is required everywhere).
    func hasCredentials() async throws -> Bool

    func users() async throws -> [TockUser]
    func user(named name: String) async throws -> TockUser?
    /// Inserts a user; throws ``AccessProblem`` if the name is taken.
    func addUser(_ user: TockUser) async throws
    /// Replaces a user's role, tags, password hash and disabled flag (by name). Disabling a user or changing the
    /// password also ends their sessions, in the same transaction. False if there is no such user.
    func updateUser(_ user: TockUser) async throws -> Bool

    func tokens() async throws -> [APIToken]
    /// The unrevoked token with this hash, if any (expired ones too: the caller checks, to say why).
    func token(hash: String) async throws -> APIToken?
    /// Inserts a token; throws ``AccessProblem`` if the name is taken by an unrevoked token.
    func addToken(_ token: APIToken) async throws
    /// Revokes the unrevoked token whose name or id (prefix) is `nameOrID`; returns it, or nil if none matched.
    func revokeToken(_ nameOrID: String, at date: Date) async throws -> APIToken?
    /// Records a token's last use (callers throttle this to about once a minute per token).
    func touchToken(id: String, at date: Date, address: String?) async throws

    func addSession(_ session: UserSession) async throws
    /// The session with this hash and its user, if both exist.
    func session(hash: String) async throws -> (UserSession, TockUser)?
    func deleteSession(hash: String) async throws
    /// Moves a session's idle deadline (callers throttle this).
    func touchSession(hash: String, at date: Date) async throws
    /// Deletes expired sessions; returns how many.
    func pruneSessions(now: Date) async throws -> Int
}

/// A person who logs in to the web UI (not a Unix account: see ``UserAccount`` for those).
public struct TockUser: Sendable, Hashable {
    public var name: String
    public var role: Role
    /// Tags the user is limited to (`nil`: all jobs).
    public var tags: Set<String>?
    /// bcrypt (`$2b$12$…`).
    public var passwordHash: String
    public var disabled: Bool
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        name: String, role: Role, tags: Set<String>? = nil, passwordHash: String, disabled: Bool = false,
        createdAt: Date, updatedAt: Date? = nil
    ) {
        self.name = name
        self.role = role
        self.tags = tags
        self.passwordHash = passwordHash
        self.disabled = disabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }

    /// A user name: 1–64 letters, digits, `.`, `_`, `-`, `@`; not starting with `token:` (the audit log's token
    /// names) and not `local`.
    public static func validate(name: String) throws(AccessProblem) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")
        guard (1...64).contains(name.count), name.allSatisfy({ allowed.contains($0) }) else {
            throw AccessProblem(
                "user name '\(name)' must be 1 to 64 letters, digits, '.', '_', '-' or '@'")
        }
        guard name != "local", name != "setup" else { throw AccessProblem("user name '\(name)' is reserved") }
    }
}

/// An API token: shown once when made, then known only by its hash and its first characters.
public struct APIToken: Sendable, Hashable {
    /// The first 12 characters of the token (`tock_` and 7 more): enough to tell tokens apart in a list.
    public var id: String
    public var name: String
    /// SHA-256 of the whole token, hex.
    public var hash: String
    public var role: Role
    public var tags: Set<String>?
    public var createdBy: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var lastUsedAddress: String?
    public var revokedAt: Date?

    public init(
        id: String, name: String, hash: String, role: Role, tags: Set<String>? = nil, createdBy: String,
        createdAt: Date, expiresAt: Date? = nil, lastUsedAt: Date? = nil, lastUsedAddress: String? = nil,
        revokedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.hash = hash
        self.role = role
        self.tags = tags
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.lastUsedAddress = lastUsedAddress
        self.revokedAt = revokedAt
    }

    /// A token name: 1–64 letters, digits, `.`, `_`, `-`.
    public static func validate(name: String) throws(AccessProblem) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard (1...64).contains(name.count), name.allSatisfy({ allowed.contains($0) }) else {
            throw AccessProblem("token name '\(name)' must be 1 to 64 letters, digits, '.', '_' or '-'")
        }
    }
}

/// A logged-in browser: the cookie holds 256 random bits, the store their hash.
public struct UserSession: Sendable, Hashable {
    public var hash: String
    public var userName: String
    public var createdAt: Date
    public var lastSeenAt: Date
    /// The absolute end (7 days after login); the idle end is `lastSeenAt` + 12 hours.
    public var expiresAt: Date
    public var address: String?

    public init(
        hash: String, userName: String, createdAt: Date, lastSeenAt: Date, expiresAt: Date, address: String?
    ) {
        self.hash = hash
        self.userName = userName
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
        self.address = address
    }

    public static let idleTimeout: TimeInterval = 12 * 3600
    public static let absoluteTimeout: TimeInterval = 7 * 86_400

    /// Whether the session still holds at `now`.
    public func isValid(at now: Date) -> Bool {
        now < expiresAt && now.timeIntervalSince(lastSeenAt) < Self.idleTimeout
    }
}
