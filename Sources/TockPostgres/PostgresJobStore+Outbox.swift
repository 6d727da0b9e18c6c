#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import TockCore
    import TockJSON

    /// The notification outbox on PostgreSQL: the table of the SQLite store (`notification_delivery`, the unique
    /// `(event_id, channel, target)`), written in the transaction of the records that caused its rows.
    ///
    /// Several nodes share it: each node's delivery worker claims due rows with `FOR UPDATE SKIP LOCKED` (two
    /// workers never take the same row) and writes its name in `claimed_by`; at start a node returns to `pending`
    /// only the rows it claimed itself, and those of nodes that are no longer alive (a dead node's reaper does the
    /// same at once: ``releaseDeliveries(ofNode:_:)``).
    extension PostgresJobStore: NotificationOutbox {
        static let outboxMigration = Migration(
            name: "notify-1: notification deliveries (outbox and log)",
            statements: [
                """
                CREATE TABLE notification_delivery (
                    id text PRIMARY KEY,
                    event_id text NOT NULL,
                    event_type text NOT NULL,
                    job_id text NOT NULL,
                    execution_id text,
                    channel text NOT NULL,
                    target text NOT NULL,
                    options text NOT NULL,
                    state text NOT NULL,
                    attempts integer NOT NULL,
                    next_attempt_at timestamptz NOT NULL,
                    last_attempt_at timestamptz,
                    last_status integer,
                    last_error text,
                    response_excerpt text,
                    payload bytea NOT NULL,
                    created_at timestamptz NOT NULL,
                    delivered_at timestamptz,
                    claimed_by text
                )
                """,
                """
                CREATE UNIQUE INDEX notification_delivery_event_target
                    ON notification_delivery (event_id, channel, target)
                """,
                "CREATE INDEX notification_delivery_due ON notification_delivery (state, next_attempt_at)",
                "CREATE INDEX notification_delivery_time ON notification_delivery (created_at, id)",
                "CREATE INDEX notification_delivery_job_time ON notification_delivery (job_id, created_at, id)",
                "CREATE INDEX notification_delivery_execution ON notification_delivery (execution_id)",
            ])

        static let deliveryColumns = """
            id, event_id, event_type, job_id, execution_id, channel, target, options, state, attempts, next_attempt_at,
            last_attempt_at, last_status, last_error, response_excerpt, payload, created_at, delivered_at
            """

        /// ``deliveryColumns`` without the payload, for the log.
        static let deliveryColumnsWithoutPayload = """
            id, event_id, event_type, job_id, execution_id, channel, target, options, state, attempts, next_attempt_at,
            last_attempt_at, last_status, last_error, response_excerpt, ''::bytea AS payload, created_at, delivered_at
            """

        public func save(_ executions: [ExecutionRecord], enqueuing deliveries: [NotificationDelivery]) async throws {
            let node = nodeID
            let pieceSize = outputPieceSize
            try await transaction { connection in
                try await Self.upsert(executions, node: node, pieceSize: pieceSize, connection, logger: self.logger)
                try await Self.advanceLastScheduled(executions.lastScheduledInstants, connection, logger: self.logger)
                try await Self.insert(deliveries, connection, logger: self.logger)
            }
        }

        public func recoverInterruptedExecutions(
            at date: Date, planning: @escaping @Sendable (ExecutionRecord) -> [NotificationDelivery]
        ) async throws -> [ExecutionRecord] {
            try await transaction { connection in
                try await self.recoverOrphans(connection, at: date, message: Self.recoveredMessage, planning: planning)
            }
        }

        /// The deliveries `planning` makes of executions just marked `interrupted` (as they were before), inserted on
        /// `connection`.
        static func enqueueInterrupted(
            _ records: [ExecutionRecord], at date: Date, message: String,
            planning: @Sendable (ExecutionRecord) -> [NotificationDelivery], _ connection: PostgresConnection,
            logger: Logger
        ) async throws {
            var deliveries: [NotificationDelivery] = []
            for var record in records {
                record.state = .interrupted
                record.endedAt = record.endedAt ?? date
                record.message = record.message ?? message
                deliveries += planning(record)
            }
            try await insert(deliveries, connection, logger: logger)
        }

        public func enqueue(_ deliveries: [NotificationDelivery]) async throws {
            guard !deliveries.isEmpty else { return }
            try await transaction { connection in try await Self.insert(deliveries, connection, logger: self.logger) }
        }

        /// The same event to the same target is one delivery, however often its record is written.
        static func insert(
            _ deliveries: [NotificationDelivery], _ connection: PostgresConnection, logger: Logger
        ) async throws {
            for d in deliveries {
                let options = JSONValue.object(
                    d.options.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }
                ).jsonString
                try await connection.query(
                    """
                    INSERT INTO notification_delivery (\(unescaped: deliveryColumns))
                    VALUES (\(d.id), \(d.eventID), \(d.eventType), \(d.jobID), \(d.executionID), \(d.channel.rawValue),
                        \(d.target), \(options), \(d.state.rawValue), \(d.attempts), \(d.nextAttemptAt),
                        \(d.lastAttemptAt), \(d.lastStatus), \(d.lastError), \(d.responseExcerpt),
                        \(ByteBuffer(bytes: d.payload)), \(d.createdAt), \(d.deliveredAt))
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
        }

        public func claimDueDeliveries(at now: Date, limit: Int) async throws -> [NotificationDelivery] {
            guard limit > 0 else { return [] }
            let rows = try await run(
                """
                UPDATE notification_delivery SET state = 'delivering', claimed_by = \(nodeName)
                WHERE id IN (
                    SELECT id FROM notification_delivery
                    WHERE state IN ('pending', 'failed') AND next_attempt_at <= \(now)
                    ORDER BY next_attempt_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING \(unescaped: Self.deliveryColumns)
                """)
            return readable(rows, table: "notification_delivery") { try Self.delivery(from: $0) }
                .sorted { ($0.nextAttemptAt, $0.id) < ($1.nextAttemptAt, $1.id) }
        }

        public func nextDeliveryDue() async throws -> Date? {
            let rows = try await run(
                "SELECT MIN(next_attempt_at) FROM notification_delivery WHERE state IN ('pending', 'failed')")
            return try rows.first?.decode(Date?.self)
        }

        public func recordAttempt(
            deliveryID: String, state: NotificationDelivery.State, at date: Date, nextAttemptAt: Date?,
            attempt: DeliveryAttempt
        ) async throws {
            let delivered: Date? = state == .delivered ? date : nil
            try await run(
                """
                UPDATE notification_delivery SET state = \(state.rawValue), attempts = attempts + 1,
                    last_attempt_at = \(date), next_attempt_at = COALESCE(\(nextAttemptAt), next_attempt_at),
                    last_status = \(attempt.status), last_error = \(attempt.error),
                    response_excerpt = \(attempt.responseExcerpt),
                    delivered_at = COALESCE(\(delivered), delivered_at), claimed_by = NULL
                WHERE id = \(deliveryID)
                """)
        }

        /// This node's claimed deliveries, and those of nodes no longer alive, go back to `pending`.
        public func releaseClaimedDeliveries() async throws -> Int {
            let rows = try await run(
                """
                UPDATE notification_delivery SET state = 'pending', claimed_by = NULL
                WHERE state = 'delivering' AND (claimed_by IS NULL OR claimed_by = \(nodeName) OR NOT EXISTS (
                    SELECT 1 FROM node n WHERE n.name = notification_delivery.claimed_by AND n.state = 'alive'))
                RETURNING 1
                """)
            return rows.count
        }

        /// A dead node's claimed deliveries go back to `pending` (called by the reaper, in its transaction).
        static func releaseDeliveries(
            ofNode name: String, _ connection: PostgresConnection, logger: Logger
        ) async throws {
            try await connection.query(
                """
                UPDATE notification_delivery SET state = 'pending', claimed_by = NULL
                WHERE state = 'delivering' AND claimed_by = \(name)
                """, logger: logger)
        }

        public func deliveries(matching query: NotificationQuery) async throws -> [NotificationDelivery] {
            let rows = try await run(
                """
                SELECT \(unescaped: Self.deliveryColumnsWithoutPayload) FROM notification_delivery
                WHERE (\(query.jobID)::text IS NULL OR job_id = \(query.jobID))
                AND (\(query.executionID)::text IS NULL OR execution_id = \(query.executionID))
                AND (\(query.state?.rawValue)::text IS NULL OR state = \(query.state?.rawValue))
                AND (\(query.channel?.rawValue)::text IS NULL OR channel = \(query.channel?.rawValue))
                AND (\(query.after?.createdAt)::timestamptz IS NULL
                    OR (created_at, id) < (\(query.after?.createdAt), \(query.after?.id)))
                ORDER BY created_at DESC, id DESC LIMIT \(max(0, query.limit))
                """)
            return readable(rows, table: "notification_delivery") { try Self.delivery(from: $0) }
        }

        public func delivery(id: String) async throws -> NotificationDelivery? {
            let rows = try await run(
                "SELECT \(unescaped: Self.deliveryColumns) FROM notification_delivery WHERE id = \(id)")
            return readable(rows, table: "notification_delivery") { try Self.delivery(from: $0) }.first
        }

        public func retryDelivery(id: String, at date: Date) async throws -> NotificationDelivery? {
            let rows = try await run(
                """
                UPDATE notification_delivery SET state = 'pending', next_attempt_at = \(date)
                WHERE id = \(id) AND state <> 'delivering'
                RETURNING \(unescaped: Self.deliveryColumnsWithoutPayload)
                """)
            return readable(rows, table: "notification_delivery") { try Self.delivery(from: $0) }.first
        }

        /// Deliveries go with their execution: finished ones whose execution was pruned are deleted too.
        static func pruneDeliveries(_ connection: PostgresConnection, logger: Logger) async throws {
            try await connection.query(
                """
                DELETE FROM notification_delivery d WHERE d.execution_id IS NOT NULL
                AND d.state IN ('delivered', 'abandoned')
                AND NOT EXISTS (SELECT 1 FROM execution e WHERE e.id = d.execution_id)
                """, logger: logger)
        }

        /// A delivery from ``deliveryColumns`` (or ``deliveryColumnsWithoutPayload``), in that order.
        static func delivery(from row: PostgresRow) throws -> NotificationDelivery {
            let c = row.makeRandomAccess()
            let id = try c[0].decode(String.self)
            let channelText = try c[5].decode(String.self)
            let stateText = try c[8].decode(String.self)
            guard let channel = NotificationDelivery.Channel(rawValue: channelText) else {
                throw CorruptRow(row: id, reason: "unknown channel '\(channelText)'")
            }
            guard let state = NotificationDelivery.State(rawValue: stateText) else {
                throw CorruptRow(row: id, reason: "unknown state '\(stateText)'")
            }
            var options: [String: String] = [:]
            if case .object(let pairs)? = try? JSONValue.parse(Array(try c[7].decode(String.self).utf8)) {
                for (key, value) in pairs { if let text = value.stringValue { options[key] = text } }
            }
            let payload = try c[15].decode(ByteBuffer.self)
            var d = NotificationDelivery(
                id: id, eventID: try c[1].decode(String.self), eventType: try c[2].decode(String.self),
                jobID: try c[3].decode(String.self), executionID: try c[4].decode(String?.self), channel: channel,
                target: try c[6].decode(String.self), options: options, payload: Array(payload.readableBytesView),
                createdAt: try c[16].decode(Date.self))
            d.state = state
            d.attempts = try c[9].decode(Int.self)
            d.nextAttemptAt = try c[10].decode(Date.self)
            d.lastAttemptAt = try c[11].decode(Date?.self)
            d.lastStatus = try c[12].decode(Int?.self)
            d.lastError = try c[13].decode(String?.self)
            d.responseExcerpt = try c[14].decode(String?.self)
            d.deliveredAt = try c[17].decode(Date?.self)
            return d
        }
    }
#endif
