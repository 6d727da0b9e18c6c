#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import Testing
    import TockCore
    import TockPostgres
    import TockTesting

    /// Several coordinators in one process on one real PostgreSQL schema: races for the same slots, the lease fence,
    /// reaping a dead node, per-node recovery at restart, self-fencing of a node that cannot renew.
    @Suite(.timeLimit(.minutes(2)))
    struct PostgresSlotCoordinatorTests {
        static let t0 = Date(timeIntervalSince1970: 1_767_225_600)
        static let logger = PostgresTestDatabase.logger

        /// The slots of `jobs` jobs at `instants` minutes, as node `node` would write them (its own ids).
        static func slots(jobs: Int, instants: Int, node: String) -> [ExecutionRecord] {
            var slots: [ExecutionRecord] = []
            for j in 0..<jobs {
                for i in 0..<instants {
                    slots.append(
                        ExecutionRecord(
                            jobID: "job\(j)", state: .scheduled, trigger: .schedule,
                            scheduledAt: t0.addingTimeInterval(Double(i) * 60), host: node))
                }
            }
            return slots.shuffled()
        }

        @Test func threeNodesRacingForTheSameSlots_eachSlotIsWonOnce() async throws {
            let database = try await PostgresTestDatabase.make()
            try await database.withStore(node: "a") { a in
                try await database.withStore(node: "b") { b in
                    try await database.withStore(node: "c") { c in
                        let nodes = [a, b, c].map { PostgresSlotCoordinator(store: $0, logger: Self.logger) }
                        let offers = ["a", "b", "c"].map { Self.slots(jobs: 30, instants: 10, node: $0) }
                        let won = try await withThrowingTaskGroup(of: [ExecutionRecord].self) { group in
                            for (node, offer) in zip(nodes, offers) {
                                group.addTask {
                                    var won: [ExecutionRecord] = []
                                    // In several claims, as a scheduler would make them, racing the others.
                                    for chunk in stride(from: 0, to: offer.count, by: 70) {
                                        let part = Array(offer[chunk..<min(chunk + 70, offer.count)])
                                        let ids = try await node.claim(part).won
                                        won += part.filter { ids.contains($0.id) }
                                    }
                                    return won
                                }
                            }
                            return try await group.reduce(into: []) { $0 += $1 }
                        }
                        let keys = won.map { "\($0.jobID) \($0.scheduledAt.timeIntervalSince1970)" }
                        #expect(keys.count == 300 && Set(keys).count == 300, "every slot won exactly once")
                        let rows = try await database.execute(
                            "SELECT count(*), count(DISTINCT (job_id, slot_at)), count(DISTINCT node_id) FROM execution"
                        )
                        let (count, distinct, owners) = try #require(try rows.first?.decode((Int, Int, Int).self))
                        #expect(count == 300 && distinct == 300)
                        #expect(owners >= 1)
                        // A second claim of the same slots wins nothing.
                        #expect(try await nodes[0].claim(Self.slots(jobs: 30, instants: 10, node: "a")).won.isEmpty)
                    }
                }
            }
        }

        @Test func aNodeWhoseLeaseLapsed_claimsNothing_andIsFenced() async throws {
            let database = try await PostgresTestDatabase.make()
            try await database.withStore(node: "late") { store in
                let node = PostgresSlotCoordinator(store: store, logger: Self.logger)
                #expect(try await node.claim(Self.slots(jobs: 1, instants: 1, node: "late")).won.count == 1)
                _ = try await database.execute("UPDATE node SET lease_until = clock_timestamp() - interval '1 second'")
                #expect(try await node.claim(Self.slots(jobs: 2, instants: 2, node: "late")).won.isEmpty)
                #expect(node.fencedReason != nil)
                #expect(try await database.execute("SELECT id FROM execution").count == 1)
            }
        }

        @Test func theReaper_interruptsADeadNodesRuns_namingIt_andSparesTheLiving() async throws {
            let database = try await PostgresTestDatabase.make()
            try await database.withStore(node: "alive") { aliveStore in
                try await database.withStore(node: "doomed") { doomedStore in
                    let alive = PostgresSlotCoordinator(store: aliveStore, logger: Self.logger)
                    let doomed = PostgresSlotCoordinator(store: doomedStore, logger: Self.logger)
                    var mine = Self.slots(jobs: 1, instants: 1, node: "alive")[0]
                    var theirs = try #require(
                        Self.slots(jobs: 2, instants: 1, node: "doomed").first { $0.jobID == "job1" })
                    #expect(try await alive.claim([mine]).won.count == 1)
                    #expect(try await doomed.claim([theirs]).won.count == 1)
                    mine.state = .running
                    theirs.state = .running
                    try await aliveStore.save(mine)
                    try await doomedStore.save(theirs)
                    #expect(try await alive.reap() == 0, "no lease has lapsed yet")
                    _ = try await database.execute(
                        "UPDATE node SET lease_until = clock_timestamp() - interval '1 second' WHERE name = 'doomed'")
                    #expect(try await alive.reap() == 1)
                    let reaped = try #require(try await aliveStore.execution(id: theirs.id))
                    #expect(reaped.state == .interrupted && reaped.endedAt != nil)
                    #expect(reaped.message?.contains("node doomed") == true)
                    #expect(reaped.message?.contains("declared dead by node alive") == true)
                    #expect(try await aliveStore.execution(id: mine.id)?.state == .running)
                    // A late outcome of the dead node's run does not overwrite what the reaper recorded.
                    theirs.state = .succeeded
                    try await doomedStore.save(theirs)
                    #expect(try await aliveStore.execution(id: theirs.id)?.state == .interrupted)
                    let states = try await database.execute("SELECT name, state FROM node ORDER BY name")
                    #expect(
                        try states.map { try $0.decode((String, String).self) }.map { "\($0) \($1)" } == [
                            "alive alive", "doomed dead",
                        ])
                }
            }
        }

        @Test func aRestartedNode_recoversOnlyItsOwnPredecessorsRuns() async throws {
            let database = try await PostgresTestDatabase.make()
            var before: ExecutionRecord?
            var other: ExecutionRecord?
            try await database.withStore(node: "other") { otherStore in
                let otherNode = PostgresSlotCoordinator(store: otherStore, logger: Self.logger)
                var theirs = Self.slots(jobs: 1, instants: 1, node: "other")[0]
                #expect(try await otherNode.claim([theirs]).won.count == 1)
                theirs.state = .running
                try await otherStore.save(theirs)
                other = theirs
                // The first incarnation of "n1" dies (kill -9: nothing written) with a run going.
                try await database.withStore(node: "n1") { store in
                    let node = PostgresSlotCoordinator(store: store, logger: Self.logger)
                    var run = Self.slots(jobs: 2, instants: 1, node: "n1").first { $0.jobID == "job1" }!
                    #expect(try await node.claim([run]).won.count == 1)
                    run.state = .running
                    run.pid = 4242
                    try await store.save(run)
                    before = run
                }
                // Its next incarnation recovers that run at once, without waiting for the lease.
                try await database.withStore(node: "n1") { store in
                    let node = PostgresSlotCoordinator(store: store, logger: Self.logger)
                    let recovered = try await node.recoverInterruptedExecutions(
                        at: Self.t0.addingTimeInterval(600), planning: nil)
                    #expect(recovered.map(\.id) == [before?.id])
                    #expect(recovered.first?.pid == 4242)
                    #expect(try await store.execution(id: before!.id)?.state == .interrupted)
                }
                #expect(try await otherStore.execution(id: other!.id)?.state == .running, "another live node's run")
            }
        }

        /// overlap = "skip" across nodes: an instant of a job that runs on another node is won as `skipped`, naming that
        /// node; a job not asking for it is won as given.
        @Test func aJobRunningOnAnotherNode_isSkipped_whenItsOverlapIsSkip() async throws {
            let database = try await PostgresTestDatabase.make()
            try await database.withStore(node: "a") { aStore in
                try await database.withStore(node: "b") { bStore in
                    let a = PostgresSlotCoordinator(store: aStore, logger: Self.logger)
                    let b = PostgresSlotCoordinator(store: bStore, logger: Self.logger)
                    func slot(_ job: String, _ minute: Double, _ host: String) -> ExecutionRecord {
                        ExecutionRecord(
                            jobID: job, state: .scheduled, trigger: .schedule,
                            scheduledAt: Self.t0.addingTimeInterval(minute * 60), host: host)
                    }
                    var first = slot("slow", 0, "a")
                    #expect(try await a.claim([first], skipWhileRunningElsewhere: ["slow"]).won == [first.id])
                    first.state = .running
                    try await aStore.save(first)
                    let second = slot("slow", 1, "b")
                    let claims = try await b.claim([second], skipWhileRunningElsewhere: ["slow"])
                    #expect(claims.won == [second.id])
                    #expect(claims.skipped[second.id]?.contains("running on node a") == true)
                    #expect(try await bStore.execution(id: second.id)?.state == .skipped)
                    // Its own runs do not count (the scheduler applies overlap to those itself).
                    let third = slot("slow", 2, "a")
                    #expect(try await a.claim([third], skipWhileRunningElsewhere: ["slow"]).skipped.isEmpty)
                    // Without the policy, the instant is won to run.
                    let fourth = slot("slow", 3, "b")
                    #expect(try await b.claim([fourth], skipWhileRunningElsewhere: []).skipped.isEmpty)
                }
            }
        }

        /// A job paused through any node (its shared state) is claimed by none: its instants pass unrecorded.
        @Test func aJobPausedThroughAnyNode_isClaimedByNone() async throws {
            let database = try await PostgresTestDatabase.make()
            try await database.withStore(node: "a") { store in
                let node = PostgresSlotCoordinator(store: store, logger: Self.logger)
                try await store.setPaused(true, jobID: "job0")
                let offer = Self.slots(jobs: 2, instants: 3, node: "a")
                let won = try await node.claim(offer).won
                #expect(Set(offer.filter { won.contains($0.id) }.map(\.jobID)) == ["job1"])
                #expect(won.count == 3)
                try await store.setPaused(false, jobID: "job0")
                let again = Self.slots(jobs: 1, instants: 1, node: "a")
                #expect(try await node.claim(again).won.count == 1)
            }
        }

        /// A node that cannot renew (its row locked by another session, as a stalled network would hold it) fences
        /// itself within its trust window and claims again once it renews; declared dead meanwhile, it registers a
        /// new incarnation.
        @Test func aNodeThatCannotRenew_fencesItself_andRejoins() async throws {
            let database = try await PostgresTestDatabase.make()
            try await database.withStore(node: "cut") { store in
                let node = PostgresSlotCoordinator(store: store, leaseTTL: .seconds(2), logger: Self.logger)
                let service = Task { try await node.run() }
                defer { service.cancel() }
                try await eventually("registered") {
                    (try? await database.execute("SELECT 1 FROM node"))?.isEmpty == false
                }
                let first = store.nodeID
                #expect(node.fencedReason == nil)
                try await database.withClient { client in
                    try await client.withTransaction(logger: Self.logger) { connection in
                        try await connection.query(
                            "SELECT 1 FROM node WHERE name = 'cut' FOR UPDATE", logger: Self.logger)
                        try await eventually("fenced", timeout: .seconds(5)) { node.fencedReason != nil }
                        #expect(try await node.claim(Self.slots(jobs: 1, instants: 1, node: "cut")).won.isEmpty)
                    }
                }
                // Renewing again, it claims again.
                try await eventually("claims again", timeout: .seconds(10)) {
                    try await node.claim(Self.slots(jobs: 1, instants: 1, node: "cut")).won.count == 1
                }
                #expect(store.nodeID == first, "the lease held: the same incarnation")
                // Declared dead meanwhile (a reaper saw its lease lapse): fenced, then a new incarnation.
                _ = try await database.execute("UPDATE node SET state = 'dead' WHERE node_id = \(first)")
                try await eventually("registered again", timeout: .seconds(10)) {
                    store.nodeID != first && node.fencedReason == nil
                }
                try await eventually("claims as the new incarnation", timeout: .seconds(10)) {
                    let another = ExecutionRecord(
                        jobID: "another", state: .scheduled, trigger: .schedule, scheduledAt: Self.t0, host: "cut")
                    return try await node.claim([another]).won.count == 1
                }
            }
        }
    }
#endif

#if Postgres
    import CronKit

    /// Two real schedulers on one database and one (manual) clock: each instant runs on exactly one of them.
    @Suite(.timeLimit(.minutes(2)))
    struct PostgresClusterSchedulerTests {
        @Test func twoSchedulers_runEachInstantOnce_andRecordItOnce() async throws {
            let database = try await PostgresTestDatabase.make()
            let clock = ManualWallClock(now: Date(timeIntervalSince1970: 1_767_225_630))
            // swift-format-ignore: NeverUseForceTry
            let job = Job(
                id: "every", schedule: try! ScheduleExpression(parsing: "* * * * *"),
                action: .command("true", shell: "/bin/sh"), source: .file(path: "jobs.d/t.toml", line: 1))
            try await database.withStore(node: "a") { a in
                try await database.withStore(node: "b") { b in
                    let runners = [RecordingJobRunner(clock: clock), RecordingJobRunner(clock: clock)]
                    let schedulers = zip([a, b], runners).map { store, runner in
                        Scheduler(
                            jobs: [job], store: store, runner: runner, clock: clock,
                            configuration: SchedulerConfiguration(host: store.nodeName),
                            logger: PostgresTestDatabase.logger,
                            coordinator: PostgresSlotCoordinator(store: store, logger: PostgresTestDatabase.logger))
                    }
                    let tasks = schedulers.map { scheduler in Task { try await scheduler.run() } }
                    defer { for task in tasks { task.cancel() } }
                    for scheduler in schedulers {
                        try await eventually("started") { await scheduler.nextFireTimes()["every"] != nil }
                    }
                    for minute in 1...6 {
                        clock.advance(by: 60)
                        try await eventually("minute \(minute) recorded") {
                            try await a.executions(jobID: "every", limit: 100).filter { $0.state == .succeeded }.count
                                == minute
                        }
                    }
                    let executions = try await a.executions(jobID: "every", limit: 100)
                    #expect(executions.count == 6)
                    #expect(Set(executions.map(\.scheduledAt)).count == 6)
                    #expect(runners.map(\.calls.count).reduce(0, +) == 6, "one process per instant across both nodes")
                    let hosts = Set(executions.map(\.host))
                    #expect(hosts.isSubset(of: ["a", "b"]))
                }
            }
        }
    }
#endif
