#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import ServiceLifecycle
    import Synchronization
    import TockCore

    /// Several `tock serve` nodes on one PostgreSQL database: which node runs each scheduled instant, node leases timed
    /// by the database clock, reaping of dead nodes, and self-fencing of a node cut off from the database.
    ///
    /// - **Claims**: a slot is won by inserting its execution row, `ON CONFLICT (job_id, slot_at) DO NOTHING`, in a
    ///   transaction that first renews this node's lease (`WHERE lease_until > clock_timestamp()`): a node whose lease
    ///   lapsed claims nothing, and the row lock serialises the claim against a reaper. Batches of at most 100 slots,
    ///   sorted by (job, instant), so that two nodes claiming the same slots never deadlock.
    /// - **Leases**: each daemon start is an *incarnation* (a `node` row with a new id) that renews
    ///   `lease_until = clock_timestamp() + ttl` every `ttl / 12`. A node that cannot renew for `ttl × 3/4` (its own
    ///   monotonic clock, from the start of its last good renewal) is *fenced*: it claims nothing, stops its runs and
    ///   reports unhealthy — before any other node can declare it dead at `ttl`. When it reaches the database again it
    ///   carries on (lease still valid) or registers as a new incarnation.
    /// - **Reaper**: at every heartbeat, one live node (under a transaction advisory lock) declares nodes whose lease
    ///   lapsed `dead` and their `running`/`scheduled` executions `interrupted`, naming the node; every node's
    ///   scheduler then retries those whose job allows it (`claimRetries`, at most one retry per run).
    /// - **Restart**: a node starting under a name marks that name's earlier incarnations dead at once (names are
    ///   unique among nodes) and recovers their executions, as a single daemon does.
    ///
    /// Run it as a `Service` after the `PostgresClient` and before the scheduler.
    public final class PostgresSlotCoordinator: SlotCoordinator, Service {
        let store: PostgresJobStore
        let logger: Logger
        /// How long a lease lasts without renewal.
        public let leaseTTL: Duration
        /// How often the lease is renewed (and dead nodes looked for).
        public let heartbeat: Duration
        /// After this long without a renewal, the node fences itself.
        public let trustWindow: Duration
        /// How long before an instant the scheduler claims it.
        public let claimLookahead: TimeInterval

        private struct State {
            var registered = false
            var lastRenewalStart: ContinuousClock.Instant?
            var fencedReason: String?
            var handlers: [@Sendable () -> Void] = []
            var liveNodes: [UUID] = []
        }
        private let state = Mutex(State())
        private let registration = AsyncLock()

        public init(
            store: PostgresJobStore, leaseTTL: Duration = .seconds(60), claimLookahead: Duration = .milliseconds(250),
            logger: Logger
        ) {
            self.claimLookahead = claimLookahead.timeInterval
            self.store = store
            self.logger = logger
            self.leaseTTL = max(leaseTTL, .seconds(2))
            heartbeat = self.leaseTTL / 12
            trustWindow = self.leaseTTL * 3 / 4
        }

        var ttlSeconds: Double { leaseTTL.timeInterval }

        // MARK: - SlotCoordinator

        public var fencedReason: String? { state.withLock { $0.fencedReason } }

        func setLiveNodes(_ nodes: [UUID]) { state.withLock { $0.liveNodes = nodes } }

        public func onFenceChange(_ handler: @escaping @Sendable () -> Void) {
            state.withLock { $0.handlers.append(handler) }
        }

        func setFenced(_ reason: String?) {
            let handlers = state.withLock { state -> [@Sendable () -> Void] in
                guard state.fencedReason != reason else { return [] }
                state.fencedReason = reason
                return state.handlers
            }
            guard !handlers.isEmpty else { return }
            if let reason {
                logger.error("node fenced: it claims nothing and stops its runs", metadata: ["reason": "\(reason)"])
            } else {
                logger.notice("node unfenced: it holds its lease again", metadata: ["node": "\(store.nodeName)"])
            }
            for handler in handlers { handler() }
        }

        public func claim(
            _ slots: [ExecutionRecord], skipWhileRunningElsewhere skipJobs: Set<String> = []
        ) async throws -> SlotClaims {
            guard fencedReason == nil else { return SlotClaims() }
            try await ensureRegistered()
            // This node's preferred jobs first; the others' after the fallback delay (PostgresSlotCoordinator+Preference).
            let me = store.nodeID
            let live = state.withLock { $0.liveNodes }
            let mine = slots.filter { Self.prefers($0.jobID, me: me, among: live) }
            guard mine.count < slots.count else { return try await claimSorted(slots, skipJobs: skipJobs) }
            var won = try await claimSorted(mine, skipJobs: skipJobs)
            let mineIDs = Set(mine.map(\.id))
            try? await Task.sleep(for: Self.fallbackDelay)
            let rest = try await claimSorted(slots.filter { !mineIDs.contains($0.id) }, skipJobs: skipJobs)
            won.won.formUnion(rest.won)
            won.skipped.merge(rest.skipped) { first, _ in first }
            return won
        }

        private func claimSorted(_ slots: [ExecutionRecord], skipJobs: Set<String>) async throws -> SlotClaims {
            guard !slots.isEmpty else { return SlotClaims() }
            var won = SlotClaims()
            let sorted = slots.sorted { ($0.jobID, $0.scheduledAt) < ($1.jobID, $1.scheduledAt) }
            var start = sorted.startIndex
            while start < sorted.endIndex {
                let batch = Array(sorted[start..<min(start + 100, sorted.endIndex)])
                start += batch.count
                let claims = try await claimBatch(batch, skipJobs: skipJobs.sorted())
                won.won.formUnion(claims.won)
                won.skipped.merge(claims.skipped) { first, _ in first }
            }
            return won
        }

        private func claimBatch(_ batch: [ExecutionRecord], skipJobs: [String]) async throws -> SlotClaims {
            let node = store.nodeID
            let attempt = ContinuousClock.now
            let ttl = ttlSeconds
            let ids = batch.map(\.id)
            let jobs = batch.map(\.jobID)
            let states = batch.map(\.state.rawValue)
            let triggers = batch.map(\.trigger.rawValue)
            let instants = batch.map(\.scheduledAt)
            let hosts = batch.map(\.host)
            let messages = batch.map { $0.message ?? "" }
            let logger = self.logger
            let won = try await store.transaction { connection -> SlotClaims? in
                // The fence: this node's lease, renewed by the database clock, or no claim at all. The row lock it
                // takes makes a concurrent reaper wait for this transaction, then see the renewed lease.
                let renewed = try await connection.query(Self.renewal(of: node, ttl: ttl), logger: logger).collect()
                guard !renewed.isEmpty else { return nil }
                var won = SlotClaims()
                // A retried claim whose first attempt did commit (the connection broke before the answer) finds its
                // own rows by id: they are this node's, and not lost. A job whose overlap is "skip" and that has a
                // run pending or running on another node gets its instant recorded `skipped`, as on one node. A job
                // paused through any node (job_state is shared) is claimed by none: its instants pass unrecorded.
                let rows = try await connection.query(
                    """
                    WITH claimed AS (
                        INSERT INTO execution (id, job_id, state, trigger, scheduled_at, ended_at, host, attempt, message,
                            stdout, stderr, stdout_bytes, stderr_bytes, slot_at, node_id, claimed_at)
                        SELECT t.id, t.job, CASE WHEN busy.host IS NULL THEN t.st ELSE 'skipped' END, t.trig, t.at,
                            CASE WHEN busy.host IS NULL THEN NULL ELSE clock_timestamp() END, t.host, 1,
                            CASE WHEN busy.host IS NULL THEN NULLIF(t.msg, '')
                                ELSE 'the previous run was still running on node ' || busy.host || ' (overlap = "skip")'
                            END,
                            ''::bytea, ''::bytea, 0, 0, t.at, \(node), clock_timestamp()
                        FROM unnest(\(ids)::text[], \(jobs)::text[], \(states)::text[], \(triggers)::text[],
                            \(instants)::timestamptz[], \(hosts)::text[], \(messages)::text[])
                            AS t(id, job, st, trig, at, host, msg)
                        LEFT JOIN LATERAL (
                            SELECT r.host FROM execution r
                            WHERE t.st = 'scheduled' AND t.job = ANY(\(skipJobs)::text[]) AND r.job_id = t.job
                                AND r.state IN ('running', 'scheduled') AND r.node_id IS DISTINCT FROM \(node)
                            LIMIT 1) busy ON true
                        WHERE NOT EXISTS (SELECT 1 FROM job_state p WHERE p.job_id = t.job AND p.paused)
                        ORDER BY t.job, t.at
                        ON CONFLICT (job_id, slot_at) WHERE slot_at IS NOT NULL DO NOTHING
                        RETURNING id, state, message)
                    SELECT id, state, message FROM claimed
                    UNION SELECT id, state, message FROM execution
                        WHERE id = ANY(\(ids)::text[]) AND state <> 'interrupted'
                    """, logger: logger)
                for try await (id, state, message) in rows.decode((String, String, String?).self) {
                    won.won.insert(id)
                    if state == ExecutionState.skipped.rawValue { won.skipped[id] = message ?? "" }
                }
                return won
            }
            guard let won else {
                setFenced("the node's lease on the database has lapsed")
                return SlotClaims()
            }
            noteRenewal(startedAt: attempt)
            return won
        }

        public func recoverInterruptedExecutions(
            at date: Date, planning: (@Sendable (ExecutionRecord) -> [NotificationDelivery])?
        ) async throws -> [ExecutionRecord] {
            try await ensureRegistered()
            let name = store.nodeName
            let recovered = try await store.transaction { connection in
                try await self.store.recoverOrphans(
                    connection, at: date, message: PostgresJobStore.recoveredMessage, planning: planning)
            }
            // Only this host's leftovers can be stopped here (process groups are local); the others' rows are recorded.
            return recovered.filter { $0.host == name }
        }

        // MARK: - Registration, heartbeat, reaper

        func ensureRegistered() async throws {
            guard !state.withLock({ $0.registered }) else { return }
            try await registration.withLock {
                guard !self.state.withLock({ $0.registered }) else { return }
                try await self.register()
            }
        }

        /// Registers a new incarnation of this node; earlier incarnations under its name are dead (names are unique).
        private func register() async throws {
            let node = UUID()
            let name = store.nodeName
            let pid = Int32(ProcessInfo.processInfo.processIdentifier)
            let ttl = ttlSeconds
            let attempt = ContinuousClock.now
            let logger = self.logger
            try await store.transaction { connection in
                let earlier = try await connection.query(
                    """
                    UPDATE node SET state = 'dead', died_at = clock_timestamp(), reaped_by = \(node),
                        message = 'a new incarnation of node ' || name || ' started'
                    WHERE name = \(name) AND state = 'alive' RETURNING node_id
                    """, logger: logger
                ).collect()
                if !earlier.isEmpty {
                    logger.notice(
                        "an earlier incarnation of this node is dead now; its executions are recovered",
                        metadata: ["node": "\(name)", "incarnations": "\(earlier.count)"])
                }
                try await connection.query(
                    """
                    INSERT INTO node (node_id, name, pid, state, started_at, renewed_at, lease_until)
                    VALUES (\(node), \(name), \(pid), 'alive', clock_timestamp(), clock_timestamp(),
                        clock_timestamp() + make_interval(secs => \(ttl)))
                    """, logger: logger)
            }
            store.nodeID = node
            state.withLock { $0.registered = true }
            noteRenewal(startedAt: attempt)
            logger.info(
                "node registered", metadata: ["node": "\(name)", "node.id": "\(node)", "lease_ttl": "\(leaseTTL)"])
        }

        func noteRenewal(startedAt attempt: ContinuousClock.Instant) {
            state.withLock { state in
                if state.lastRenewalStart.map({ $0 < attempt }) ?? true { state.lastRenewalStart = attempt }
            }
            setFenced(nil)
        }

        /// Renews a live node's lease by the database clock; a row comes back only if the lease had not lapsed (the
        /// fence of every claim, retry and renewal).
        static func renewal(of node: UUID, ttl: Double) -> PostgresQuery {
            """
            UPDATE node SET renewed_at = clock_timestamp(),
                lease_until = clock_timestamp() + make_interval(secs => \(ttl))
            WHERE node_id = \(node) AND state = 'alive' AND lease_until > clock_timestamp() RETURNING 1
            """
        }

        /// Renews the lease; when it has lapsed, fences the node and registers a new incarnation at the next beat.
        func renew() async throws {
            try await ensureRegistered()
            let node = store.nodeID
            let ttl = ttlSeconds
            let attempt = ContinuousClock.now
            let rows = try await store.run(Self.renewal(of: node, ttl: ttl))
            if rows.isEmpty {
                // Declared dead (or lapsed): its runs must be stopped before it runs anything as a new incarnation.
                let wasFenced = fencedReason != nil
                setFenced("the node's lease on the database has lapsed; it registers again")
                if wasFenced { state.withLock { $0.registered = false } }
                return
            }
            noteRenewal(startedAt: attempt)
            await refreshLiveNodes()
        }

        /// Declares dead the nodes whose lease lapsed and records their pending and running executions `interrupted`.
        /// One node at a time does this (a transaction advisory lock); returns the executions interrupted.
        @discardableResult
        public func reap() async throws -> Int {
            guard fencedReason == nil else { return 0 }
            let me = store.nodeID
            let myName = store.nodeName
            let logger = self.logger
            let lockKey = Self.reaperLockKey
            return try await store.transaction { connection in
                let locked = try await connection.query(
                    "SELECT pg_try_advisory_xact_lock(\(lockKey) # hashtext(current_schema())::bigint)", logger: logger
                ).collect()
                guard try locked.first?.decode(Bool.self) == true else { return 0 }
                let dead = try await connection.query(
                    """
                    UPDATE node SET state = 'dead', died_at = clock_timestamp(), reaped_by = \(me),
                        message = 'stopped renewing its lease at ' || to_char(renewed_at AT TIME ZONE 'UTC',
                            'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '; declared dead by node ' || \(myName)
                    WHERE state = 'alive' AND lease_until < clock_timestamp() AND node_id <> \(me)
                    RETURNING node_id, name, message
                    """, logger: logger
                ).collect()
                var interrupted = 0
                for row in dead {
                    let (id, name, message) = try row.decode((UUID, String, String).self)
                    let rows = try await connection.query(
                        """
                        UPDATE execution SET state = 'interrupted', ended_at = COALESCE(ended_at, clock_timestamp()),
                            reaped_at = clock_timestamp(),
                            message = 'node ' || \(name) || ' (incarnation ' || \(id.uuidString.lowercased()) || ') '
                                || \(message)
                        WHERE node_id = \(id) AND state IN ('running', 'scheduled') RETURNING id
                        """, logger: logger
                    ).collect()
                    interrupted += rows.count
                    try await PostgresJobStore.releaseDeliveries(ofNode: name, connection, logger: logger)
                    logger.warning(
                        "node declared dead; its executions are recorded interrupted",
                        metadata: ["node": "\(name)", "node.id": "\(id)", "executions": "\(rows.count)"])
                }
                return interrupted
            }
        }

        static let reaperLockKey: Int64 = 0x746F_636B_7265_6170  // "tockreap"

        /// Heartbeats (renew, reap) and the watchdog that fences this node when renewals stop succeeding.
        public func run() async throws {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.beat() }
                group.addTask { await self.watch() }
                await group.next()
                group.cancelAll()
            }
            // A clean stop: the scheduler (shut down before this service) has ended every run.
            let node = store.nodeID
            do {
                try await store.run(
                    "UPDATE node SET state = 'left', died_at = clock_timestamp() WHERE node_id = \(node) AND state = 'alive'"
                )
            } catch {
                logger.warning("could not record that the node left", metadata: ["error": "\(error)"])
            }
        }

        private func beat() async {
            var failures = 0
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    try await renew()
                    try await reap()
                    if failures > 0 { logger.notice("the database answers again", metadata: ["after": "\(failures)"]) }
                    failures = 0
                } catch {
                    if failures % 10 == 0 {
                        logger.error("could not renew the node's lease", metadata: ["error": "\(error)"])
                    }
                    failures += 1
                }
                try? await Task.sleep(for: heartbeat)
            }
        }

        /// Fences the node once its last good renewal started longer ago than the trust window: the database may
        /// declare it dead at `ttl` after that renewal, and its runs must have stopped by then.
        private func watch() async {
            let check = min(Duration.seconds(1), heartbeat)
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let last = state.withLock { $0.lastRenewalStart }
                if let last, ContinuousClock.now - last > trustWindow, fencedReason == nil {
                    setFenced("no lease renewal for \(ContinuousClock.now - last) (trust window \(trustWindow))")
                }
                try? await Task.sleep(for: check)
            }
        }
    }
#endif
