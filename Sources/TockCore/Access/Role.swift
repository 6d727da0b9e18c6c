import Foundation

/// What a caller may do (SPEC §5): each role may do everything the one before it may.
///
/// - `viewer`: every read — jobs, executions, output (live too), the audit log of jobs.
/// - `operator`: and run now, stop, pause, resume.
/// - `admin`: and create, replace and delete API jobs; users and tokens; the security events of the audit log.
///
/// There is deliberately no "editor" between operator and admin: editing a job is running code as the daemon's
/// user, which can read the store (ARCHITECTURE.md, "Authentication").
public enum Role: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case viewer
    case `operator`
    case admin

    var rank: Int {
        switch self {
        case .viewer: 0
        case .operator: 1
        case .admin: 2
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }

    /// Reads a role's name as written in commands and request bodies, with an error that lists the choices.
    public init(parsing text: String) throws(AccessProblem) {
        guard let role = Role(rawValue: text.lowercased()) else {
            throw AccessProblem("unknown role '\(text)' (roles: viewer, operator, admin)")
        }
        self = role
    }
}

/// Bad input to an access operation (a weak password, an unknown role, a taken name), said plainly.
public struct AccessProblem: Error, Equatable, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Who is acting, as the API and the audit log know them.
public struct Principal: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// A user of the web UI, by session (or logging in).
        case user
        /// An API token (`Authorization: Bearer tock_…`).
        case token
        /// Nobody authenticated, where that is allowed: a loopback daemon with no credentials, not root, or one
        /// started with `--insecure-no-auth`.
        case local
    }

    /// The audit log's name for them: `alice`, `token:deploy-ci`, `local`.
    public var name: String
    public var kind: Kind
    public var role: Role
    /// Tags this principal is limited to (`nil`: every job). Only viewers and operators are ever scoped.
    public var tags: Set<String>?
    /// The user a session belongs to, or the token's name.
    public var account: String

    public init(name: String, kind: Kind, role: Role, tags: Set<String>? = nil, account: String) {
        self.name = name
        self.kind = kind
        self.role = role
        self.tags = tags
        self.account = account
    }

    /// The unauthenticated caller of an open daemon.
    public static let local = Principal(name: "local", kind: .local, role: .admin, account: "local")

    /// Whether this principal may see a job with these tags (scoped principals see jobs with one of theirs).
    public func canSee(jobTags: some Sequence<String>) -> Bool {
        guard let tags else { return true }
        return jobTags.contains { tags.contains($0) }
    }
}
