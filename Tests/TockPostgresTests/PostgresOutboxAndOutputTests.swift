#if Postgres
    import Foundation
    import PostgresNIO
    import Testing
    import TockCore
    import TockPostgres
    import TockTesting

    /// What main's SQLite store has beyond the first contract, on PostgreSQL: the notification outbox (the shared
    /// contract, and what several nodes add: claims that never overlap, releases that touch only the dead) and output
    /// in pieces outside the execution row.
    @Suite(.timeLimit(.minutes(2)))
    struct PostgresOutboxAndOutputTests {
        @Test(arguments: NotificationOutboxContract.checks.map(\.0))
        func outboxContract(_ name: String) async throws {
            let database = try await PostgresTestDatabase.make()
            let check = try #require(NotificationOutboxContract.checks.first { $0.0 == name }?.1)
            try await database.withStore { store in try await check(store) }
        }

        @Test(arguments: [1, 7, 64])
        func outputContract_withSmallPieces(_ pieceSize: Int) async throws {
            let database = try await PostgresTestDatabase.make()
            try await database.withStore(outputPieceSize: pieceSize) { store in
                try await JobStoreContract.readsOutputAcrossPieceBoundaries(store, pieceSize: pieceSize)
            }
        }

        @Test func output_isRowsOfThePieceSize_andNotInTheExecutionRow() async throws {
            let database = try await PostgresTestDatabase.make()
            var e = ExecutionRecord(
                jobID: "j", state: .succeeded, trigger: .schedule,
                scheduledAt: Date(timeIntervalSince1970: 1_767_225_600),
                host: "h")
            e.stdout = (0..<20).map { UInt8($0) }
            e.stderr = (0..<7).map { UInt8(200 + $0) }
            e.stdoutBytes = 20
            e.stderrBytes = 7
            try await database.withStore(outputPieceSize: 7) { store in
                try await store.save([e])
                #expect(try await store.execution(id: e.id) == e)
            }
            let pieces = try await database.execute(
                """
                SELECT stream || ' ' || position || ' ' || length(bytes) FROM execution_output
                WHERE execution_id = \(e.id) ORDER BY stream, position
                """
            ).map { try $0.decode(String.self) }
            #expect(pieces == ["stderr 0 7", "stdout 0 7", "stdout 7 7", "stdout 14 6"])
            let inRow = try await database.execute("SELECT SUM(length(stdout) + length(stderr))::int FROM execution")
            #expect(try inRow.first?.decode(Int.self) == 0)
            // Pruned with their execution.
            try await database.withStore { store async throws in
                #expect(try await store.prune(keepPerJob: 0, olderThan: .distantFuture) == 1)
            }
            let left = try await database.execute("SELECT count(*)::int FROM execution_output")
            #expect(try left.first?.decode(Int.self) == 0)
        }

        /// Output a v1 database kept in the execution row is moved into pieces by the v2 migration.
        @Test func migrationV2_movesOutputOutOfTheRow() async throws {
            let database = try await PostgresTestDatabase.make()
            try await database.withStore { store in _ = try await store.allStates() }
            _ = try await database.execute(
                "DELETE FROM tock_migration WHERE name LIKE 'v2:%' OR name LIKE 'notify-1:%'")
            _ = try await database.execute("DROP TABLE execution_output")
            _ = try await database.execute("DROP TABLE notification_delivery")
            _ = try await database.execute(
                """
                INSERT INTO execution (id, job_id, state, trigger, scheduled_at, host, attempt, stdout, stderr,
                    stdout_bytes, stderr_bytes)
                VALUES ('old', 'j', 'succeeded', 'schedule', now(), 'h', 1, 'hello'::bytea, ''::bytea, 5, 0)
                """)
            try await database.withStore(outputPieceSize: 2) { store async throws in
                #expect(try await store.execution(id: "old")?.stdout == Array("hello".utf8))
                #expect(
                    try await store.output(ofExecution: "old", stream: .stdout, from: 1, limit: 3) == Array("ell".utf8))
                #expect(try await store.output(ofExecution: "old", stream: .stderr, from: 0, limit: 3) == [])
            }
            let inRow = try await database.execute("SELECT length(stdout)::int FROM execution WHERE id = 'old'")
            #expect(try inRow.first?.decode(Int.self) == 0)
        }

        /// Two nodes' delivery workers never claim the same delivery; a node releases at start only what it claimed
        /// itself and what dead or unknown nodes claimed, never a live node's.
        @Test func twoNodes_claimDisjointDeliveries_andReleaseOnlyTheirOwn() async throws {
            let database = try await PostgresTestDatabase.make()
            let job = try NotificationOutboxContract.job()
            let planner = NotificationOutboxContract.planner
            let at = Date(timeIntervalSince1970: 1_796_000_000)
            try await database.withStore(node: "a") { a in
                try await database.withStore(node: "b") { b in
                    // b is a live node (a fresh lease); a never registered.
                    let coordinator = PostgresSlotCoordinator(store: b, logger: PostgresTestDatabase.logger)
                    _ = try await coordinator.claim([], skipWhileRunningElsewhere: [])
                    _ = try await coordinator.recoverInterruptedExecutions(at: at, planning: nil)
                    var all: [NotificationDelivery] = []
                    for n in 0..<20 {
                        let record = NotificationOutboxContract.record(
                            job, state: .failed, at: at.addingTimeInterval(Double(n)))
                        let deliveries = await planner.deliveries(for: record, job: job, store: a, at: at)
                        try await a.save([record], enqueuing: deliveries)
                        all += deliveries
                    }
                    async let first = a.claimDueDeliveries(at: at.addingTimeInterval(60), limit: 25)
                    async let second = b.claimDueDeliveries(at: at.addingTimeInterval(60), limit: 25)
                    let (claimedA, claimedB) = try await (first, second)
                    #expect(claimedA.count + claimedB.count == all.count)
                    #expect(Set(claimedA.map(\.id)).isDisjoint(with: claimedB.map(\.id)))
                    // a restarts: only its own go back (b is alive).
                    #expect(try await a.releaseClaimedDeliveries() == claimedA.count)
                    let still = try await a.deliveries(matching: NotificationQuery(state: .delivering, limit: 100))
                    #expect(Set(still.map(\.id)) == Set(claimedB.map(\.id)))
                }
            }
        }
    }
#endif
