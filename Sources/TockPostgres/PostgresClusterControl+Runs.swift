#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import TockCore

    /// Runs across nodes: a stop reaches the node that holds the run; a manual run is recorded with overlap `skip`
    /// checked against every node's runs and with its idempotency key.
    extension PostgresClusterControl {
        // MARK: - Stop

        /// The stops other nodes asked of this one: each run is stopped (or cancelled before it started) and the
        /// request marked handled with what happened.
        func handleStopRequests(_ scheduler: Scheduler) async throws {
            let me = store.nodeID
            let rows = try await store.run(
                """
                SELECT id, execution_id, requested_by FROM control_request
                WHERE target_node = \(me) AND kind = 'stop' AND handled_at IS NULL AND expires_at > clock_timestamp()
                ORDER BY id
                """)
            for row in rows {
                let (id, executionID, user) = try row.decode((Int, String, String).self)
                let result: String
                switch await scheduler.stop(executionID: executionID) {
                case .stopped: result = "stopped"
                case .cancelledBeforeStart: result = "cancelled"
                case .notHere: result = "not_here"
                }
                logger.info(
                    "stop asked through another node",
                    metadata: ["execution.id": "\(executionID)", "user": "\(user)", "result": "\(result)"])
                try await store.run(
                    "UPDATE control_request SET handled_at = clock_timestamp(), result = \(result) WHERE id = \(id)")
            }
        }

        /// Where an execution is and whether its node is alive.
        struct Holder {
            let jobID: String
            let state: ExecutionState
            let node: UUID?
            let nodeName: String
            let nodeState: String?
            let leaseValid: Bool
            let leaseUntil: String?
            let nodeMessage: String?
        }

        func holder(of executionID: String) async throws -> Holder? {
            let rows = try await store.run(
                """
                SELECT e.job_id, e.state, e.node_id, COALESCE(n.name, e.host), n.state,
                    COALESCE(n.lease_until > clock_timestamp(), false),
                    to_char(n.lease_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), n.message
                FROM execution e LEFT JOIN node n ON n.node_id = e.node_id WHERE e.id = \(executionID)
                """)
            guard let row = rows.first else { return nil }
            let (jobID, stateText, node, name, nodeState, valid, until, message) = try row.decode(
                (String, String, UUID?, String, String?, Bool, String?, String?).self)
            guard let state = ExecutionState(rawValue: stateText) else { return nil }
            return Holder(
                jobID: jobID, state: state, node: node, nodeName: name, nodeState: nodeState, leaseValid: valid,
                leaseUntil: until, nodeMessage: message)
        }

        public func requestStop(executionID: String, by user: String) async throws -> RemoteStop? {
            try await coordinator.ensureRegistered()
            guard let holder = try await holder(of: executionID) else { return nil }
            if holder.state.isFinal { return .notRunning(holder.state) }
            guard let node = holder.node, node != store.nodeID else { return nil }
            guard holder.nodeState == "alive", holder.leaseValid else {
                return .ownerUnreachable(node: holder.nodeName, reason: Self.unreachableReason(holder))
            }
            let seconds = max(stopWait.timeInterval, 1) + 60
            let inserted = try await store.transaction { connection in
                let rows = try await connection.query(
                    """
                    INSERT INTO control_request (kind, execution_id, target_node, requested_by, expires_at)
                    VALUES ('stop', \(executionID), \(node), \(user), clock_timestamp() + make_interval(secs => \(seconds)))
                    RETURNING id
                    """, logger: self.logger
                ).collect()
                try await connection.query(
                    "SELECT pg_notify(\(PostgresJobStore.controlChannel), \("stop " + node.uuidString.lowercased()))",
                    logger: self.logger)
                return try rows.first?.decode(Int.self) ?? 0
            }
            logger.info(
                "asked another node to stop a run",
                metadata: ["execution.id": "\(executionID)", "node": "\(holder.nodeName)", "user": "\(user)"])
            let deadline = ContinuousClock.now + stopWait
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                let rows = try await store.run(
                    """
                    SELECT c.result, e.state FROM control_request c LEFT JOIN execution e ON e.id = c.execution_id
                    WHERE c.id = \(inserted)
                    """)
                guard let row = rows.first else { break }
                let (result, stateText) = try row.decode((String?, String?).self)
                let state = stateText.flatMap(ExecutionState.init(rawValue:))
                switch result {
                case "stopped", "cancelled":
                    return .requested(jobID: holder.jobID, node: holder.nodeName, acknowledged: true)
                case "not_here":
                    if let state, state.isFinal { return .notRunning(state) }
                    return .requested(jobID: holder.jobID, node: holder.nodeName, acknowledged: false)
                default:
                    if let state, state.isFinal { return .notRunning(state) }
                }
            }
            return .requested(jobID: holder.jobID, node: holder.nodeName, acknowledged: false)
        }

        static func unreachableReason(_ holder: Holder) -> String {
            if holder.nodeState == "alive" {
                return "its lease lapsed at \(holder.leaseUntil ?? "?") without renewal (a node cut off from the "
                    + "database stops its own runs); the next live node's heartbeat declares it dead and records the "
                    + "execution interrupted"
            }
            let state = holder.nodeState ?? "unknown"
            return "the node is \(state)" + (holder.nodeMessage.map { " (\($0))" } ?? "")
                + "; its executions are recorded interrupted by the reaper or at that node's next start"
        }

        // MARK: - Run now

        public func recordManualRun(
            _ record: ExecutionRecord, idempotencyKey: String?, since: Date, exclusive: Bool
        ) async throws -> ManualRunRecording {
            try await coordinator.ensureRegistered()
            let node = store.nodeID
            let pieceSize = store.outputPieceSize
            let logger = self.logger
            return try await store.transaction { connection in
                // The job's row lock: run-now requests for one job on several nodes are decided one at a time.
                try await connection.query(
                    "INSERT INTO job_state (job_id) VALUES (\(record.jobID)) ON CONFLICT (job_id) DO NOTHING",
                    logger: logger)
                try await connection.query(
                    "SELECT 1 FROM job_state WHERE job_id = \(record.jobID) FOR UPDATE", logger: logger)
                if let idempotencyKey {
                    let rows = try await connection.query(
                        """
                        SELECT k.execution_id FROM manual_run_key k JOIN execution e ON e.id = k.execution_id
                        WHERE k.job_id = \(record.jobID) AND k.key = \(idempotencyKey) AND k.created_at >= \(since)
                        """, logger: logger
                    ).collect()
                    if let existing = try rows.first?.decode(String.self) { return .replayed(executionID: existing) }
                }
                if exclusive {
                    // As the scheduled path's claim: a dead node's rows count until they are recovered or reaped, as
                    // its process may still run.
                    let rows = try await connection.query(
                        """
                        SELECT id, host FROM execution WHERE job_id = \(record.jobID)
                            AND state IN ('running', 'scheduled') AND node_id IS DISTINCT FROM \(node)
                        ORDER BY id LIMIT 1
                        """, logger: logger
                    ).collect()
                    if let row = rows.first {
                        let (id, host) = try row.decode((String, String).self)
                        return .busyElsewhere(executionID: id, node: host)
                    }
                }
                guard let idempotencyKey else {
                    try await PostgresJobStore.upsert(
                        [record], node: node, pieceSize: pieceSize, connection, logger: logger)
                    return .recorded
                }
                if let existing = try await PostgresJobStore.insertManualRun(
                    record, idempotencyKey: idempotencyKey, since: since, node: node, pieceSize: pieceSize, connection,
                    logger: logger)
                {
                    return .replayed(executionID: existing)
                }
                return .recorded
            }
        }
    }
#endif
