#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import ServiceLifecycle
    import Synchronization
    import TockCore

    /// Control from any node of a PostgreSQL cluster: what one node does through its API reaches the others.
    ///
    /// - **Job changes** (pause, resume; jobs created, replaced or deleted through the API) are logged by the store in
    ///   the change's transaction (`job_change`, see `PostgresJobStore+Control.swift`) with `NOTIFY tock_control`.
    ///   This service listens (one pooled connection held for it), and on each notification — and every
    ///   ``pollInterval`` whatever happens, since a notification sent while the connection was down is lost — reads
    ///   the log past the last number it applied, reads the changed jobs' rows and applies them to its scheduler
    ///   (``Scheduler/applySharedChanges(paused:apiJobs:keepingOnlyAPIJobs:)``). At start, once the scheduler has
    ///   started, it reconciles everything once (the scheduler's start-up read may predate a change).
    /// - **Stop**: a node asked to stop a run another node holds writes a `stop` request for that node and notifies;
    ///   the holder stops the run and marks the request handled; the asker waits up to ``stopWait`` for that.
    /// - **Run now**: recorded by the node that receives it (``recordManualRun(_:idempotencyKey:since:exclusive:)``),
    ///   with overlap `skip` checked against the other nodes' runs under the job's row lock.
    /// - **Live output**: a node following another node's run writes a `follow` request; the node running it
    ///   publishes the run's output into `live_output` every ``publishInterval`` while the request is renewed (see
    ///   `PostgresClusterControl+Output.swift`).
    ///
    /// Run it as a `Service` after the ``PostgresSlotCoordinator`` (it needs the node registered) and call
    /// ``attach(_:)`` with the scheduler.
    public final class PostgresClusterControl: ClusterControl, Service {
        let store: PostgresJobStore
        let coordinator: PostgresSlotCoordinator
        let logger: Logger
        /// How often the log and the requests are read without a notification.
        public let pollInterval: Duration
        /// How often output is published for followers on other nodes.
        public let publishInterval: Duration
        /// How long a stop asked of another node waits for its answer.
        public let stopWait: Duration

        struct State {
            var scheduler: Scheduler?
            /// The last `job_change` number applied; `nil` until the first reconciliation.
            var lastChange: Int?
            var publications: [String: Publication] = [:]
        }
        let state = Mutex(State())
        /// Wakes the loop: notifications, the poll timer.
        let ticks: AsyncStream<Void>
        let tick: AsyncStream<Void>.Continuation

        public init(
            store: PostgresJobStore, coordinator: PostgresSlotCoordinator, pollInterval: Duration = .seconds(2),
            publishInterval: Duration = .milliseconds(250), stopWait: Duration = .seconds(3), logger: Logger
        ) {
            self.store = store
            self.coordinator = coordinator
            self.logger = logger
            self.pollInterval = pollInterval
            self.publishInterval = publishInterval
            self.stopWait = stopWait
            let made = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            ticks = made.stream
            tick = made.continuation
        }

        /// The scheduler that changes and requests are applied to.
        public func attach(_ scheduler: Scheduler) {
            state.withLock { $0.scheduler = scheduler }
            tick.yield()
        }

        var scheduler: Scheduler? { state.withLock { $0.scheduler } }

        // MARK: - The service

        public func run() async throws {
            await cancelWhenGracefulShutdown {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await self.listen() }
                    group.addTask { await self.timer() }
                    group.addTask { await self.publishLoop() }
                    group.addTask { await self.applyLoop() }
                    await group.next()
                    group.cancelAll()
                }
            }
            for publication in state.withLock({ state in state.publications.values }) { publication.follower.close() }
        }

        private func timer() async {
            while !Task.isCancelled {
                tick.yield()
                try? await Task.sleep(for: pollInterval)
            }
        }

        /// `LISTEN tock_control` on one pooled connection, again after any failure; each (re)start is followed by a
        /// read of everything (a notification sent meanwhile was lost).
        private func listen() async {
            var failures = 0
            while !Task.isCancelled {
                do {
                    try await coordinator.ensureRegistered()
                    try await store.client.withConnection { connection in
                        try await connection.listen(on: PostgresJobStore.controlChannel) { notifications in
                            failures = 0
                            self.tick.yield()
                            for try await _ in notifications { self.tick.yield() }
                        }
                    }
                } catch {
                    if !Task.isCancelled && failures % 30 == 0 {
                        logger.warning(
                            "not listening for other nodes' changes; reading them every poll",
                            metadata: ["error": "\(error)", "poll": "\(pollInterval)"])
                    }
                    failures += 1
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }

        private func applyLoop() async {
            var failures = 0
            var nextCleanUp = ContinuousClock.now + .seconds(30)
            for await _ in ticks {
                if Task.isCancelled { return }
                guard let scheduler, scheduler.hasStarted, coordinator.fencedReason == nil else { continue }
                do {
                    try await coordinator.ensureRegistered()
                    try await applyChanges(to: scheduler)
                    try await handleStopRequests(scheduler)
                    try await updatePublications(scheduler)
                    if ContinuousClock.now >= nextCleanUp {
                        nextCleanUp = ContinuousClock.now + .seconds(60)
                        try await cleanUp()
                    }
                    failures = 0
                } catch {
                    if failures % 30 == 0 {
                        logger.error(
                            "could not read other nodes' changes and requests", metadata: ["error": "\(error)"])
                    }
                    failures += 1
                }
            }
        }

        // MARK: - Job changes

        /// Reads the change log past the last number applied and applies the changed jobs' rows; the first time (and
        /// when the log was pruned past what this node saw), reconciles every job instead.
        func applyChanges(to scheduler: Scheduler) async throws {
            let me = store.nodeID
            guard let last = state.withLock({ $0.lastChange }) else {
                try await reconcile(scheduler)
                return
            }
            let rows = try await store.run(
                """
                SELECT sequence, job_id, node_id, (SELECT min(sequence) FROM job_change) FROM job_change
                WHERE sequence > \(last) ORDER BY sequence LIMIT 1000
                """)
            guard !rows.isEmpty else { return }
            var ids: Set<String> = []
            var newest = last
            for row in rows {
                let (sequence, jobID, node, oldest) = try row.decode((Int, String, UUID?, Int).self)
                if oldest > last + 1 {
                    // Numbers this node never saw were pruned: read everything again.
                    try await reconcile(scheduler)
                    return
                }
                newest = max(newest, sequence)
                if node != me { ids.insert(jobID) }
            }
            if !ids.isEmpty {
                let (paused, definitions) = try await sharedState(of: ids)
                await scheduler.applySharedChanges(paused: paused, apiJobs: definitions)
            }
            state.withLock { $0.lastChange = newest }
            // Up to 1,000 at a time: go on at once when there may be more.
            if rows.count == 1000 { tick.yield() }
        }

        /// Every job's shared state applied at once (API jobs missing from the table are removed).
        func reconcile(_ scheduler: Scheduler) async throws {
            let rows = try await store.run("SELECT COALESCE(max(sequence), 0) FROM job_change")
            let newest = try rows.first?.decode(Int.self) ?? 0
            let states = try await store.allStates()
            var definitions: [String: APIJobDefinition?] = [:]
            for definition in try await store.apiJobs() { definitions[definition.id] = definition }
            // Every stored id, read or not: a stored API job this node cannot read is left as it is here.
            let stored = try await store.run("SELECT id FROM api_job").map { try $0.decode(String.self) }
            let changes = await scheduler.applySharedChanges(
                paused: states.mapValues(\.paused), apiJobs: definitions, keepingOnlyAPIJobs: Set(stored))
            state.withLock { $0.lastChange = newest }
            if !changes.isEmpty {
                logger.info(
                    "applied the shared job state",
                    metadata: [
                        "paused": "\(changes.paused.count)", "resumed": "\(changes.resumed.count)",
                        "added": "\(changes.added.count)", "replaced": "\(changes.replaced.count)",
                        "removed": "\(changes.removed.count)",
                    ])
            }
        }

        /// The stored pause state and API definition of these jobs (`nil`: no API job of that id). A stored API job
        /// that cannot be read is left out of the definitions (nothing is done to it).
        func sharedState(
            of ids: Set<String>
        ) async throws -> (paused: [String: Bool], definitions: [String: APIJobDefinition?]) {
            let list = ids.sorted()
            var paused: [String: Bool] = Dictionary(uniqueKeysWithValues: list.map { ($0, false) })
            for row in try await store.run(
                "SELECT job_id, paused FROM job_state WHERE job_id = ANY(\(list)::text[])")
            {
                let (id, isPaused) = try row.decode((String, Bool).self)
                paused[id] = isPaused
            }
            var definitions: [String: APIJobDefinition?] = Dictionary(uniqueKeysWithValues: list.map { ($0, nil) })
            let rows = try await store.run("SELECT id, definition FROM api_job WHERE id = ANY(\(list)::text[])")
            for row in rows {
                let id = try row.makeRandomAccess()[0].decode(String.self)
                if let definition = store.readable([row], table: "api_job", { try PostgresJobStore.apiJob(from: $0) })
                    .first
                {
                    definitions[id] = .some(definition)
                } else {
                    definitions.removeValue(forKey: id)
                }
            }
            return (paused, definitions)
        }
    }
#endif
