#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import Synchronization
    import TockCore
    import TockJSON

    extension PostgresJobStore {
        // MARK: - Job state

        /// Also logs the change for the other nodes (``logJobChange(_:node:_:logger:)``), in the same transaction.
        public func setPaused(_ paused: Bool, jobID: String) async throws {
            let node = nodeID
            try await transaction { connection in
                try await connection.query(
                    """
                    INSERT INTO job_state (job_id, paused) VALUES (\(jobID), \(paused))
                    ON CONFLICT (job_id) DO UPDATE SET paused = excluded.paused
                    """, logger: self.logger)
                try await Self.logJobChange(jobID, node: node, connection, logger: self.logger)
            }
        }

        public func setLastScheduled(_ dates: [String: Date]) async throws {
            guard !dates.isEmpty else { return }
            try await transaction { connection in
                try await Self.advanceLastScheduled(dates, connection, logger: self.logger)
            }
        }

        public func allStates() async throws -> [String: JobRuntimeState] {
            var states: [String: JobRuntimeState] = [:]
            for row in try await run("SELECT job_id, paused, last_scheduled_at FROM job_state") {
                let (id, paused, last) = try row.decode((String, Bool, Date?).self)
                states[id] = JobRuntimeState(paused: paused, lastScheduledAt: last)
            }
            return states
        }

        // MARK: - Audit log and API jobs

        public func append(_ entry: AuditEntry) async throws {
            try await run(
                """
                INSERT INTO audit_log (job_id, job_name, event, user_name, created_at, description, address)
                VALUES (\(entry.jobID), \(entry.jobName), \(entry.event.rawValue), \(entry.user), \(entry.createdAt),
                    \(entry.description), \(entry.address))
                """)
        }

        public func auditLog(matching query: AuditQuery) async throws -> [AuditEntry] {
            let securityEvents = AuditEntry.Event.allCases.filter(\.isSecurity).map(\.rawValue)
            let rows = try await run(
                """
                SELECT id, job_id, job_name, event, user_name, created_at, description, address FROM audit_log
                WHERE (\(query.jobID)::text IS NULL OR job_id = \(query.jobID))
                AND (\(query.jobIDs.map { $0.sorted() })::text[] IS NULL OR job_id = ANY(\(query.jobIDs.map { $0.sorted() })::text[]))
                AND (\(query.includeSecurity) OR event <> ALL(\(securityEvents)::text[]))
                AND (\(query.from)::timestamptz IS NULL OR created_at >= \(query.from))
                AND (\(query.to)::timestamptz IS NULL OR created_at <= \(query.to))
                ORDER BY created_at DESC, id DESC LIMIT \(max(0, query.limit))
                """)
            return readable(rows, table: "audit_log") { try Self.auditEntry(from: $0) }
        }

        public func apiJobs() async throws -> [APIJobDefinition] {
            let rows = try await run("SELECT id, definition FROM api_job ORDER BY id")
            return readable(rows, table: "api_job") { try Self.apiJob(from: $0) }
        }

        /// Also logs the change for the other nodes, in the same transaction.
        public func saveAPIJob(_ definition: APIJobDefinition, at date: Date) async throws {
            let node = nodeID
            try await transaction { connection in
                try await connection.query(
                    """
                    INSERT INTO api_job (id, definition, created_at, updated_at)
                    VALUES (\(definition.id), \(definition.storedBody.jsonString), \(date), \(date))
                    ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at
                    """, logger: self.logger)
                try await Self.logJobChange(definition.id, node: node, connection, logger: self.logger)
            }
        }

        /// Also logs the change for the other nodes, in the same transaction.
        public func deleteAPIJob(id: String) async throws -> Bool {
            let node = nodeID
            return try await transaction { connection in
                let deleted = try await connection.query(
                    "DELETE FROM api_job WHERE id = \(id) RETURNING id", logger: self.logger
                ).collect()
                guard !deleted.isEmpty else { return false }
                try await Self.logJobChange(id, node: node, connection, logger: self.logger)
                return true
            }
        }
    }
#endif
