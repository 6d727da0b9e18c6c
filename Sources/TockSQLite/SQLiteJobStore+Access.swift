import Foundation
import GRDB
import TockCore
import TockJSON

/// Users, API tokens and sessions in the same SQLite file (tables `user_account`, `api_token`, `user_session`):
/// only hashes of secrets are stored.
extension SQLiteJobStore: AccessStore {
    public func hasCredentials() async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS(SELECT 1 FROM user_account) OR EXISTS(SELECT 1 FROM api_token WHERE revoked_at IS NULL)
                    """) ?? false
        }
    }

    static let userColumns = "name, role, tags, password_hash, disabled, created_at, updated_at"

    public func users() async throws -> [TockUser] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.userColumns) FROM user_account ORDER BY name").compactMap(
                Self.user)
        }
    }

    public func user(named name: String) async throws -> TockUser? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.userColumns) FROM user_account WHERE name = ?", arguments: [name])
                .flatMap(Self.user)
        }
    }

    public func addUser(_ user: TockUser) async throws {
        try await pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM user_account WHERE name = ?", arguments: [user.name]) != nil {
                throw AccessProblem("a user named '\(user.name)' already exists")
            }
            try db.execute(
                sql: """
                    INSERT INTO user_account (name, role, tags, password_hash, disabled, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    user.name, user.role.rawValue, Self.tagsText(user.tags), user.passwordHash, user.disabled,
                    user.createdAt.timeIntervalSince1970, user.updatedAt.timeIntervalSince1970,
                ])
        }
    }

    public func updateUser(_ user: TockUser) async throws -> Bool {
        try await pool.write { db in
            guard
                let old = try Row.fetchOne(
                    db, sql: "SELECT \(Self.userColumns) FROM user_account WHERE name = ?", arguments: [user.name]
                ).flatMap(Self.user)
            else { return false }
            try db.execute(
                sql: """
                    UPDATE user_account SET role = ?, tags = ?, password_hash = ?, disabled = ?, updated_at = ?
                    WHERE name = ?
                    """,
                arguments: [
                    user.role.rawValue, Self.tagsText(user.tags), user.passwordHash, user.disabled,
                    user.updatedAt.timeIntervalSince1970, user.name,
                ])
            // A disabled user, a new password or a smaller role: every open session ends now.
            if user.disabled || old.passwordHash != user.passwordHash || user.role < old.role || user.tags != old.tags {
                try db.execute(sql: "DELETE FROM user_session WHERE user_name = ?", arguments: [user.name])
            }
            return true
        }
    }

    static let tokenColumns = """
        id, name, token_hash, role, tags, created_by, created_at, expires_at, last_used_at, last_used_address, revoked_at
        """

    public func tokens() async throws -> [APIToken] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.tokenColumns) FROM api_token ORDER BY created_at, id")
                .compactMap(Self.token)
        }
    }

    public func token(hash: String) async throws -> APIToken? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT \(Self.tokenColumns) FROM api_token WHERE token_hash = ? AND revoked_at IS NULL",
                arguments: [hash]
            ).flatMap(Self.token)
        }
    }

    public func addToken(_ token: APIToken) async throws {
        try await pool.write { db in
            if try Bool.fetchOne(
                db, sql: "SELECT 1 FROM api_token WHERE name = ? AND revoked_at IS NULL", arguments: [token.name])
                != nil
            {
                throw AccessProblem("a token named '\(token.name)' already exists (revoke it first)")
            }
            try db.execute(
                sql: """
                    INSERT INTO api_token (id, name, token_hash, role, tags, created_by, created_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    token.id, token.name, token.hash, token.role.rawValue, Self.tagsText(token.tags), token.createdBy,
                    token.createdAt.timeIntervalSince1970, token.expiresAt?.timeIntervalSince1970,
                ])
        }
    }

    public func revokeToken(_ nameOrID: String, at date: Date) async throws -> APIToken? {
        try await pool.write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT \(Self.tokenColumns) FROM api_token
                        WHERE revoked_at IS NULL AND (name = ? OR id = ?) ORDER BY created_at LIMIT 1
                        """, arguments: [nameOrID, nameOrID]),
                var token = Self.token(row)
            else { return nil }
            try db.execute(
                sql: "UPDATE api_token SET revoked_at = ? WHERE id = ?",
                arguments: [date.timeIntervalSince1970, token.id])
            token.revokedAt = date
            return token
        }
    }

    public func touchToken(id: String, at date: Date, address: String?) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE api_token SET last_used_at = ?, last_used_address = ? WHERE id = ?",
                arguments: [date.timeIntervalSince1970, address, id])
        }
    }

    public func addSession(_ session: UserSession) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO user_session (id_hash, user_name, created_at, last_seen_at, expires_at, address)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    session.hash, session.userName, session.createdAt.timeIntervalSince1970,
                    session.lastSeenAt.timeIntervalSince1970, session.expiresAt.timeIntervalSince1970, session.address,
                ])
        }
    }

    public func session(hash: String) async throws -> (UserSession, TockUser)? {
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT s.id_hash, s.user_name, s.created_at AS s_created, s.last_seen_at, s.expires_at,
                            s.address, \(Self.userColumns.split(separator: ",").map { "u." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", "))
                        FROM user_session s JOIN user_account u ON u.name = s.user_name WHERE s.id_hash = ?
                        """, arguments: [hash]),
                let user = Self.user(row)
            else { return nil }
            let session = UserSession(
                hash: try row.decode(forColumn: "id_hash"), userName: try row.decode(forColumn: "user_name"),
                createdAt: Date(timeIntervalSince1970: try row.decode(forColumn: "s_created")),
                lastSeenAt: Date(timeIntervalSince1970: try row.decode(forColumn: "last_seen_at")),
                expiresAt: Date(timeIntervalSince1970: try row.decode(forColumn: "expires_at")),
                address: try row.decode(String?.self, forColumn: "address"))
            return (session, user)
        }
    }

    public func deleteSession(hash: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM user_session WHERE id_hash = ?", arguments: [hash])
        }
    }

    public func touchSession(hash: String, at date: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE user_session SET last_seen_at = ? WHERE id_hash = ?",
                arguments: [date.timeIntervalSince1970, hash])
        }
    }

    public func pruneSessions(now: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(
                sql: "DELETE FROM user_session WHERE expires_at <= ? OR last_seen_at <= ?",
                arguments: [now.timeIntervalSince1970, now.timeIntervalSince1970 - UserSession.idleTimeout])
            return db.changesCount
        }
    }

    // MARK: - Rows

    static func tagsText(_ tags: Set<String>?) -> String? {
        tags.map { JSONValue.array($0.sorted().map { .string($0) }).jsonString }
    }

    static func tags(_ text: String?) -> Set<String>? {
        guard let text, let value = try? JSONValue.parse(Array(text.utf8)), case .array(let items) = value else {
            return nil
        }
        return Set(items.compactMap(\.stringValue))
    }

    /// A user row; nil (and left out) if its role is unknown.
    static func user(_ row: Row) -> TockUser? {
        guard let role = Role(rawValue: row["role"] ?? "") else { return nil }
        return TockUser(
            name: row["name"], role: role, tags: tags(row["tags"]), passwordHash: row["password_hash"],
            disabled: row["disabled"], createdAt: Date(timeIntervalSince1970: row["created_at"]),
            updatedAt: Date(timeIntervalSince1970: row["updated_at"]))
    }

    static func token(_ row: Row) -> APIToken? {
        guard let role = Role(rawValue: row["role"] ?? "") else { return nil }
        let date = { (column: String) -> Date? in (row[column] as Double?).map { Date(timeIntervalSince1970: $0) } }
        return APIToken(
            id: row["id"], name: row["name"], hash: row["token_hash"], role: role, tags: tags(row["tags"]),
            createdBy: row["created_by"], createdAt: Date(timeIntervalSince1970: row["created_at"]),
            expiresAt: date("expires_at"), lastUsedAt: date("last_used_at"),
            lastUsedAddress: row["last_used_address"], revokedAt: date("revoked_at"))
    }
}
