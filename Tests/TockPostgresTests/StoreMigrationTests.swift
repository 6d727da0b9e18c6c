#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import Testing
    import TockApp
    import TockCore
    import TockJSON
    import TockPostgres
    import TockSQLite
    import TockTesting

    /// `tock migrate-store`: an SQLite database made through the real store, copied into a fresh PostgreSQL schema in
    /// small batches, read back through PostgresJobStore and compared; a second copy is refused, then adds nothing.
    @Suite(.timeLimit(.minutes(3)))
    struct StoreMigrationTests {
        static let t0 = Date(timeIntervalSince1970: 1_767_225_600)
        static let logger = PostgresTestDatabase.logger

        /// Executions of three jobs (with output crossing pieces, digests, every kind of state), job state, the audit
        /// log, API jobs, a user and tokens, and notification deliveries, through the store's own API.
        static func makeSQLite(at path: String) async throws -> SQLiteJobStore {
            let store = try SQLiteJobStore(path: path, outputPieceSize: 1000)
            var executions: [ExecutionRecord] = []
            for n in 0..<130 {
                var e = ExecutionRecord(
                    jobID: ["a", "b", "c"][n % 3], state: n % 7 == 0 ? .failed : .succeeded, trigger: .schedule,
                    scheduledAt: t0.addingTimeInterval(Double(n) * 60), host: "old-host")
                e.startedAt = e.scheduledAt.addingTimeInterval(0.25)
                e.endedAt = e.scheduledAt.addingTimeInterval(1.5)
                e.pid = Int32(1000 + n)
                e.exitCode = e.state == .failed ? 2 : 0
                e.stdout = Array("run \(n)\n".utf8)
                e.stdoutBytes = e.stdout.count
                if n % 2 == 0 { e.definitionDigest = String(repeating: "0123456789abcdef", count: 4) }
                executions.append(e)
            }
            var big = ExecutionRecord(
                jobID: "a", state: .succeeded, trigger: .manual, scheduledAt: t0.addingTimeInterval(99_999),
                host: "old-host")
            big.stdout = (0..<5500).map { UInt8(truncatingIfNeeded: $0 * 7) }
            big.stderr = Array("warning\u{0}\u{FF}".utf8)
            big.stdoutBytes = 9000
            big.stderrBytes = big.stderr.count
            executions.append(big)
            try await store.save(executions)
            try await store.setPaused(true, jobID: "b")
            for n in 0..<7 {
                try await store.append(
                    AuditEntry(
                        jobID: "a", jobName: "Job A", event: n == 0 ? .added : .modified, user: "alice",
                        createdAt: t0.addingTimeInterval(Double(n)), description: "change \(n)",
                        address: n % 2 == 0 ? "10.0.0.\(n)" : nil))
            }
            try await store.saveAPIJob(
                APIJobDefinition(
                    id: "api-one", body: .object([("schedule", "@daily"), ("command", "echo 'é ✓'")])),
                at: t0)
            try await store.addUser(
                TockUser(
                    name: "alice", role: .admin, tags: ["ops"], passwordHash: "$2b$12$abcdefghijklmnopqrstuv",
                    createdAt: t0))
            // Without tags (NULL): a user PostgreSQL once could not read back.
            try await store.addUser(
                TockUser(name: "bob", role: .viewer, passwordHash: "$2b$12$bcdefghijklmnopqrstuvw", createdAt: t0))
            try await store.addToken(
                APIToken(
                    id: "tock_abcdefg", name: "ci", hash: String(repeating: "f", count: 64), role: .operator,
                    createdBy: "alice", createdAt: t0, expiresAt: t0.addingTimeInterval(86_400)))
            try await store.enqueue([
                NotificationDelivery(
                    eventID: "ev-1", eventType: "job.failed", jobID: "a", executionID: executions[0].id,
                    channel: .webhook, target: "https://example.com/hook", options: ["x": "y"],
                    payload: Array("{\"a\":1}".utf8), createdAt: t0)
            ])
            return store
        }

        @Test func aCopy_readsBackTheSame_throughThePostgresStore_andASecondIsRefusedThenAddsNothing() async throws {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("tock-migrate-\(UUID()).sqlite")
                .path
            defer {
                for suffix in ["", "-wal", "-shm", ".lock"] {
                    try? FileManager.default.removeItem(atPath: path + suffix)
                }
            }
            let sqlite = try await Self.makeSQLite(at: path)
            let expectedExecutions = try await sqlite.executions(matching: ExecutionQuery(limit: 1000))
            let expectedAudit = try await sqlite.auditLog(matching: AuditQuery(limit: 1000))
            let expectedStates = try await sqlite.allStates()
            let expectedAPIJobs = try await sqlite.apiJobs()
            let expectedUsers = try await sqlite.users()
            let expectedTokens = try await sqlite.tokens()
            let expectedDeliveries = try await sqlite.deliveries(matching: NotificationQuery(limit: 100))
            let bigID = try #require(expectedExecutions.first { $0.trigger == .manual }?.id)
            let expectedBig = try #require(try await sqlite.execution(id: bigID))

            let database = try await PostgresTestDatabase.make()
            try await database.withStore(node: "migrate-store") { pg in
                let migration = StoreMigration(
                    source: try SQLiteExport(path: path), target: pg, batchSize: 50, logger: Self.logger)
                let reports = try await migration.run(force: false)
                let byTable = Dictionary(uniqueKeysWithValues: reports.map { ($0.table, $0) })
                let executions = try #require(byTable["execution"])
                #expect(executions.source == 131 && executions.written == 131 && executions.target == 131)
                #expect(byTable["audit_log"]?.target == 7 && byTable["api_token"]?.target == 1)
                #expect(try #require(byTable["execution_output"]).target > 131, "the big output is in pieces")

                #expect(try await pg.executions(matching: ExecutionQuery(limit: 1000)) == expectedExecutions)
                #expect(try await pg.execution(id: bigID) == expectedBig)
                #expect(try await pg.auditLog(matching: AuditQuery(limit: 1000)) == expectedAudit)
                #expect(try await pg.allStates() == expectedStates)
                #expect(try await pg.apiJobs() == expectedAPIJobs)
                #expect(try await pg.users() == expectedUsers && expectedUsers.count == 2)
                #expect(try await pg.tokens() == expectedTokens)
                #expect(try await pg.deliveries(matching: NotificationQuery(limit: 100)) == expectedDeliveries)
                // The audit log's ids were kept, and new entries come after them.
                try await pg.append(
                    AuditEntry(
                        jobID: "a", jobName: "A", event: .paused, user: "bob",
                        createdAt: Self.t0.addingTimeInterval(3600)))
                let newest = try await pg.auditLog(matching: AuditQuery(limit: 1))
                #expect((newest.first?.id ?? 0) > (expectedAudit.compactMap(\.id).max() ?? .max))

                // Again: refused (the target holds history), naming --force; with it, nothing is added.
                await #expect(throws: StoreMigration.Failure.self) { try await migration.run(force: false) }
                do {
                    _ = try await migration.run(force: false)
                } catch {
                    #expect("\(error)".contains("--force"))
                }
                let again = try await migration.run(force: true)
                #expect(again.allSatisfy { $0.written == 0 })
                #expect(try await pg.executions(matching: ExecutionQuery(limit: 1000)).count == 131)
            }
        }

        @Test func aMissingSource_isAnErrorNamingIt() async throws {
            let path = "/nonexistent/tock-\(UUID()).sqlite"
            #expect(throws: (any Error).self) { try SQLiteExport(path: path) }
            do { _ = try SQLiteExport(path: path) } catch { #expect("\(error)".contains(path)) }
        }
    }
#endif
