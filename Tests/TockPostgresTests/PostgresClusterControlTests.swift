#if Postgres
    import CronKit
    import Foundation
    import Logging
    import PostgresNIO
    import Testing
    import TockCore
    import TockJSON
    import TockPostgres
    import TockTesting

    /// Control from any node: two complete nodes (store, coordinator, control, scheduler with the real process runner,
    /// catalog) in one process on one PostgreSQL schema. What one node's catalog does reaches the other.
    @Suite(.serialized, .timeLimit(.minutes(3)))
    struct PostgresClusterControlTests {
        static let logger = PostgresTestDatabase.logger

        /// One node, as `tock serve` wires it.
        struct Node {
            let name: String
            let store: PostgresJobStore
            let control: PostgresClusterControl
            let scheduler: Scheduler
            let catalog: JobCatalog
        }

        /// How long a change may take to reach the other node: a notification's delivery, or at worst one poll.
        static let bound: Duration = .seconds(5)

        static func job(_ id: String, _ schedule: String, _ command: String) -> Job {
            // swift-format-ignore: NeverUseForceTry
            Job(
                id: id, schedule: try! ScheduleExpression(parsing: schedule),
                action: .command(command, shell: "/bin/sh"),
                source: .file(path: "jobs.d/cluster.toml", line: 1))
        }

        /// Runs `body` with nodes "a" and "b" running (each with these file jobs).
        static func withNodes(
            jobs: [Job] = [], pollInterval: Duration = .seconds(2), _ body: (Node, Node) async throws -> Void
        ) async throws {
            let database = try await PostgresTestDatabase.make()
            try await database.withStore(node: "a") { aStore in
                try await database.withStore(node: "b") { bStore in
                    var tasks: [Task<Void, any Error>] = []
                    defer { for task in tasks { task.cancel() } }
                    var nodes: [Node] = []
                    for store in [aStore, bStore] {
                        let coordinator = PostgresSlotCoordinator(store: store, logger: logger)
                        let control = PostgresClusterControl(
                            store: store, coordinator: coordinator, pollInterval: pollInterval, logger: logger)
                        let scheduler = Scheduler(
                            jobs: jobs, store: store, runner: ProcessJobRunner(),
                            configuration: SchedulerConfiguration(host: store.nodeName, shutdownGrace: .seconds(1)),
                            logger: logger,
                            coordinator: coordinator, control: control)
                        control.attach(scheduler)
                        tasks.append(Task { try await coordinator.run() })
                        tasks.append(Task { try await control.run() })
                        tasks.append(Task { try await scheduler.run() })
                        nodes.append(
                            Node(
                                name: store.nodeName, store: store, control: control, scheduler: scheduler,
                                catalog: JobCatalog(scheduler: scheduler, store: store)))
                    }
                    for node in nodes { try await eventually("\(node.name) started") { node.scheduler.hasStarted } }
                    try await body(nodes[0], nodes[1])
                }
            }
        }

        /// A node's scheduler running `body` until the job is in the wanted state.
        static func within(
            _ what: String, bound: Duration = bound, _ condition: () async throws -> Bool
        ) async throws {
            try await eventually(what, timeout: bound, pollEvery: .milliseconds(20), condition)
        }

        @Test func aPauseThroughOneNode_stopsTheJobOnTheOther_andAResumeThroughItRestartsIt() async throws {
            try await Self.withNodes(jobs: [Self.job("tick", "* * * * * *", "true")]) { a, b in
                try await Self.within("the job runs", bound: .seconds(10)) {
                    try await a.store.executions(jobID: "tick", limit: 10).contains { $0.state == .succeeded }
                }
                let started = ContinuousClock.now
                #expect(try await a.catalog.setPaused(true, jobID: "tick", user: "alice"))
                try await Self.within("b knows it is paused") { await b.scheduler.status(of: "tick")?.paused == true }
                let reached = ContinuousClock.now - started
                #expect(await b.scheduler.status(of: "tick")?.nextFireTime == nil)
                // Nothing fires for it on either node any more.
                let pausedAt = Date()
                try await Task.sleep(for: .seconds(2.5))
                let after = try await a.store.executions(jobID: "tick", limit: 100).filter {
                    $0.scheduledAt > pausedAt.addingTimeInterval(0.5)
                }
                #expect(after.isEmpty, "instants after the pause: \(after.map(\.scheduledAt))")
                // Only the acting node audits it.
                let audit = try await a.store.auditLog(matching: AuditQuery(jobID: "tick"))
                #expect(audit.map(\.event) == [.paused] && audit.first?.user == "alice")

                // Resumed through the other node.
                #expect(try await b.catalog.setPaused(false, jobID: "tick", user: "bob"))
                try await Self.within("a knows it is resumed") { await a.scheduler.status(of: "tick")?.paused == false }
                let resumedAt = Date()
                try await Self.within("it runs again", bound: .seconds(10)) {
                    try await a.store.executions(jobID: "tick", limit: 10).contains {
                        $0.scheduledAt > resumedAt && $0.state == .succeeded
                    }
                }
                print("pause reached the other node after \(reached)")
            }
        }

        @Test func aChangeWhoseNotificationWasLost_arrivesWithThePoll() async throws {
            try await Self.withNodes(jobs: [Self.job("quiet", "@yearly", "true")], pollInterval: .seconds(1)) { a, b in
                // Written as the store writes it, but without NOTIFY (as if sent while b's connection was down).
                _ = try await a.store.client.query(
                    "INSERT INTO job_state (job_id, paused) VALUES ('quiet', true) ON CONFLICT (job_id) DO UPDATE SET paused = true"
                )
                _ = try await a.store.client.query("INSERT INTO job_change (job_id) VALUES ('quiet')")
                try await Self.within("b polls it", bound: .seconds(4)) {
                    await b.scheduler.status(of: "quiet")?.paused == true
                }
                // a applies it too (not its own change), at its own poll, which may come after b's.
                try await Self.within("a polls it", bound: .seconds(4)) {
                    await a.scheduler.status(of: "quiet")?.paused == true
                }
            }
        }

        @Test func anAPIJobCreatedOnOneNode_isScheduledAndRunOnTheOther_andItsChangesFollow() async throws {
            try await Self.withNodes { a, b in
                let definition = APIJobDefinition(
                    id: "made-on-a",
                    body: .object([("schedule", "* * * * * *"), ("command", "echo from $TOCK_JOB_ID")]))
                try await a.catalog.create(definition, user: "alice")
                try await Self.within("b has it") { await b.scheduler.status(of: "made-on-a")?.job.source == .api }
                // With a's scheduler out of the way (a node that only serves the API), b runs every instant.
                let created = Date()
                await a.scheduler.applySharedChanges(paused: [:], apiJobs: ["made-on-a": APIJobDefinition?.none])
                try await Self.within("b runs it", bound: .seconds(10)) {
                    try await b.store.executions(jobID: "made-on-a", limit: 20).contains {
                        $0.host == "b" && $0.trigger == .schedule && $0.state == .succeeded && $0.scheduledAt > created
                    }
                }
                // Replaced on a: b schedules the new definition.
                let replaced = APIJobDefinition(
                    id: "made-on-a", body: .object([("schedule", "@hourly"), ("command", "true")]))
                await a.scheduler.applySharedChanges(paused: [:], apiJobs: ["made-on-a": replaced])
                try await a.catalog.replace(replaced, user: "alice")
                try await Self.within("b has the new schedule") {
                    await b.scheduler.status(of: "made-on-a")?.job.schedule == "@hourly"
                }
                // Deleted on a: gone from b.
                _ = try await a.catalog.delete(id: "made-on-a", user: "alice")
                try await Self.within("b dropped it") { await b.scheduler.status(of: "made-on-a") == nil }
            }
        }

        @Test func aStopThroughOneNode_stopsTheRunTheOtherHolds() async throws {
            try await Self.withNodes(jobs: [Self.job("long", "@yearly", "echo started; exec sleep 60")]) { a, b in
                let id = try await b.catalog.runNow(jobID: "long", force: false, user: "bob")
                try await Self.within("running on b") { b.scheduler.liveOutput.isLive(id) }
                let outcome = try await a.catalog.stop(executionID: id, user: "alice")
                #expect(outcome == .requestedOf(node: "b", acknowledged: true))
                try await Self.within("stopped") { try await a.store.execution(id: id)?.state == .stopped }
                let audit = try await a.store.auditLog(matching: AuditQuery(jobID: "long"))
                #expect(
                    audit.contains { $0.event == .stopped && $0.user == "alice" && $0.description.contains("node b") })
                // Finished, and unknown: as on one node.
                await #expect(throws: JobCatalog.Failure.notRunning(executionID: id, state: .stopped)) {
                    try await a.catalog.stop(executionID: id, user: "alice")
                }
                await #expect(throws: JobCatalog.Failure.unknownExecution("nope")) {
                    try await a.catalog.stop(executionID: "nope", user: "alice")
                }
            }
        }

        @Test func aStopOfARunWhoseNodeLostItsLease_saysSo() async throws {
            try await Self.withNodes(jobs: [Self.job("long", "@yearly", "exec sleep 60")]) { a, b in
                let id = try await b.catalog.runNow(jobID: "long", force: false, user: "bob")
                try await Self.within("running on b") { b.scheduler.liveOutput.isLive(id) }
                _ = try await a.store.client.query(
                    "UPDATE node SET lease_until = clock_timestamp() - interval '1 second' WHERE name = 'b'")
                do {
                    try await a.catalog.stop(executionID: id, user: "alice")
                    Issue.record("a stop of a run held by a lapsed node succeeded")
                } catch JobCatalog.Failure.heldByUnreachableNode(let execution, let node, let reason) {
                    #expect(execution == id && node == "b")
                    #expect(reason.contains("lease lapsed") && reason.contains("interrupted"), "\(reason)")
                }
                _ = await b.scheduler.stop(executionID: id)
            }
        }

        @Test func runNowWithOverlapSkip_isRefusedWhileAnotherNodeRunsTheJob_unlessForced() async throws {
            try await Self.withNodes(jobs: [Self.job("long", "@yearly", "exec sleep 60")]) { a, b in
                let id = try await b.catalog.runNow(jobID: "long", force: false, user: "bob")
                try await Self.within("running on b") { b.scheduler.liveOutput.isLive(id) }
                await #expect(
                    throws: JobCatalog.Failure.alreadyRunningElsewhere(jobID: "long", executionID: id, node: "b")
                ) {
                    try await a.catalog.runNow(jobID: "long", force: false, user: "alice")
                }
                let forced = try await a.catalog.runNow(jobID: "long", force: true, user: "alice")
                try await Self.within("the forced run runs on a") { a.scheduler.liveOutput.isLive(forced) }
                #expect(try await a.store.execution(id: forced)?.host == "a")
                for (node, execution) in [(b, id), (a, forced)] {
                    _ = await node.scheduler.stop(executionID: execution)
                }
            }
        }

        @Test func runNowWithOneIdempotencyKey_throughBothNodes_recordsOneRun() async throws {
            try await Self.withNodes(jobs: [Self.job("once", "@yearly", "sleep 1")]) { a, b in
                let first = try await a.catalog.runNow(
                    jobID: "once", force: false, idempotencyKey: "release-7", user: "alice")
                #expect(!first.replayed)
                let retry = try await b.catalog.runNow(
                    jobID: "once", force: false, idempotencyKey: "release-7", user: "alice")
                #expect(retry == Scheduler.ManualRun(executionID: first.executionID, replayed: true))
                // Racing through both nodes with a new key: one run, both answers name it.
                async let viaA = a.catalog.runNow(jobID: "once", force: true, idempotencyKey: "release-8", user: "x")
                async let viaB = b.catalog.runNow(jobID: "once", force: true, idempotencyKey: "release-8", user: "x")
                let (one, two) = try await (viaA, viaB)
                #expect(one.executionID == two.executionID)
                #expect([one.replayed, two.replayed].filter { $0 }.count == 1)
                let runs = try await a.store.executions(jobID: "once", limit: 10)
                #expect(Set(runs.map(\.id)) == [first.executionID, one.executionID])
            }
        }

        @Test func theLiveOutputOfARunOnOneNode_isFollowedFromTheOther() async throws {
            let command = "for i in 1 2 3 4 5 6; do echo line$i; sleep 0.3; done; echo oops >&2; exit 3"
            try await Self.withNodes(jobs: [Self.job("talker", "@yearly", command)]) { a, b in
                let id = try await b.catalog.runNow(jobID: "talker", force: false, user: "bob")
                try await Self.within("running on b") { b.scheduler.liveOutput.isLive(id) }
                #expect(try await b.control.followOutput(of: id) == nil, "b's own run is followed locally")
                let events = try #require(try await a.control.followOutput(of: id))
                var stdout: [UInt8] = []
                var stderr: [UInt8] = []
                var firstOutput: Date?
                var end: ExecutionRecord?
                for await event in events {
                    switch event {
                    case .output(let chunk):
                        firstOutput = firstOutput ?? Date()
                        if chunk.stream == .stdout { stdout += chunk.bytes } else { stderr += chunk.bytes }
                    case .dropped(let stream, let bytes): Issue.record("dropped \(bytes) of \(stream)")
                    case .end(let record): end = record
                    }
                }
                #expect(String(decoding: stdout, as: UTF8.self) == "line1\nline2\nline3\nline4\nline5\nline6\n")
                #expect(String(decoding: stderr, as: UTF8.self) == "oops\n")
                #expect(end?.state == .failed && end?.exitCode == 3)
                let ended = try #require(try await a.store.execution(id: id, includeOutput: false)?.endedAt)
                // Followed live: output arrived well before the run's end (1.8 s of output).
                #expect(try #require(firstOutput) < ended.addingTimeInterval(-0.8))
                // The published pieces go once nobody follows (after a minute); the stored output is the record's.
                #expect(try await a.store.output(ofExecution: id, stream: .stdout, from: 0, limit: 100)?.count == 36)
            }
        }

        @Test func aPlainReadOfARunningExecutionsOutput_onAnotherNode_hasWhatItWroteSoFar() async throws {
            try await Self.withNodes(jobs: [Self.job("halfway", "@yearly", "echo first half; exec sleep 60")]) { a, b in
                let id = try await b.catalog.runNow(jobID: "halfway", force: false, user: "bob")
                try await Self.within("running on b") { b.scheduler.liveOutput.isLive(id) }
                let events = try #require(try await a.control.followOutput(of: id))
                try await Self.within("the output so far") {
                    let (bytes, record) = try await events.snapshot(.stdout)
                    return String(decoding: bytes, as: UTF8.self) == "first half\n" && record?.state == .running
                }
                _ = await b.scheduler.stop(executionID: id)
            }
        }
    }
#endif
