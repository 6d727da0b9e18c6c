import CronKit
import Foundation
import HTTPTypes
import Hummingbird
import NIOPosix
import TockCore
import TockJSON

/// `/api/v1/auth/…` (log in and out, who am I, the first admin), `/api/v1/users` and `/api/v1/tokens`.
/// Every security event goes to the audit log; no secret is ever in a response but the new token, once.
struct AccessController<Context: AccessRequestContext>: Sendable {
    let api: TockAPI

    var control: AccessControl { api.access }

    func addRoutes(to routes: inout RouteTable<Context>) {
        routes.on(.get, "/api/v1/auth/me", .public) { _, context in await me(context) }
        routes.on(.post, "/api/v1/auth/login", .public) { request, context in try await logIn(request, context) }
        routes.on(.post, "/api/v1/auth/logout", .public) { request, context in try await logOut(request, context) }
        routes.on(.post, "/api/v1/auth/setup", .public) { request, context in try await setup(request, context) }
        routes.on(.get, "/api/v1/users", .admin) { _, _ in try await listUsers() }
        routes.on(.post, "/api/v1/users", .admin) { request, context in try await addUser(request, context) }
        routes.on(.patch, "/api/v1/users/{name}", .admin) { request, context in
            try await changeUser(request, context, try context.parameters.require("name"))
        }
        routes.on(.get, "/api/v1/tokens", .admin) { _, _ in try await listTokens() }
        routes.on(.post, "/api/v1/tokens", .admin) { request, context in try await createToken(request, context) }
        routes.on(.delete, "/api/v1/tokens/{id}", .admin) { _, context in
            try await revokeToken(context, try context.parameters.require("id"))
        }
    }

    var store: any AccessStore {
        get throws {
            guard let store = control.store else {
                throw APIError(.notFound, "this server keeps no users or tokens (authentication is off)")
            }
            return store
        }
    }

    /// Who the caller is, and the server's mode (the UI asks this first).
    func me(_ context: Context) async -> Response {
        let mode = await control.currentMode()
        var pairs: [(String, JSONValue)] = [("mode", .string(mode))]
        if let principal = context.access.principal {
            pairs += [
                ("authenticated", true), ("user", .string(principal.name)), ("kind", .string(principal.kind.rawValue)),
                ("role", .string(principal.role.rawValue)),
                ("tags", principal.tags.map { Render.strings($0.sorted()) } ?? .null),
            ]
        } else {
            pairs.append(("authenticated", false))
            if case .failure(let refusal) = context.access.caller {
                pairs.append(("error", .string(RouteAccess.unauthorized(refusal).message)))
            }
        }
        pairs.append(("setup", .bool(mode == "locked" && control.setupCode() != nil)))
        return JSONResponse.make(.object(pairs))
    }

    func logIn(_ request: Request, _ context: Context) async throws -> Response {
        let body = try await RequestParsing.jsonBody(request)
        let name = try Self.string(body, "username")
        let password = try Self.string(body, "password")
        let address = context.access.address
        switch try await control.logIn(name: name, password: password, address: address) {
        case .success(let user, let sessionID):
            try await audit(.login, account: user.name, actor: Actor(user.name, address: address))
            var response = JSONResponse.make(
                .object([("user", .string(user.name)), ("role", .string(user.role.rawValue))]))
            response.headers[.setCookie] = control.sessionCookie(sessionID, secure: context.access.isHTTPS)
            return response
        case .failure(let reason):
            try await audit(.loginFailed, account: name, actor: Actor(name, address: address), description: reason)
            throw APIError(.unauthorized, reason)
        case .throttled(let seconds):
            throw APIError(
                .tooManyRequests, "too many failed logins for '\(name)' from this address; try again in \(seconds) s",
                headers: [.retryAfter: String(seconds)])
        }
    }

    func logOut(_ request: Request, _ context: Context) async throws -> Response {
        let user = try await control.logOut(headers: request.headers)
        if let user { try await audit(.logout, account: user, actor: Actor(user, address: context.access.address)) }
        var response = JSONResponse.make(.object([("logged_out", .bool(user != nil))]))
        response.headers[.setCookie] = control.sessionCookie(nil, secure: context.access.isHTTPS)
        return response
    }

    /// The first admin, made in the browser with the one-time code from the data directory.
    func setup(_ request: Request, _ context: Context) async throws -> Response {
        let body = try await RequestParsing.jsonBody(request)
        let code = try Self.string(body, "code")
        let name = try Self.string(body, "username")
        let password = try Self.string(body, "password")
        try TockUser.validate(name: name)
        // The code first: a wrong one costs no bcrypt (no CPU for whoever guesses).
        guard let expected = control.setupCode(), Secrets.constantTimeEqual(code, expected) else {
            throw APIError(
                .forbidden,
                "setup is over or the code is wrong: it works once, while Tock has no users or tokens, with the code "
                    + "in the data directory's setup-code file", field: "code")
        }
        let hash = try await hashPassword(password)
        let now = api.clock.now
        guard
            try await control.completeSetup(
                code: code, user: TockUser(name: name, role: .admin, passwordHash: hash, createdAt: now))
        else {
            throw APIError(
                .forbidden,
                "setup is over or the code is wrong: it works once, while Tock has no users or tokens, with the code "
                    + "in the data directory's setup-code file", field: "code")
        }
        let actor = Actor(name, address: context.access.address)
        try await audit(.setupCompleted, account: name, actor: actor, description: "first admin")
        guard
            case .success(_, let sessionID) = try await control.logIn(
                name: name, password: password, address: actor.address)
        else { throw APIError(.internalServerError, "the admin was made but could not be logged in; log in at /login") }
        try await audit(.login, account: name, actor: actor)
        var response = JSONResponse.make(
            .object([("user", .string(name)), ("role", .string(Role.admin.rawValue))]), status: .created)
        response.headers[.setCookie] = control.sessionCookie(sessionID, secure: context.access.isHTTPS)
        return response
    }

    // MARK: - Users

    func listUsers() async throws -> Response {
        let users = try await store.users()
        return JSONResponse.make(.object([("users", .array(users.map(Self.render)))]))
    }

    static func render(_ user: TockUser) -> JSONValue {
        .object([
            ("name", .string(user.name)), ("role", .string(user.role.rawValue)),
            ("tags", user.tags.map { Render.strings($0.sorted()) } ?? .null), ("disabled", .bool(user.disabled)),
            ("created_time", Render.time(user.createdAt)), ("updated_time", Render.time(user.updatedAt)),
        ])
    }

    func addUser(_ request: Request, _ context: Context) async throws -> Response {
        let body = try await RequestParsing.jsonBody(request)
        let name = try Self.string(body, "name")
        try TockUser.validate(name: name)
        let role = try Self.role(body)
        let tags = try Self.tags(body, role: role)
        let password = try Self.string(body, "password")
        let hash = try await hashPassword(password)
        try await store.addUser(
            TockUser(name: name, role: role, tags: tags, passwordHash: hash, createdAt: api.clock.now))
        control.credentialsChanged()
        try await audit(.userAdded, account: name, actor: api.user(context), description: "role \(role.rawValue)")
        return JSONResponse.make(
            .object([("name", .string(name)), ("role", .string(role.rawValue))]), status: .created)
    }

    func changeUser(_ request: Request, _ context: Context, _ name: String) async throws -> Response {
        let body = try await RequestParsing.jsonBody(request)
        guard var user = try await store.user(named: name) else { throw APIError(.notFound, "User not found: \(name)") }
        var changed: [String] = []
        if body["role"] != nil {
            user.role = try Self.role(body)
            changed.append("role \(user.role.rawValue)")
        }
        if body["tags"] != nil {
            user.tags = try Self.tags(body, role: user.role)
            changed.append("tags")
        }
        if let value = body["disabled"] {
            guard case .bool(let disabled) = value else {
                throw APIError(.badRequest, "must be true or false", field: "disabled")
            }
            user.disabled = disabled
            changed.append(disabled ? "disabled" : "enabled")
        }
        if body["password"] != nil {
            user.passwordHash = try await hashPassword(try Self.string(body, "password"))
            changed.append("password")
        }
        guard !changed.isEmpty else {
            throw APIError(.badRequest, "nothing to change: give role, tags, disabled or password", field: "body")
        }
        user.updatedAt = api.clock.now
        _ = try await store.updateUser(user)
        try await audit(
            .userModified, account: name, actor: api.user(context), description: changed.joined(separator: ", "))
        return JSONResponse.make(Self.render(user))
    }

    func hashPassword(_ password: String) async throws -> String {
        do {
            return try await NIOThreadPool.singleton.runIfActive { try Passwords.hash(password) }
        } catch let problem as AccessProblem {
            throw APIError(.badRequest, problem.description, field: "password")
        }
    }

    // MARK: - Tokens

    func listTokens() async throws -> Response {
        let tokens = try await store.tokens()
        return JSONResponse.make(.object([("tokens", .array(tokens.map(Self.render)))]))
    }

    static func render(_ token: APIToken) -> JSONValue {
        .object([
            ("id", .string(token.id)), ("name", .string(token.name)), ("role", .string(token.role.rawValue)),
            ("tags", token.tags.map { Render.strings($0.sorted()) } ?? .null),
            ("created_by", .string(token.createdBy)), ("created_time", Render.time(token.createdAt)),
            ("expires_time", Render.time(token.expiresAt)), ("last_used_time", Render.time(token.lastUsedAt)),
            ("last_used_address", token.lastUsedAddress.map { .string($0) } ?? .null),
            ("revoked_time", Render.time(token.revokedAt)),
        ])
    }

    func createToken(_ request: Request, _ context: Context) async throws -> Response {
        let body = try await RequestParsing.jsonBody(request)
        let name = try Self.string(body, "name")
        do { try APIToken.validate(name: name) } catch { throw APIError(.badRequest, error.description, field: "name") }
        let role = try Self.role(body)
        let tags = try Self.tags(body, role: role)
        var expiry: Date?
        if let value = body["expires"], value != .null {
            guard let text = value.stringValue, let duration = try? Duration(parsing: text), duration > .zero else {
                throw APIError(.badRequest, "must be a duration such as \"90d\" or \"12h\"", field: "expires")
            }
            expiry = api.clock.now.addingTimeInterval(TimeInterval(duration.components.seconds))
        }
        let actor = api.user(context)
        let (token, secret) = TokenFactory.make(
            name: name, role: role, tags: tags, createdBy: actor.name, at: api.clock.now, expiresAt: expiry)
        try await store.addToken(token)
        control.credentialsChanged()
        try await audit(
            .tokenCreated, account: name, actor: actor, description: "role \(role.rawValue), id \(token.id)")
        guard case .object(var pairs) = Self.render(token) else { throw APIError(.internalServerError, "render") }
        pairs.insert(("token", .string(secret)), at: 0)
        return JSONResponse.make(.object(pairs), status: .created)
    }

    func revokeToken(_ context: Context, _ id: String) async throws -> Response {
        guard let token = try await store.revokeToken(id, at: api.clock.now) else {
            throw APIError(.notFound, "Token not found: \(id)")
        }
        control.credentialsChanged()
        try await audit(.tokenRevoked, account: token.name, actor: api.user(context), description: "id \(token.id)")
        return JSONResponse.make(Self.render(token))
    }

    // MARK: -

    func audit(_ event: AuditEntry.Event, account: String, actor: Actor, description: String = "") async throws {
        try await api.store.append(
            AuditEntry(
                jobID: "", jobName: account, event: event, user: actor.name, createdAt: api.clock.now,
                description: description, address: actor.address))
    }

    static func string(_ body: JSONValue, _ key: String) throws(APIError) -> String {
        guard let text = body[key]?.stringValue, !text.isEmpty else {
            throw APIError(.badRequest, "required: a non-empty string", field: key)
        }
        return text
    }

    static func role(_ body: JSONValue) throws(APIError) -> Role {
        let text = try string(body, "role")
        do { return try Role(parsing: text) } catch { throw APIError(.badRequest, error.description, field: "role") }
    }

    /// `tags`: an array of tag names, or null for all jobs; only viewers and operators can be limited.
    static func tags(_ body: JSONValue, role: Role) throws(APIError) -> Set<String>? {
        guard let value = body["tags"], value != .null else { return nil }
        guard case .array(let items) = value, !items.isEmpty else {
            throw APIError(.badRequest, "must be a non-empty array of tag names, or null", field: "tags")
        }
        var tags = Set<String>()
        for item in items {
            guard let tag = item.stringValue, !tag.isEmpty else {
                throw APIError(.badRequest, "must be a non-empty array of tag names, or null", field: "tags")
            }
            tags.insert(tag)
        }
        if role == .admin {
            throw APIError(
                .badRequest, "an admin cannot be limited to tags (an admin could edit any job's tags)", field: "tags")
        }
        return tags
    }
}
