#if Postgres
    import Foundation
    import PostgresNIO
    import TockCore
    import TockJSON

    /// Users, API tokens and sessions in the shared database (tables `user_account`, `api_token`, `user_session`): every
    /// node sees the same accounts; only hashes of secrets are stored.
    extension PostgresJobStore: AccessStore {
        public func hasCredentials() async throws -> Bool {
            let rows = try await run(
                """
                SELECT EXISTS(SELECT 1 FROM user_account) OR EXISTS(SELECT 1 FROM api_token WHERE revoked_at IS NULL)
                """)
            return try rows.first?.decode(Bool.self) ?? false
        }

        static let userColumns = "name, role, tags, password_hash, disabled, created_at, updated_at"

        public func users() async throws -> [TockUser] {
            try await run("SELECT \(unescaped: Self.userColumns) FROM user_account ORDER BY name").compactMap(Self.user)
        }

        public func user(named name: String) async throws -> TockUser? {
            try await run("SELECT \(unescaped: Self.userColumns) FROM user_account WHERE name = \(name)").first.flatMap(
                Self.user)
        }

        public func addUser(_ user: TockUser) async throws {
            let added = try await run(
                """
                INSERT INTO user_account (name, role, tags, password_hash, disabled, created_at, updated_at)
                VALUES (\(user.name), \(user.role.rawValue), \(Self.tagsText(user.tags)), \(user.passwordHash),
                    \(user.disabled), \(user.createdAt), \(user.updatedAt))
                ON CONFLICT (name) DO NOTHING RETURNING name
                """)
            if added.isEmpty { throw AccessProblem("a user named '\(user.name)' already exists") }
        }

        public func updateUser(_ user: TockUser) async throws -> Bool {
            try await transaction { connection in
                let rows = try await connection.query(
                    "SELECT \(unescaped: Self.userColumns) FROM user_account WHERE name = \(user.name) FOR UPDATE",
                    logger: self.logger
                ).collect()
                guard let old = rows.first.flatMap(Self.user) else { return false }
                try await connection.query(
                    """
                    UPDATE user_account SET role = \(user.role.rawValue), tags = \(Self.tagsText(user.tags)),
                        password_hash = \(user.passwordHash), disabled = \(user.disabled), updated_at = \(user.updatedAt)
                    WHERE name = \(user.name)
                    """, logger: self.logger)
                // A disabled user, a new password or a smaller role: every open session ends now.
                if user.disabled || old.passwordHash != user.passwordHash || user.role < old.role
                    || user.tags != old.tags
                {
                    try await connection.query(
                        "DELETE FROM user_session WHERE user_name = \(user.name)", logger: self.logger)
                }
                return true
            }
        }

        static let tokenColumns = """
            id, name, token_hash, role, tags, created_by, created_at, expires_at, last_used_at, last_used_address, revoked_at
            """

        public func tokens() async throws -> [APIToken] {
            try await run("SELECT \(unescaped: Self.tokenColumns) FROM api_token ORDER BY created_at, id").compactMap(
                Self.token)
        }

        public func token(hash: String) async throws -> APIToken? {
            try await run(
                "SELECT \(unescaped: Self.tokenColumns) FROM api_token WHERE token_hash = \(hash) AND revoked_at IS NULL"
            ).first.flatMap(Self.token)
        }

        public func addToken(_ token: APIToken) async throws {
            // The partial unique index on live names decides between two nodes adding the same name at once.
            let added = try await run(
                """
                INSERT INTO api_token (id, name, token_hash, role, tags, created_by, created_at, expires_at)
                VALUES (\(token.id), \(token.name), \(token.hash), \(token.role.rawValue), \(Self.tagsText(token.tags)),
                    \(token.createdBy), \(token.createdAt), \(token.expiresAt))
                ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING RETURNING id
                """)
            if added.isEmpty { throw AccessProblem("a token named '\(token.name)' already exists (revoke it first)") }
        }

        public func revokeToken(_ nameOrID: String, at date: Date) async throws -> APIToken? {
            let rows = try await run(
                """
                UPDATE api_token SET revoked_at = \(date) WHERE id = (
                    SELECT id FROM api_token WHERE revoked_at IS NULL AND (name = \(nameOrID) OR id = \(nameOrID))
                    ORDER BY created_at LIMIT 1 FOR UPDATE)
                RETURNING \(unescaped: Self.tokenColumns)
                """)
            return rows.first.flatMap(Self.token)
        }

        public func touchToken(id: String, at date: Date, address: String?) async throws {
            try await run(
                "UPDATE api_token SET last_used_at = \(date), last_used_address = \(address) WHERE id = \(id)")
        }

        public func addSession(_ session: UserSession) async throws {
            try await run(
                """
                INSERT INTO user_session (id_hash, user_name, created_at, last_seen_at, expires_at, address)
                VALUES (\(session.hash), \(session.userName), \(session.createdAt), \(session.lastSeenAt),
                    \(session.expiresAt), \(session.address))
                """)
        }

        public func session(hash: String) async throws -> (UserSession, TockUser)? {
            let rows = try await run(
                """
                SELECT u.name, u.role, u.tags, u.password_hash, u.disabled, u.created_at, u.updated_at,
                    s.id_hash, s.created_at, s.last_seen_at, s.expires_at, s.address
                FROM user_session s JOIN user_account u ON u.name = s.user_name WHERE s.id_hash = \(hash)
                """)
            guard let row = rows.first, let user = Self.user(row) else { return nil }
            let c = row.makeRandomAccess()
            let session = UserSession(
                hash: try c[7].decode(String.self), userName: user.name, createdAt: try c[8].decode(Date.self),
                lastSeenAt: try c[9].decode(Date.self), expiresAt: try c[10].decode(Date.self),
                address: try c[11].decode(String?.self))
            return (session, user)
        }

        public func deleteSession(hash: String) async throws {
            try await run("DELETE FROM user_session WHERE id_hash = \(hash)")
        }

        public func touchSession(hash: String, at date: Date) async throws {
            try await run("UPDATE user_session SET last_seen_at = \(date) WHERE id_hash = \(hash)")
        }

        public func pruneSessions(now: Date) async throws -> Int {
            let idleSince = now.addingTimeInterval(-UserSession.idleTimeout)
            return try await run(
                "DELETE FROM user_session WHERE expires_at <= \(now) OR last_seen_at <= \(idleSince) RETURNING 1"
            ).count
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

        /// A user from ``userColumns`` (the row's first seven columns); nil (and left out) if it cannot be read.
        static func user(_ row: PostgresRow) -> TockUser? {
            // One decode of the whole row: `try?` of a `String?` flattens a NULL (no tags) into a failure.
            guard
                let (name, roleText, tagsText, hash, disabled, created, updated) = try? row.decode(
                    (String, String, String?, String, Bool, Date, Date).self),
                let role = Role(rawValue: roleText)
            else { return nil }
            return TockUser(
                name: name, role: role, tags: tags(tagsText), passwordHash: hash, disabled: disabled,
                createdAt: created,
                updatedAt: updated)
        }

        /// A token from ``tokenColumns``; nil (and left out) if it cannot be read.
        static func token(_ row: PostgresRow) -> APIToken? {
            guard
                let (
                    id, name, hash, roleText, tagsText, createdBy, createdAt, expiresAt, lastUsedAt, lastUsedAddress,
                    revokedAt
                ) = try? row.decode(
                    (String, String, String, String, String?, String, Date, Date?, Date?, String?, Date?).self),
                let role = Role(rawValue: roleText)
            else { return nil }
            return APIToken(
                id: id, name: name, hash: hash, role: role, tags: tags(tagsText), createdBy: createdBy,
                createdAt: createdAt, expiresAt: expiresAt, lastUsedAt: lastUsedAt, lastUsedAddress: lastUsedAddress,
                revokedAt: revokedAt)
        }
    }
#endif
