import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TockCore
import TockJSON
import TockSQLite
import TockTesting

@testable import TockHTTP

/// Authentication and roles over real parts: the SQLite store's users, tokens and sessions, real bcrypt, the
/// router with every route.
@Suite struct AccessTests {
    /// Authentication required (as on a root daemon, or any daemon once a credential exists).
    static func required(_ store: SQLiteJobStore) -> AccessControl {
        var settings = AccessControl.Settings()
        settings.runningAsRoot = true
        return AccessControl(settings: settings, store: store)
    }

    /// Makes a token of a role (and tags) in the store; returns its secret.
    static func token(_ h: APIHarness, _ name: String, _ role: Role, tags: Set<String>? = nil) async throws -> String {
        let (token, secret) = TokenFactory.make(
            name: name, role: role, tags: tags, createdBy: "test", at: Date(), expiresAt: nil)
        try await h.store.addToken(token)
        return secret
    }

    static func bearer(_ secret: String, _ extra: HTTPFields = jsonHeaders) -> HTTPFields {
        var headers = extra
        headers[.authorization] = "Bearer \(secret)"
        return headers
    }

    /// A concrete request for a route of the table: placeholders filled with things that exist.
    static func path(_ route: TockAPI.Route, job: String, execution: String) -> String {
        route.path.replacingOccurrences(of: "{job_id}", with: job)
            .replacingOccurrences(
                of: "{id}",
                with: route.path.hasPrefix("/api/v1/tokens")
                    ? "nope" : route.path == "/api/v1/executions/{id}" && route.method == "POST" ? job : execution
            )
            .replacingOccurrences(of: "{name}", with: "nobody")
    }

    /// Walks the route table: no credentials → 401, a role too small → 403, the route's role → neither.
    @Test func everyRoute_refusesWithout_andTooSmallARole_andAdmitsItsRole() async throws {
        let h = try APIHarness(access: Self.required)
        let tokens: [Role: String] = [
            .viewer: try await Self.token(h, "v", .viewer), .operator: try await Self.token(h, "o", .operator),
            .admin: try await Self.token(h, "a", .admin),
        ]
        try await h.test { client in
            let run = try await client.send(
                .post, "/api/v1/executions/from-file", nil, headers: Self.bearer(tokens[.operator]!))
            #expect(run.status == .ok)
            let execution = try #require(try json(run)["execution_id"]?.stringValue)
            #expect(h.routes.count >= 28)
            for route in h.routes {
                let method = HTTPRequest.Method(route.method)!
                let path = Self.path(route, job: "from-file", execution: execution)
                let body = ["POST", "PUT", "PATCH"].contains(route.method) ? "{}" : nil
                let anonymous = try await client.send(method, path, body)
                guard case .role(let needed) = route.access else {
                    #expect(anonymous.status != .unauthorized && anonymous.status != .forbidden, "\(route) is public")
                    continue
                }
                #expect(anonymous.status == .unauthorized, "\(route) without credentials: \(anonymous.status)")
                #expect(anonymous.headers[.wwwAuthenticate] == #"Bearer realm="tock""#)
                for role in Role.allCases {
                    let response = try await client.send(method, path, body, headers: Self.bearer(tokens[role]!))
                    if role < needed {
                        #expect(response.status == .forbidden, "\(route) as \(role): \(response.status)")
                        #expect(try json(response)["required_role"]?.stringValue == needed.rawValue)
                    } else {
                        #expect(
                            response.status != .forbidden && response.status != .unauthorized,
                            "\(route) as \(role): \(response.status) \(text(response))")
                    }
                }
            }
        }
    }

    @Test func aLockedServer_saysHowToMakeTheFirstAdmin_andTheSetupCodeWorksOnce() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-setup-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let codePath = directory.appendingPathComponent("setup-code").path
        let h = try APIHarness { store in
            var settings = AccessControl.Settings()
            settings.runningAsRoot = true
            settings.setupCodePath = codePath
            return AccessControl(settings: settings, store: store)
        }
        let code = try #require(await h.api.access.prepareSetupCode())
        let attributes = try FileManager.default.attributesOfItem(atPath: codePath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        try await h.test { client in
            let locked = try await client.get("/api/v1/jobs")
            #expect(locked.status == .unauthorized)
            #expect(try json(locked)["locked"] == true)
            #expect(text(locked).contains("tock users add"))
            let me = try json(try await client.get("/api/v1/auth/me"))
            #expect(me["mode"]?.stringValue == "locked" && me["setup"] == true)

            let wrong = try await client.send(
                .post, "/api/v1/auth/setup", #"{"code": "nope", "username": "root-admin", "password": "correct horse"}"#
            )
            #expect(wrong.status == .forbidden)
            let made = try await client.send(
                .post, "/api/v1/auth/setup",
                #"{"code": "\#(code)", "username": "root-admin", "password": "correct horse"}"#)
            #expect(made.status == .created, "\(text(made))")
            let cookie = try #require(made.headers[.setCookie])
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"))
            #expect(!FileManager.default.fileExists(atPath: codePath))
            let session = String(cookie.split(separator: ";")[0])
            let jobs = try await client.get("/api/v1/jobs", headers: [.cookie: session])
            #expect(jobs.status == .ok)
            let again = try await client.send(
                .post, "/api/v1/auth/setup", #"{"code": "\#(code)", "username": "second", "password": "correct horse"}"#
            )
            #expect(again.status == .forbidden)
            let log = try json(try await client.get("/api/v1/logs", headers: [.cookie: session]))
            let events = (log["logs"]?.items ?? []).compactMap { $0["event"]?.stringValue }
            #expect(events.contains("setup_completed") && events.contains("login"))
        }
    }

    @Test func login_session_logout_andDisabling_takeEffectAtOnce() async throws {
        let h = try APIHarness(access: Self.required)
        try await h.store.addUser(
            TockUser(
                name: "alice", role: .operator, passwordHash: try Passwords.hash("s3cret-pass", cost: 4),
                createdAt: Date())
        )
        try await h.test { client in
            let bad = try await client.send(
                .post, "/api/v1/auth/login", #"{"username": "alice", "password": "wrong-pass"}"#)
            #expect(bad.status == .unauthorized)
            #expect(bad.headers[.setCookie] == nil)
            let unknown = try await client.send(
                .post, "/api/v1/auth/login", #"{"username": "mallory", "password": "wrong-pass"}"#)
            #expect(try json(unknown)["error"] == json(bad)["error"], "an unknown name reads as a wrong password")

            func logIn() async throws -> String {
                let response = try await client.send(
                    .post, "/api/v1/auth/login", #"{"username": "alice", "password": "s3cret-pass"}"#)
                #expect(response.status == .ok, "\(text(response))")
                return String(try #require(response.headers[.setCookie]).split(separator: ";")[0])
            }
            let session = try await logIn()
            let me = try json(try await client.get("/api/v1/auth/me", headers: [.cookie: session]))
            #expect(me["user"]?.stringValue == "alice" && me["role"]?.stringValue == "operator")
            #expect(
                try await client.send(.post, "/api/v1/executions/from-file", nil, headers: [.cookie: session]).status
                    == .ok)
            // An operator cannot create jobs.
            let create = try await client.send(
                .post, "/api/v1/jobs", #"{"job_id": "x", "schedule": "@daily", "command": "true"}"#,
                headers: [.cookie: session, .contentType: "application/json"])
            #expect(create.status == .forbidden)

            let out = try await client.send(.post, "/api/v1/auth/logout", nil, headers: [.cookie: session])
            #expect(out.headers[.setCookie]?.contains("Max-Age=0") == true)
            #expect(try await client.get("/api/v1/jobs", headers: [.cookie: session]).status == .unauthorized)

            // Disabling ends an open session at once.
            let second = try await logIn()
            #expect(try await client.get("/api/v1/jobs", headers: [.cookie: second]).status == .ok)
            var alice = try #require(try await h.store.user(named: "alice"))
            alice.disabled = true
            _ = try await h.store.updateUser(alice)
            #expect(try await client.get("/api/v1/jobs", headers: [.cookie: second]).status == .unauthorized)

            // The store keeps hashes only: the cookie's value is in no table.
            let value = String(second.split(separator: "=")[1])
            let dump = try await DatabaseQueue(path: h.directory.appendingPathComponent("tock.sqlite").path).read {
                db in
                try String.fetchAll(db, sql: "SELECT id_hash || ' ' || user_name FROM user_session")
            }
            #expect(!dump.joined().contains(value))
        }
    }

    @Test func failedLogins_areThrottled_perNameAndAddress() async throws {
        let h = try APIHarness(access: Self.required)
        try await h.store.addUser(
            TockUser(
                name: "bob", role: .viewer, passwordHash: try Passwords.hash("right-password", cost: 4),
                createdAt: Date()))
        try await h.test { client in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<6 {
                let response = try await client.send(
                    .post, "/api/v1/auth/login", #"{"username": "bob", "password": "guess-guess"}"#)
                statuses.append(response.status)
            }
            #expect(statuses.prefix(5).allSatisfy { $0 == .unauthorized })
            let throttled = try await client.send(
                .post, "/api/v1/auth/login", #"{"username": "bob", "password": "right-password"}"#)
            #expect(throttled.status == .tooManyRequests, "even the right password waits out the throttle")
            #expect(throttled.headers[.retryAfter] != nil)
            let failures = try await h.store.auditLog(limit: 100).filter { $0.event == .loginFailed }
            #expect(failures.count >= 5 && failures.allSatisfy { $0.jobName == "bob" })
        }
    }

    @Test func tagScopes_hideOtherJobs_andNonAdminsSeeNoEnvValues() async throws {
        let h = try APIHarness(access: Self.required)
        let admin = try await Self.token(h, "admin", .admin)
        let scoped = try await Self.token(h, "billing-viewer", .viewer, tags: ["billing"])
        let viewer = try await Self.token(h, "viewer", .viewer)
        try await h.test { client in
            for (id, tag) in [("invoice", "billing"), ("backup", "ops")] {
                let response = try await client.send(
                    .post, "/api/v1/jobs",
                    #"{"job_id": "\#(id)", "schedule": "@daily", "command": "echo hi", "tags": ["\#(tag)"], "env": {"API_KEY": "hunter2-\#(id)"}}"#,
                    headers: Self.bearer(admin))
                #expect(response.status == .created, "\(text(response))")
            }
            let list = try json(try await client.get("/api/v1/jobs", headers: Self.bearer(scoped)))
            #expect((list["jobs"]?.items ?? []).compactMap { $0["job_id"]?.stringValue } == ["invoice"])
            #expect(try await client.get("/api/v1/jobs/backup", headers: Self.bearer(scoped)).status == .notFound)
            #expect(
                try await client.send(.post, "/api/v1/executions/backup", nil, headers: Self.bearer(scoped)).status
                    == .forbidden, "a viewer cannot run, scoped or not")

            // env: values hidden from viewers, in lists, single jobs and the audit log; shown to admins.
            let full = try await client.get("/api/v1/jobs", headers: Self.bearer(viewer))
            #expect(!text(full).contains("hunter2") && text(full).contains("API_KEY"))
            let one = try json(try await client.get("/api/v1/jobs/invoice", headers: Self.bearer(scoped)))
            #expect(one["env"]?["API_KEY"]?.stringValue == "•••")
            let asAdmin = try json(try await client.get("/api/v1/jobs/invoice", headers: Self.bearer(admin)))
            #expect(asAdmin["env"]?["API_KEY"]?.stringValue == "hunter2-invoice")
            let change = try await client.send(
                .put, "/api/v1/jobs/invoice",
                #"{"schedule": "@daily", "command": "echo hi", "tags": ["billing"], "env": {"API_KEY": "rotated"}}"#,
                headers: Self.bearer(admin))
            #expect(change.status == .ok)
            let logs = try await client.get("/api/v1/logs?job_id=invoice", headers: Self.bearer(viewer))
            #expect(
                text(logs).contains("modified") && !text(logs).contains("rotated") && !text(logs).contains("hunter2"))
            // Scoped readers see only their jobs' entries, and nobody but admins sees account events.
            let scopedLogs = try json(try await client.get("/api/v1/logs", headers: Self.bearer(scoped)))
            #expect((scopedLogs["logs"]?.items ?? []).allSatisfy { $0["job_id"]?.stringValue == "invoice" })
            let adminLogs = try await client.get("/api/v1/logs", headers: Self.bearer(admin))
            #expect(text(adminLogs).contains("rotated"))
        }
    }

    @Test func tokens_throughTheAPI_areShownOnce_storedHashed_andRevocable() async throws {
        let h = try APIHarness(access: Self.required)
        let admin = try await Self.token(h, "root-token", .admin)
        try await h.test { client in
            let made = try await client.send(
                .post, "/api/v1/tokens", #"{"name": "deploy-ci", "role": "operator", "expires": "30d"}"#,
                headers: Self.bearer(admin))
            #expect(made.status == .created, "\(text(made))")
            let secret = try #require(try json(made)["token"]?.stringValue)
            #expect(secret.hasPrefix("tock_") && secret.count == 48)
            let listed = try await client.get("/api/v1/tokens", headers: Self.bearer(admin))
            #expect(!text(listed).contains(secret) && text(listed).contains("deploy-ci"))
            #expect(
                try await client.send(.post, "/api/v1/executions/from-file", nil, headers: Self.bearer(secret)).status
                    == .ok)
            let rows = try await DatabaseQueue(path: h.directory.appendingPathComponent("tock.sqlite").path).read {
                db in
                try String.fetchAll(db, sql: "SELECT id || name || token_hash || role || created_by FROM api_token")
            }
            #expect(!rows.joined().contains(secret))
            #expect(rows.joined().contains(Secrets.hash(secret)))
            let logs = try await client.get("/api/v1/logs", headers: Self.bearer(admin))
            #expect(!text(logs).contains(secret) && text(logs).contains("token:deploy-ci"))

            let revoked = try await client.send(.delete, "/api/v1/tokens/deploy-ci", nil, headers: Self.bearer(admin))
            #expect(revoked.status == .ok)
            let after = try await client.get("/api/v1/jobs", headers: Self.bearer(secret))
            #expect(after.status == .unauthorized)
            #expect(text(after).contains("unknown or revoked"))
        }
    }

    @Test func openMode_isLocal_untilACredentialExists() async throws {
        let clock = ManualWallClock(now: Date(timeIntervalSince1970: 1_800_000_000))
        let h = try APIHarness { store in
            var settings = AccessControl.Settings()
            settings.runningAsRoot = false
            settings.loopbackListener = true
            return AccessControl(settings: settings, store: store, clock: clock)
        }
        try await h.test { client in
            let me = try json(try await client.get("/api/v1/auth/me"))
            #expect(me["mode"]?.stringValue == "open" && me["user"]?.stringValue == "local")
            #expect(try await client.send(.post, "/api/v1/jobs/from-file/pause", nil).status == .ok)
            _ = try await Self.token(h, "first", .viewer)
            clock.advance(by: 1.5)
            #expect(try await client.send(.post, "/api/v1/jobs/from-file/resume", nil).status == .unauthorized)
            #expect(try json(try await client.get("/api/v1/auth/me"))["mode"]?.stringValue == "required")
        }
    }

    @Test func aRootDaemon_takesAPIJobsOnlyAsAllowedUsers_andApiJobsCanBeTurnedOff() async throws {
        let h = try APIHarness(jobPolicy: JobCatalog.Policy(allowedUsers: ["nobody"]))
        try await h.test { client in
            let noUser = try await client.send(
                .post, "/api/v1/jobs", #"{"job_id": "a", "schedule": "@daily", "command": "id"}"#)
            #expect(noUser.status == .badRequest)
            #expect(try json(noUser)["field"]?.stringValue == "user")
            let root = try await client.send(
                .post, "/api/v1/jobs", #"{"job_id": "a", "schedule": "@daily", "command": "id", "user": "root"}"#)
            #expect(root.status == .badRequest && text(root).contains("not allowed"))
            let allowed = try await client.send(
                .post, "/api/v1/jobs", #"{"job_id": "a", "schedule": "@daily", "command": "id", "user": "nobody"}"#)
            #expect(allowed.status == .created)
        }
        let off = try APIHarness(jobPolicy: JobCatalog.Policy(apiJobsEnabled: false))
        try await off.test { client in
            let create = try await client.send(
                .post, "/api/v1/jobs", #"{"job_id": "a", "schedule": "@daily", "command": "id"}"#)
            #expect(create.status == .forbidden && text(create).contains("api_jobs = false"))
            // Running and pausing still work.
            #expect(try await client.send(.post, "/api/v1/jobs/from-file/pause", nil).status == .ok)
        }
    }
}

extension JSONValue {
    /// The items of an array (empty for anything else).
    var items: [JSONValue] {
        if case .array(let items) = self { return items }
        return []
    }
}

/// Behind a reverse proxy: only trusted proxies may say who the client is and whether it used HTTPS.
@Suite struct TrustedProxyTests {
    static func control(_ proxies: [String]) -> AccessControl {
        var settings = AccessControl.Settings()
        settings.trustedProxies = proxies.compactMap(AddressRange.init)
        return AccessControl(settings: settings, store: nil)
    }

    @Test func forwardedFor_isBelievedOnlyFromATrustedProxy() {
        let control = Self.control(["10.0.0.0/8", "::1"])
        let headers: HTTPFields = [
            HTTPField.Name("X-Forwarded-For")!: "198.51.100.7, 203.0.113.9, 10.0.0.7",
            HTTPField.Name("X-Forwarded-Proto")!: "https",
        ]
        // The nearest hop that is not a trusted proxy: what a client cannot forge by adding its own entries.
        #expect(control.clientAddress(peer: "10.1.2.3", headers: headers) == "203.0.113.9")
        #expect(control.clientAddress(peer: "::1", headers: headers) == "203.0.113.9")
        #expect(control.clientAddress(peer: "192.0.2.1", headers: headers) == "192.0.2.1")
        #expect(control.clientAddress(peer: "10.1.2.3", headers: [:]) == "10.1.2.3")
        #expect(control.isHTTPS(peer: "10.1.2.3", headers: headers))
        #expect(!control.isHTTPS(peer: "192.0.2.1", headers: headers))
        #expect(!Self.control([]).isHTTPS(peer: "10.1.2.3", headers: headers))
    }

    @Test func addressRanges_matchV4_v6_andMappedAddresses() {
        let v4 = AddressRange("172.16.0.0/12")!
        #expect(v4.contains("172.31.255.1") && !v4.contains("172.32.0.1") && v4.contains("::ffff:172.16.0.9"))
        let v6 = AddressRange("fd00::/8")!
        #expect(v6.contains("fd12::1") && !v6.contains("fe80::1") && !v6.contains("10.0.0.1"))
        #expect(AddressRange("10.0.0.0/33") == nil && AddressRange("example.com") == nil)
        #expect(AddressRange("127.0.0.1")!.contains("127.0.0.1") && !AddressRange("127.0.0.1")!.contains("127.0.0.2"))
    }

    @Test func bearerValues_areReadInAnyCase_andOthersRefused() {
        #expect(AccessControl.bearerToken("Bearer tock_abc") == "tock_abc")
        #expect(AccessControl.bearerToken("bearer   tock_abc \t") == "tock_abc")
        #expect(AccessControl.bearerToken("BEARER tock_abc") == "tock_abc")
        #expect(AccessControl.bearerToken("Basic dXNlcjpwYXNz") == nil)
        #expect(AccessControl.bearerToken("Bearer") == nil && AccessControl.bearerToken("Bearer   ") == nil)
        #expect(AccessControl.bearerToken("Bearertock_abc") == nil)
    }

    @Test func theSessionCookie_isSecureOverHTTPS_andAlwaysHttpOnlyAndLax() {
        let control = Self.control([])
        let plain = control.sessionCookie("abc", secure: false)
        #expect(plain.contains("HttpOnly") && plain.contains("SameSite=Lax") && !plain.contains("Secure"))
        #expect(control.sessionCookie("abc", secure: true).hasSuffix("; Secure"))
    }
}

@Suite struct SecretsTests {
    @Test func tokens_areLongRandomAndPrefixed_andPasswordsFollowBcryptsLimits() throws {
        let a = Secrets.newToken()
        let b = Secrets.newToken()
        #expect(a != b && a.hasPrefix("tock_") && a.count == 48)
        #expect(Secrets.hash(a).count == 64 && Secrets.hash(a) != Secrets.hash(b))
        // FIPS 180-2's test vector.
        #expect(Secrets.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(throws: AccessProblem.self) { try Passwords.validate("short") }
        #expect(throws: AccessProblem.self) { try Passwords.validate(String(repeating: "é", count: 37)) }  // 74 bytes
        let hash = try Passwords.hash("correct horse battery", cost: 4)
        #expect(hash.hasPrefix("$2b$04$"))
        #expect(Passwords.verify("correct horse battery", hash: hash) && !Passwords.verify("correct horse", hash: hash))
        // htpasswd -B writes $2y$: the same algorithm.
        #expect(Passwords.verify("correct horse battery", hash: "$2y$" + hash.dropFirst(4)))
    }
}
