#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import Testing
    import TockCore
    import TockPostgres
    import TockTesting

    /// Two nodes (two stores with different names, each with its coordinator, scheduler and cluster view) on one real
    /// PostgreSQL schema: the digests each publishes of its jobs.d jobs, the mismatches found between them (on the
    /// scheduler: job JSON and metric), and `GET /api/v1/cluster`'s view with a dead node.
    @Suite(.timeLimit(.minutes(2)))
    struct PostgresClusterViewTests {
        static let logger = PostgresTestDatabase.logger

        static func jobs(_ toml: String) -> [Job] {
            let parsed = JobDefinitionReader.parse(toml, file: "jobs.d/jobs.toml")
            precondition(parsed.errors.isEmpty, "\(parsed.errors)")
            return parsed.jobs
        }

        static let shared = """
            [job.shared]
            schedule = "@yearly"
            command = "true"
            """

        /// A node's parts: store, coordinator (registered), scheduler (not running) and cluster view.
        struct Node {
            let store: PostgresJobStore
            let coordinator: PostgresSlotCoordinator
            let scheduler: Scheduler
            let view: PostgresClusterView

            init(_ store: PostgresJobStore, jobs: String) async throws {
                self.store = store
                coordinator = PostgresSlotCoordinator(store: store, logger: PostgresClusterViewTests.logger)
                _ = try await coordinator.recoverInterruptedExecutions(at: Date(), planning: nil)
                scheduler = Scheduler(
                    jobs: PostgresClusterViewTests.jobs(jobs), store: store,
                    runner: RecordingJobRunner(clock: ManualWallClock(now: Date())),
                    configuration: SchedulerConfiguration(host: store.nodeName),
                    logger: PostgresClusterViewTests.logger, coordinator: coordinator)
                view = PostgresClusterView(
                    store: store, scheduler: scheduler, version: "9.9.9", interval: .milliseconds(100),
                    logger: PostgresClusterViewTests.logger)
            }
        }

        @Test func digestsDiffering_orMissingOnANode_areMismatches_untilTheNodesAgree() async throws {
            let database = try await PostgresTestDatabase.make()
            try await database.withStore(node: "node-a") { storeA in
                try await database.withStore(node: "node-b") { storeB in
                    let a = try await Node(
                        storeA,
                        jobs: Self.shared + """

                            [job.differs]
                            schedule = "@daily"
                            command = "echo one"
                            [job.only-a]
                            schedule = "@hourly"
                            command = "true"
                            """)
                    let bJobs =
                        Self.shared + """

                            [job.differs]
                            schedule = "@daily"
                            command = "echo two"
                            """
                    let b = try await Node(storeB, jobs: bJobs)
                    try await a.view.beat()
                    // b has not published yet: it is not compared (no false "absent" for a node starting).
                    #expect(await a.scheduler.definitionMismatches().isEmpty)
                    try await b.view.beat()
                    try await a.view.beat()
                    let found = await a.scheduler.definitionMismatches()
                    #expect(found.map(\.jobID) == ["differs", "only-a"])
                    let digestA = try #require(await a.scheduler.fileJobDigests()["differs"])
                    let digestB = try #require(await b.scheduler.fileJobDigests()["differs"])
                    #expect(digestA != digestB)
                    #expect(
                        found.first?.nodes == [
                            .init(node: "node-a", digest: digestA), .init(node: "node-b", digest: digestB),
                        ])
                    #expect(found.last?.nodes.last == .init(node: "node-b", digest: nil))
                    // The job's status carries it (the job JSON's `definition_mismatch`); `shared` agrees.
                    #expect(await a.scheduler.status(of: "differs")?.definitionMismatch == found.first)
                    #expect(await a.scheduler.status(of: "shared")?.definitionMismatch == nil)
                    let rows = try await database.execute("SELECT count(*) FROM node_job_digest")
                    #expect(try rows.first?.decode(Int.self) == 5)
                    let before = try await database.execute(
                        "SELECT updated_at FROM node_job_digest WHERE node_name = 'node-b' AND job_id = 'shared'")

                    // b reloads with a's definitions: only what changed is written, and the mismatches go.
                    await b.scheduler.replaceJobs(
                        Self.jobs(
                            Self.shared + """

                                [job.differs]
                                schedule = "@daily"
                                command = "echo one"
                                [job.only-a]
                                schedule = "@hourly"
                                command = "true"
                                """))
                    try await b.view.beat()
                    try await a.view.beat()
                    #expect(await a.scheduler.definitionMismatches().isEmpty)
                    #expect(await b.scheduler.definitionMismatches().isEmpty)
                    #expect(await a.scheduler.status(of: "differs")?.definitionMismatch == nil)
                    let after = try await database.execute(
                        "SELECT updated_at FROM node_job_digest WHERE node_name = 'node-b' AND job_id = 'shared'")
                    #expect(try before.first?.decode(Date.self) == after.first?.decode(Date.self))
                    let digests = try await database.execute(
                        "SELECT count(*) FROM node_job_digest WHERE node_name = 'node-b'")
                    #expect(try digests.first?.decode(Int.self) == 3)
                }
            }
        }

        @Test func theClusterView_showsBothNodes_theirClocks_runs_andADeadOne() async throws {
            let database = try await PostgresTestDatabase.make()
            try await database.withStore(node: "node-a") { storeA in
                try await database.withStore(node: "node-b") { storeB in
                    let a = try await Node(storeA, jobs: Self.shared)
                    let b = try await Node(
                        storeB,
                        jobs: Self.shared + """

                            [job.b-only]
                            schedule = "@daily"
                            command = "true"
                            """)
                    try await a.view.beat()
                    try await b.view.beat()
                    var running = ExecutionRecord(
                        jobID: "shared", state: .running, trigger: .manual, scheduledAt: Date(), host: "node-a")
                    running.startedAt = Date()
                    var done = ExecutionRecord(
                        jobID: "shared", state: .succeeded, trigger: .manual,
                        scheduledAt: Date().addingTimeInterval(-60), host: "node-b")
                    done.startedAt = done.scheduledAt
                    try await storeA.save(running)
                    try await storeB.save(done)

                    var snapshot = try await a.view.snapshot(recentlyDead: 86_400)
                    #expect(snapshot.store == "postgresql" && snapshot.nodeName == "node-a")
                    #expect(snapshot.nodeID == storeA.nodeID.uuidString.lowercased())
                    #expect(snapshot.nodes.map(\.name) == ["node-a", "node-b"])
                    #expect(snapshot.nodes.map(\.state) == ["alive", "alive"])
                    #expect(snapshot.nodes.map(\.isSelf) == [true, false])
                    let nodeA = snapshot.nodes[0]
                    // The same host: the clock offset is the round trip's error at most.
                    #expect(abs(try #require(nodeA.clockOffset)) < 0.5)
                    #expect(nodeA.version == "9.9.9" && nodeA.pid == ProcessInfo.processInfo.processIdentifier)
                    #expect(nodeA.executions == ExecutionCounts(startedSince: 1, running: 1))
                    #expect(snapshot.nodes[1].executions == ExecutionCounts(startedSince: 1, running: 0))
                    #expect(snapshot.nodes[1].jobs?.keys.sorted() == ["b-only", "shared"])
                    let until = try #require(nodeA.leaseUntil)
                    let renewed = try #require(nodeA.renewedAt)
                    #expect(until.timeIntervalSince(snapshot.now) > 50 && snapshot.now >= renewed)
                    #expect(snapshot.mismatches.map(\.jobID) == ["b-only"])

                    // b's lease lapses; a reaps it: b is dead, named so, and no longer compared.
                    _ = try await database.execute(
                        "UPDATE node SET lease_until = clock_timestamp() - interval '1 second' WHERE name = 'node-b'")
                    try await a.coordinator.reap()
                    snapshot = try await a.view.snapshot(recentlyDead: 86_400)
                    #expect(snapshot.nodes.map(\.state) == ["alive", "dead"])
                    #expect(snapshot.nodes[1].diedAt != nil)
                    #expect(snapshot.nodes[1].message?.contains("declared dead by node node-a") == true)
                    #expect(snapshot.mismatches.isEmpty)
                    try await a.view.beat()
                    #expect(await a.scheduler.definitionMismatches().isEmpty)
                    // Outside the window, the dead node is not shown.
                    snapshot = try await a.view.snapshot(recentlyDead: 0)
                    #expect(snapshot.nodes.map(\.name) == ["node-a"])
                }
            }
        }

        @Test func aClockAheadOfTheDatabase_isMeasuredAsAPositiveOffset() async throws {
            // The offset is local − database: a node whose row says +30 s is shown so, and the page marks it.
            let database = try await PostgresTestDatabase.make()
            try await database.withStore(node: "node-a") { store in
                let a = try await Node(store, jobs: Self.shared)
                try await a.view.beat()
                _ = try await database.execute("UPDATE node SET clock_offset = 30.5")
                let snapshot = try await a.view.snapshot(recentlyDead: 60)
                #expect(snapshot.nodes.first?.clockOffset == 30.5)
                try await a.view.beat()
                #expect(abs(try #require(try await a.view.snapshot(recentlyDead: 60).nodes.first?.clockOffset)) < 0.5)
            }
        }
    }
#endif
