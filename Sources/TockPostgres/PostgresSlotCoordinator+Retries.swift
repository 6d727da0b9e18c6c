#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import TockCore

    extension PostgresJobStore {
        /// `reaped_at`: when a reaper recorded the row `interrupted` because its node's lease lapsed (the rows whose
        /// jobs may retry them elsewhere); `retry_of`: on a retry's row, the execution it retries — unique, so two
        /// nodes can never both retry one run.
        static let retryMigration = Migration(
            name: "harness-1: retries of dead nodes' runs (reaped_at, retry_of)",
            statements: [
                "ALTER TABLE execution ADD COLUMN reaped_at timestamptz, ADD COLUMN retry_of text",
                "CREATE UNIQUE INDEX execution_retry_of ON execution (retry_of) WHERE retry_of IS NOT NULL",
                "CREATE INDEX execution_reaped ON execution (reaped_at) WHERE reaped_at IS NOT NULL",
            ])
    }

    extension PostgresSlotCoordinator {
        /// Every heartbeat: a dead node's runs are retried within a heartbeat of its reaping.
        public var retryCheckInterval: TimeInterval? { heartbeat.timeInterval }

        /// How long after its reaping a run is still retried (a node that had the job down meanwhile, or a database
        /// outage, may delay the claim); older ones are left as recorded.
        static let retryWindowSeconds: Double = 3600

        public func claimRetries(
            ofJobs jobIDs: Set<String>, _ retry: @escaping @Sendable (ExecutionRecord) -> ExecutionRecord?
        ) async throws -> [ExecutionRecord] {
            guard fencedReason == nil, !jobIDs.isEmpty else { return [] }
            try await ensureRegistered()
            let node = store.nodeID
            let ttl = ttlSeconds
            let jobs = jobIDs.sorted()
            let window = Self.retryWindowSeconds
            let logger = self.logger
            let attempt = ContinuousClock.now
            let won = try await store.transaction { connection -> [ExecutionRecord]? in
                // The same fence as a claim: a node whose lease lapsed retries nothing.
                let renewed = try await connection.query(Self.renewal(of: node, ttl: ttl), logger: logger).collect()
                guard !renewed.isEmpty else { return nil }
                let originals = try await connection.query(
                    """
                    SELECT \(unescaped: PostgresJobStore.columnsWithoutOutput) FROM execution e
                    WHERE e.reaped_at > clock_timestamp() - make_interval(secs => \(window))
                        AND e.state = 'interrupted' AND e.job_id = ANY(\(jobs)::text[])
                        AND NOT EXISTS (SELECT 1 FROM execution r WHERE r.retry_of = e.id)
                    ORDER BY e.id LIMIT 100
                    """, logger: logger
                ).collect()
                var planned: [(original: String, record: ExecutionRecord)] = []
                for row in originals {
                    let original = try PostgresJobStore.execution(from: row)
                    if let record = retry(original) { planned.append((original.id, record)) }
                }
                guard !planned.isEmpty else { return [] }
                let ids = planned.map(\.record.id)
                let of = planned.map(\.original)
                let jobIDs = planned.map(\.record.jobID)
                let instants = planned.map(\.record.scheduledAt)
                let hosts = planned.map(\.record.host)
                let attempts = planned.map { Int64($0.record.attempt) }
                let messages = planned.map { $0.record.message ?? "" }
                // Sorted by the original's id (the order read), so two nodes retrying the same runs never deadlock.
                let rows = try await connection.query(
                    """
                    INSERT INTO execution (id, job_id, state, trigger, scheduled_at, host, attempt, message,
                        stdout, stderr, stdout_bytes, stderr_bytes, node_id, claimed_at, retry_of)
                    SELECT t.id, t.job, 'scheduled', 'retry', t.at, t.host, t.attempt, NULLIF(t.msg, ''),
                        ''::bytea, ''::bytea, 0, 0, \(node), clock_timestamp(), t.of
                    FROM unnest(\(ids)::text[], \(of)::text[], \(jobIDs)::text[], \(instants)::timestamptz[],
                        \(hosts)::text[], \(attempts)::bigint[], \(messages)::text[])
                        AS t(id, of, job, at, host, attempt, msg)
                    ORDER BY t.of
                    ON CONFLICT (retry_of) WHERE retry_of IS NOT NULL DO NOTHING
                    RETURNING id
                    """, logger: logger)
                var inserted: Set<String> = []
                for try await id in rows.decode(String.self) { inserted.insert(id) }
                return planned.map(\.record).filter { inserted.contains($0.id) }
            }
            guard let won else {
                setFenced("the node's lease on the database has lapsed")
                return []
            }
            noteRenewal(startedAt: attempt)
            return won
        }
    }
#endif
