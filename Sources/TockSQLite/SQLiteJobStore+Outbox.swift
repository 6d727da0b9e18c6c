import Foundation
import GRDB
import TockCore
import TockJSON

extension SQLiteJobStore: NotificationOutbox {
    /// The outbox table, a migration of its own.
    static func registerOutboxMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("notify-1: notification deliveries (outbox and log)") { db in
            try db.execute(
                sql: """
                    CREATE TABLE notification_delivery (
                        id TEXT PRIMARY KEY NOT NULL,
                        event_id TEXT NOT NULL,
                        event_type TEXT NOT NULL,
                        job_id TEXT NOT NULL,
                        execution_id TEXT,
                        channel TEXT NOT NULL,
                        target TEXT NOT NULL,
                        options TEXT NOT NULL,
                        state TEXT NOT NULL,
                        attempts INTEGER NOT NULL,
                        next_attempt_at REAL NOT NULL,
                        last_attempt_at REAL,
                        last_status INTEGER,
                        last_error TEXT,
                        response_excerpt TEXT,
                        payload BLOB NOT NULL,
                        created_at REAL NOT NULL,
                        delivered_at REAL
                    ) STRICT;
                    CREATE UNIQUE INDEX notification_delivery_event_target
                        ON notification_delivery(event_id, channel, target);
                    CREATE INDEX notification_delivery_due ON notification_delivery(state, next_attempt_at);
                    CREATE INDEX notification_delivery_time ON notification_delivery(created_at, id);
                    CREATE INDEX notification_delivery_job_time ON notification_delivery(job_id, created_at, id);
                    CREATE INDEX notification_delivery_execution ON notification_delivery(execution_id);
                    """)
        }
    }

    static let deliveryColumns = """
        id, event_id, event_type, job_id, execution_id, channel, target, options, state, attempts, next_attempt_at,
        last_attempt_at, last_status, last_error, response_excerpt, payload, created_at, delivered_at
        """

    /// ``deliveryColumns`` without the payload, for the log.
    static let deliveryColumnsWithoutPayload = """
        id, event_id, event_type, job_id, execution_id, channel, target, options, state, attempts, next_attempt_at,
        last_attempt_at, last_status, last_error, response_excerpt, X'' AS payload, created_at, delivered_at
        """

    public func save(_ executions: [ExecutionRecord], enqueuing deliveries: [NotificationDelivery]) async throws {
        let pieceSize = outputPieceSize
        try await write { db in
            try Self.insert(executions, pieceSize: pieceSize, db)
            try Self.insert(deliveries, db)
        }
    }

    public func recoverInterruptedExecutions(
        at date: Date, planning: @escaping @Sendable (ExecutionRecord) -> [NotificationDelivery]
    ) async throws -> [ExecutionRecord] {
        let recovered = try await recoverInterruptedExecutions(
            at: date,
            within: { db, pending in
                var deliveries: [NotificationDelivery] = []
                for var record in pending {
                    record.state = .interrupted
                    record.endedAt = record.endedAt ?? date
                    record.message = record.message ?? "the daemon stopped while this execution was pending or running"
                    deliveries += planning(record)
                }
                try Self.insert(deliveries, db)
            })
        return recovered
    }

    public func enqueue(_ deliveries: [NotificationDelivery]) async throws {
        guard !deliveries.isEmpty else { return }
        try await write { db in try Self.insert(deliveries, db) }
    }

    static func insert(_ deliveries: [NotificationDelivery], _ db: Database) throws {
        guard !deliveries.isEmpty else { return }
        // The same event to the same target is one delivery, however often its record is written.
        let statement = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO notification_delivery (\(deliveryColumns))
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for d in deliveries {
            let options = JSONValue.object(d.options.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
            try statement.execute(arguments: [
                d.id, d.eventID, d.eventType, d.jobID, d.executionID, d.channel.rawValue, d.target, options.jsonString,
                d.state.rawValue, d.attempts, d.nextAttemptAt.timeIntervalSince1970,
                d.lastAttemptAt?.timeIntervalSince1970, d.lastStatus, d.lastError, d.responseExcerpt, Data(d.payload),
                d.createdAt.timeIntervalSince1970, d.deliveredAt?.timeIntervalSince1970,
            ])
        }
    }

    public func claimDueDeliveries(at now: Date, limit: Int) async throws -> [NotificationDelivery] {
        guard limit > 0 else { return [] }
        return try await write { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.deliveryColumns) FROM notification_delivery
                    WHERE state IN ('pending', 'failed') AND next_attempt_at <= ?
                    ORDER BY next_attempt_at, id LIMIT ?
                    """, arguments: [now.timeIntervalSince1970, limit])
            var claimed = self.readable(rows, Self.delivery)
            let update = try db.cachedStatement(
                sql: "UPDATE notification_delivery SET state = 'delivering' WHERE id = ?")
            for index in claimed.indices {
                try update.execute(arguments: [claimed[index].id])
                claimed[index].state = .delivering
            }
            return claimed
        }
    }

    public func nextDeliveryDue() async throws -> Date? {
        try await pool.read { db in
            try Double.fetchOne(
                db,
                sql: "SELECT MIN(next_attempt_at) FROM notification_delivery WHERE state IN ('pending', 'failed')"
            ).map { Date(timeIntervalSince1970: $0) }
        }
    }

    public func recordAttempt(
        deliveryID: String, state: NotificationDelivery.State, at date: Date, nextAttemptAt: Date?,
        attempt: DeliveryAttempt
    ) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE notification_delivery SET state = ?, attempts = attempts + 1, last_attempt_at = ?,
                    next_attempt_at = COALESCE(?, next_attempt_at), last_status = ?, last_error = ?,
                    response_excerpt = ?, delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END
                    WHERE id = ?
                    """,
                arguments: [
                    state.rawValue, date.timeIntervalSince1970, nextAttemptAt?.timeIntervalSince1970, attempt.status,
                    attempt.error, attempt.responseExcerpt, state.rawValue, date.timeIntervalSince1970, deliveryID,
                ])
        }
    }

    public func releaseClaimedDeliveries() async throws -> Int {
        try await write { db in
            try db.execute(sql: "UPDATE notification_delivery SET state = 'pending' WHERE state = 'delivering'")
            return db.changesCount
        }
    }

    public func deliveries(matching query: NotificationQuery) async throws -> [NotificationDelivery] {
        try await pool.read { db in
            var filter = Filter()
            filter.add("job_id = ?", query.jobID)
            filter.add("execution_id = ?", query.executionID)
            filter.add("state = ?", query.state?.rawValue)
            filter.add("channel = ?", query.channel?.rawValue)
            if let after = query.after {
                filter.add("(created_at, id) < (?, ?)", [after.createdAt.timeIntervalSince1970, after.id])
            }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.deliveryColumnsWithoutPayload) FROM notification_delivery \(filter.clause)
                    ORDER BY created_at DESC, id DESC LIMIT ?
                    """, arguments: filter.arguments(then: max(0, query.limit)))
            return self.readable(rows, Self.delivery)
        }
    }

    public func delivery(id: String) async throws -> NotificationDelivery? {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT \(Self.deliveryColumns) FROM notification_delivery WHERE id = ?", arguments: [id])
            return self.readable(rows, Self.delivery).first
        }
    }

    public func retryDelivery(id: String, at date: Date) async throws -> NotificationDelivery? {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE notification_delivery SET state = 'pending', next_attempt_at = ?
                    WHERE id = ? AND state <> 'delivering'
                    """, arguments: [date.timeIntervalSince1970, id])
            guard db.changesCount > 0 else { return nil }
            let rows = try Row.fetchAll(
                db, sql: "SELECT \(Self.deliveryColumnsWithoutPayload) FROM notification_delivery WHERE id = ?",
                arguments: [id])
            return self.readable(rows, Self.delivery).first
        }
    }

    /// Deliveries go with their execution: finished ones whose execution was pruned are deleted too.
    static func pruneDeliveries(_ db: Database) throws {
        try db.execute(
            sql: """
                DELETE FROM notification_delivery WHERE execution_id IS NOT NULL
                AND state IN ('delivered', 'abandoned')
                AND NOT EXISTS (SELECT 1 FROM execution WHERE execution.id = notification_delivery.execution_id)
                """)
    }

    static func delivery(from row: Row) throws(CorruptRow) -> NotificationDelivery {
        func corrupt(_ reason: String) -> CorruptRow {
            CorruptRow(table: "notification_delivery", row: rowName(row), reason: reason)
        }
        do {
            let channelText: String = try row.decode(forColumn: "channel")
            let stateText: String = try row.decode(forColumn: "state")
            guard let channel = NotificationDelivery.Channel(rawValue: channelText) else {
                throw corrupt("unknown channel '\(channelText)'")
            }
            guard let state = NotificationDelivery.State(rawValue: stateText) else {
                throw corrupt("unknown state '\(stateText)'")
            }
            let optionsText: String = try row.decode(forColumn: "options")
            var options: [String: String] = [:]
            if case .object(let pairs)? = try? JSONValue.parse(Array(optionsText.utf8)) {
                for (key, value) in pairs { if let text = value.stringValue { options[key] = text } }
            }
            let payload: Data = try row.decode(forColumn: "payload")
            var d = NotificationDelivery(
                id: try row.decode(forColumn: "id"), eventID: try row.decode(forColumn: "event_id"),
                eventType: try row.decode(forColumn: "event_type"), jobID: try row.decode(forColumn: "job_id"),
                executionID: try row.decode(forColumn: "execution_id"), channel: channel,
                target: try row.decode(forColumn: "target"), options: options, payload: Array(payload),
                createdAt: Date(timeIntervalSince1970: try row.decode(forColumn: "created_at")))
            d.state = state
            d.attempts = try row.decode(forColumn: "attempts")
            d.nextAttemptAt = Date(timeIntervalSince1970: try row.decode(forColumn: "next_attempt_at"))
            d.lastAttemptAt = (try row.decode(Double?.self, forColumn: "last_attempt_at")).map(
                Date.init(timeIntervalSince1970:))
            d.lastStatus = try row.decode(forColumn: "last_status")
            d.lastError = try row.decode(forColumn: "last_error")
            d.responseExcerpt = try row.decode(forColumn: "response_excerpt")
            d.deliveredAt = (try row.decode(Double?.self, forColumn: "delivered_at")).map(
                Date.init(timeIntervalSince1970:))
            return d
        } catch let error as CorruptRow {
            throw error
        } catch {
            throw corrupt("\(error)")
        }
    }
}
