import Foundation
import Glibc
import HTTPTypes
import Logging
import NIOPosix
import Synchronization
import TockCore

/// Logging in and out, and the first admin (the setup code).
extension AccessControl {
    // MARK: - Logging in

    public static let sessionCookie = "tock_session"

    /// A cookie's value from the request's `Cookie` headers.
    static func cookie(named name: String, in headers: HTTPFields) -> String? {
        for field in headers[values: .cookie] {
            for pair in field.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }

    /// The `Set-Cookie` value for a new session (or, with `nil`, one that ends the cookie).
    func sessionCookie(_ id: String?, secure: Bool) -> String {
        var parts = ["\(Self.sessionCookie)=\(id ?? "")", "Path=/", "HttpOnly", "SameSite=Lax"]
        if id == nil {
            parts.append("Max-Age=0")
        } else {
            parts.append("Max-Age=\(Int(UserSession.absoluteTimeout))")
        }
        if secure { parts.append("Secure") }
        return parts.joined(separator: "; ")
    }

    public enum LoginResult: Sendable {
        case success(TockUser, sessionID: String)
        case failure(String)
        /// Too many failures from this address for this name: try again after this many seconds.
        case throttled(Int)
    }

    /// Checks a user's password (bcrypt, on a thread of its own) and opens a session.
    func logIn(name: String, password: String, address: String?) async throws -> LoginResult {
        guard let store else { return .failure("this server has no users") }
        // Two counters: this name from this address (five tries free), and this address whatever the name (twenty):
        // guessing one account's password, or many accounts' common ones, both slow down.
        let key = "\(name.lowercased())|\(address ?? "")"
        let addressKey = "*|\(address ?? "")"
        let now = clock.now
        let blocked = state.withLock { s in
            max(s.failures[key]?.blockedUntil ?? .distantPast, s.failures[addressKey]?.blockedUntil ?? .distantPast)
        }
        if blocked > now { return .throttled(Int(blocked.timeIntervalSince(now).rounded(.up))) }
        let user = try await store.user(named: name)
        // An unknown name costs the same bcrypt as a wrong password: timing does not tell which names exist.
        let hash = user?.passwordHash ?? Self.decoyHash
        let matches = try await NIOThreadPool.singleton.runIfActive { Passwords.verify(password, hash: hash) }
        guard let user, matches, !user.disabled else {
            let failures = state.withLock { s -> Int in
                // Free tries, then a wait that doubles (2 s, 4 s, … up to 15 minutes) before the next.
                func count(_ key: String, free: Int) -> Int {
                    let count = (s.failures[key]?.count ?? 0) + 1
                    let wait = count < free ? 0 : min(900, pow(2, Double(count - free + 1)))
                    s.failures[key] = (count, now.addingTimeInterval(wait))
                    return count
                }
                let failures = count(key, free: 5)
                _ = count(addressKey, free: 20)
                if s.failures.count > 10_000 { s.failures = s.failures.filter { $0.value.blockedUntil > now } }
                return failures
            }
            logger.notice(
                "login failed",
                metadata: ["user": "\(name)", "address": "\(address ?? "?")", "failures": "\(failures)"])
            return .failure(
                user?.disabled == true && matches ? "this user is disabled" : "wrong user name or password")
        }
        state.withLock { s in
            s.failures[key] = nil
            s.failures[addressKey] = nil
            s.credentialsExist = true
        }
        // Ended sessions are swept at each login: their number stays about the number of live ones.
        _ = try? await store.pruneSessions(now: now)
        let id = Secrets.newSessionID()
        try await store.addSession(
            UserSession(
                hash: Secrets.hash(id), userName: user.name, createdAt: now, lastSeenAt: now,
                expiresAt: now.addingTimeInterval(UserSession.absoluteTimeout), address: address))
        return .success(user, sessionID: id)
    }

    /// A bcrypt hash of a random password at the real cost, checked when the name is unknown.
    static let decoyHash: String = (try? Passwords.hash(Secrets.newSetupCode())) ?? ""

    /// Ends the session whose cookie came with the request; returns its user, if it was one.
    func logOut(headers: HTTPFields) async throws -> String? {
        guard let store, let id = Self.cookie(named: Self.sessionCookie, in: headers) else { return nil }
        let hash = Secrets.hash(id)
        let user = try await store.session(hash: hash)?.1.name
        try await store.deleteSession(hash: hash)
        return user
    }

    // MARK: - The first admin

    /// The one-time setup code, if the daemon is locked and has written one.
    func setupCode() -> String? {
        guard let path = settings.setupCodePath,
            let text = try? String(contentsOfFile: path, encoding: .utf8)
        else { return nil }
        let code = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return code.isEmpty ? nil : code
    }

    /// Writes a new setup code to `setupCodePath` (0600) when the daemon is locked; removes a stale one otherwise.
    /// Returns the code written.
    public func prepareSetupCode() async -> String? {
        guard let path = settings.setupCodePath else { return nil }
        guard await currentMode() == "locked" else {
            try? FileManager.default.removeItem(atPath: path)
            return nil
        }
        let code = Secrets.newSetupCode()
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            logger.error("could not write the setup code", metadata: ["path": "\(path)", "errno": "\(errno)"])
            return nil
        }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let bytes = Array((code + "\n").utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { return nil }
        return code
    }

    /// Removes the setup code's file (credentials exist now, or the daemon is open).
    public func removeSetupCode() {
        if let path = settings.setupCodePath { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Makes the first admin with the setup code; false if the code is wrong or an admin already exists.
    func completeSetup(code: String, user: TockUser) async throws -> Bool {
        guard let store, let expected = setupCode(), Secrets.constantTimeEqual(code, expected) else { return false }
        guard !(try await store.hasCredentials()) else { return false }
        try await store.addUser(user)
        if let path = settings.setupCodePath { try? FileManager.default.removeItem(atPath: path) }
        state.withLock { $0.credentialsExist = true }
        return true
    }
}
