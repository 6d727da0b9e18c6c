#if Postgres
    import CronKit
    import Foundation
    import Logging
    import PostgresNIO
    import Testing
    import TockCore
    import TockPostgres
    import TockTesting

    /// A dead node's runs retried elsewhere: only after a reaper recorded them (the node's lease lapsed), only for jobs
    /// that allow another attempt, exactly once however many nodes race for it.
    @Suite(.timeLimit(.minutes(2)))
    struct PostgresRetryElsewhereTests {
        static let t0 = Date(timeIntervalSince1970: 1_767_225_600)
        static let logger = PostgresTestDatabase.logger

        /// A retry as a scheduler makes it: the next attempt of the same instant, on `host`.
        static func retry(_ host: String, maxAttempt: Int = 1) -> @Sendable (ExecutionRecord) -> ExecutionRecord? {
            { original in
                guard original.attempt <= maxAttempt else { return nil }
                var record = ExecutionRecord(
                    jobID: original.jobID, state: .scheduled, trigger: .retry, scheduledAt: original.scheduledAt,
                    host: host)
                record.attempt = original.attempt + 1
                return record
            }
        }

        /// Node "doomed" claims and starts a run of `job` (attempt `attempt`); returns it.
        static func startRun(
            _ job: String, attempt: Int = 1, at instant: Date = t0, on store: PostgresJobStore,
            _ node: PostgresSlotCoordinator
        ) async throws -> ExecutionRecord {
            var run = ExecutionRecord(
                jobID: job, state: .scheduled, trigger: .schedule, scheduledAt: instant, host: store.nodeName)
            #expect(try await node.claim([run]).won.count == 1)
            run.state = .running
            run.attempt = attempt
            run.pid = 4242
            try await store.save(run)
            return run
        }

        @Test func aReapedRun_isRetriedOnce_byOneOfTheLivingNodes() async throws {
            let database = try await PostgresTestDatabase.make()
            try await database.withStore(node: "a") { aStore in
                try await database.withStore(node: "b") { bStore in
                    try await database.withStore(node: "doomed") { doomedStore in
                        let a = PostgresSlotCoordinator(store: aStore, logger: Self.logger)
                        let b = PostgresSlotCoordinator(store: bStore, logger: Self.logger)
                        let doomed = PostgresSlotCoordinator(store: doomedStore, logger: Self.logger)
                        _ = try await b.claim([])
                        let run = try await Self.startRun("r", on: doomedStore, doomed)
                        let spent = try await Self.startRun("spent", attempt: 2, on: doomedStore, doomed)
                        let other = try await Self.startRun("other", on: doomedStore, doomed)
                        // While its node holds its lease, nothing is retried: the process may still run.
                        #expect(try await a.claimRetries(ofJobs: ["r", "spent"], Self.retry("a")).isEmpty)
                        _ = try await database.execute(
                            "UPDATE node SET lease_until = clock_timestamp() - interval '1 second' WHERE name = 'doomed'"
                        )
                        #expect(try await a.reap() == 3)
                        // Two nodes race: one retry in all, for the job whose attempts are not used up.
                        async let fromA = a.claimRetries(ofJobs: ["r", "spent"], Self.retry("a"))
                        async let fromB = b.claimRetries(ofJobs: ["r", "spent"], Self.retry("b"))
                        let won = try await fromA + fromB
                        #expect(won.count == 1)
                        let retry = try #require(won.first)
                        #expect(retry.jobID == "r" && retry.attempt == 2 && retry.trigger == .retry)
                        #expect(retry.scheduledAt == run.scheduledAt)
                        let stored = try #require(try await aStore.execution(id: retry.id))
                        #expect(stored.state == .scheduled && stored.trigger == .retry && stored.attempt == 2)
                        let link = try await database.execute(
                            "SELECT retry_of FROM execution WHERE id = \(retry.id)")
                        #expect(try link.first?.decode(String?.self) == run.id)
                        // Asked again, by anyone: nothing more.
                        #expect(try await a.claimRetries(ofJobs: ["r", "spent", "other"], Self.retry("a")).count == 1)
                        #expect(try await b.claimRetries(ofJobs: ["r", "spent", "other"], Self.retry("b")).isEmpty)
                        #expect(try await aStore.execution(id: spent.id)?.state == .interrupted)
                        #expect(try await aStore.execution(id: other.id)?.state == .interrupted)
                        let retries = try await database.execute(
                            "SELECT retry_of FROM execution WHERE trigger = 'retry' ORDER BY retry_of")
                        #expect(
                            Set(try retries.map { try $0.decode(String.self) }) == [run.id, other.id],
                            "one retry per original: r by the race, other by the last ask")
                    }
                }
            }
        }

        @Test func aRestartedNodesOwnRecovery_andAFencedNode_retryNothing() async throws {
            let database = try await PostgresTestDatabase.make()
            try await database.withStore(node: "a") { aStore in
                let a = PostgresSlotCoordinator(store: aStore, logger: Self.logger)
                _ = try await a.claim([])
                try await database.withStore(node: "n1") { store in
                    let node = PostgresSlotCoordinator(store: store, logger: Self.logger)
                    _ = try await Self.startRun("r", on: store, node)
                }
                // The next incarnation of n1 recovers its predecessor's run at start (single-daemon recovery: it
                // stops the leftover process itself; no retry elsewhere).
                try await database.withStore(node: "n1") { store in
                    let node = PostgresSlotCoordinator(store: store, logger: Self.logger)
                    let recovered = try await node.recoverInterruptedExecutions(at: Self.t0, planning: nil)
                    #expect(recovered.count == 1)
                }
                #expect(try await a.claimRetries(ofJobs: ["r"], Self.retry("a")).isEmpty)
                // A node whose own lease lapsed retries nothing (and learns it is fenced).
                try await database.withStore(node: "doomed") { doomedStore in
                    let doomed = PostgresSlotCoordinator(store: doomedStore, logger: Self.logger)
                    _ = try await Self.startRun("r", at: Self.t0.addingTimeInterval(60), on: doomedStore, doomed)
                    _ = try await database.execute(
                        "UPDATE node SET lease_until = clock_timestamp() - interval '1 second' WHERE name = 'doomed'")
                    #expect(try await a.reap() == 1)
                    _ = try await database.execute(
                        "UPDATE node SET lease_until = clock_timestamp() - interval '1 second'")
                    #expect(try await a.claimRetries(ofJobs: ["r"], Self.retry("a")).isEmpty)
                    #expect(a.fencedReason != nil)
                }
            }
        }

        /// A real scheduler on a manual clock: the dead node's run of a job with `retries = 1` is claimed at the
        /// scheduler's next check and started as attempt 2 after the retry delay and `kill_grace`, once.
        @Test func aScheduler_retriesADeadNodesRun_asItsNextAttempt_afterKillGrace() async throws {
            let database = try await PostgresTestDatabase.make()
            let clock = ManualWallClock(now: Self.t0.addingTimeInterval(30))
            // swift-format-ignore: NeverUseForceTry
            var job = Job(
                id: "r", schedule: try! ScheduleExpression(parsing: "0 0 1 1 *"),
                action: .command("true", shell: "/bin/sh"), source: .file(path: "jobs.d/t.toml", line: 1))
            job.retry = RetryPolicy(retries: 1, delay: .seconds(1))
            job.killGrace = .seconds(20)
            try await database.withStore(node: "doomed") { doomedStore in
                let doomed = PostgresSlotCoordinator(store: doomedStore, logger: Self.logger)
                let run = try await Self.startRun("r", on: doomedStore, doomed)
                try await database.withStore(node: "b") { store in
                    let runner = RecordingJobRunner(clock: clock)
                    runner.script("r", [.exit(1)])
                    let coordinator = PostgresSlotCoordinator(store: store, logger: Self.logger)
                    let scheduler = Scheduler(
                        jobs: [job], store: store, runner: runner, clock: clock,
                        configuration: SchedulerConfiguration(host: "b"), logger: Self.logger,
                        coordinator: coordinator)
                    let task = Task { try await scheduler.run() }
                    defer { task.cancel() }
                    try await eventually("started") { await scheduler.nextFireTimes()["r"] != nil }
                    _ = try await database.execute(
                        "UPDATE node SET lease_until = clock_timestamp() - interval '1 second' WHERE name = 'doomed'")
                    #expect(try await coordinator.reap() == 1)
                    clock.advance(by: coordinator.retryCheckInterval! + 1)
                    try await eventually("retry claimed") {
                        try await store.executions(jobID: "r", limit: 10).contains { $0.trigger == .retry }
                    }
                    clock.advance(by: 10)
                    try await Task.sleep(for: .milliseconds(300))
                    #expect(runner.calls.isEmpty, "not before kill_grace (20 s) has passed since the claim")
                    clock.advance(by: 11)
                    try await eventually("retry ran") { runner.calls.count == 1 }
                    try await eventually("retry recorded") {
                        try await store.executions(jobID: "r", limit: 10).contains {
                            $0.trigger == .retry && $0.state == .failed
                        }
                    }
                    let rows = try await store.executions(jobID: "r", limit: 10)
                    #expect(rows.count == 2)
                    let retry = try #require(rows.first { $0.trigger == .retry })
                    #expect(retry.attempt == 2 && retry.host == "b" && retry.scheduledAt == run.scheduledAt)
                    #expect(rows.first { $0.id == run.id }?.state == .interrupted)
                    // Attempt 2 of retries = 1 failed: no further attempt, here or anywhere.
                    clock.advance(by: 60)
                    try await Task.sleep(for: .milliseconds(300))
                    #expect(runner.calls.count == 1)
                }
            }
        }
    }
#endif
