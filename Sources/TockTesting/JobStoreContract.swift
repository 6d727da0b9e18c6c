import Foundation
import Testing
import TockCore
import TockJSON

/// The behaviour every ``JobStore`` must have. Each store's test target runs every check against a fresh store.
public enum JobStoreContract {
    public static let checks: [(String, @Sendable (any JobStore) async throws -> Void)] = [
        ("savesAndReadsExecutionsWithOutput", savesAndReadsExecutionsWithOutput),
        ("listsNewestFirstPerJob", listsNewestFirstPerJob),
        ("recoversRunningAsInterrupted", recoversRunningAsInterrupted),
        ("keepsJobStateMonotonic", keepsJobStateMonotonic),
        ("appendsAuditLogNewestFirst", appendsAuditLogNewestFirst),
        ("prunesByCountAndAgeButNeverRunning", prunesByCountAndAgeButNeverRunning),
        ("pagesExecutionsWithFiltersAndCursor", pagesExecutionsWithFiltersAndCursor),
        ("readsRecentExecutionsPerJob", readsRecentExecutionsPerJob),
        ("findsJobsByTheirNewestExecution", findsJobsByTheirNewestExecution),
        ("filtersAuditLogByTimeAndJob", filtersAuditLogByTimeAndJob),
        ("storesAPIJobs", storesAPIJobs),
        ("advancesLastScheduledWithTheRowOfAnInstant", advancesLastScheduledWithTheRowOfAnInstant),
        ("consumesDependenciesOnceWithTheRun", consumesDependenciesOnceWithTheRun),
        ("recordsAManualRunOncePerIdempotencyKey", recordsAManualRunOncePerIdempotencyKey),
        ("readsOutputAcrossPieceBoundaries", { try await readsOutputAcrossPieceBoundaries($0, pieceSize: 1 << 20) }),
        ("keepsDefinitionDigestsAndCountsByNode", keepsDefinitionDigestsAndCountsByNode),
    ]

    static let t0 = Date(timeIntervalSince1970: 1_767_225_600)

    /// A row the corrupt-row check has saved through the store and wants damaged.
    public enum RowToCorrupt: Sendable, Hashable {
        /// The execution with this id, so that its trigger is no longer one the store knows.
        case execution(id: String)
        /// Every audit entry of this job, so that its event is no longer one the store knows.
        case auditEntries(jobID: String)
        /// The API job with this id, so that its stored definition is no longer a JSON object.
        case apiJob(id: String)
    }

    /// Damages a row behind the store's back (raw SQL for a database).
    public typealias Corrupt = @Sendable (RowToCorrupt) async throws -> Void

    /// A row the store cannot read is left out of every result, with the others still read, and fails no read (the
    /// policy on ``JobStore``). Only a store whose rows can be damaged behind its back has a `corrupt` to run it with:
    /// the values of InMemoryJobStore are typed.
    public static func skipsCorruptRows(_ store: any JobStore, corrupt: Corrupt) async throws {
        let oldest = execution("a", 1)
        let broken = execution("a", 2, .failed)
        let newest = execution("a", 3)
        let brokenRunning = execution("a", 4, .running)
        try await store.save([oldest, broken, newest, brokenRunning])
        try await corrupt(.execution(id: broken.id))
        try await corrupt(.execution(id: brokenRunning.id))

        #expect(try await store.execution(id: broken.id) == nil)
        #expect(try await store.execution(id: newest.id) == newest)
        #expect(try await store.executions(jobID: "a", limit: 10).map(\.id) == [newest.id, oldest.id])
        // A page reads on past the rows it skips: full pages, then a short one at the end.
        for limit in 1...3 {
            var pages: [[String]] = []
            var query = ExecutionQuery(jobID: "a", limit: limit)
            while true {
                let page = try await store.executions(matching: query)
                pages.append(page.map(\.id))
                guard page.count == limit, let last = page.last else { break }
                query.after = ExecutionCursor(after: last)
            }
            #expect(pages.flatMap { $0 } == [newest.id, oldest.id], "limit \(limit)")
            #expect(pages.dropLast().allSatisfy { $0.count == limit }, "limit \(limit)")
        }
        #expect(try await store.recentExecutions(jobIDs: ["a"], perJob: 2)["a"]?.map(\.id) == [newest.id, oldest.id])
        #expect(try await store.recoverInterruptedExecutions(at: t0.addingTimeInterval(600)).isEmpty)

        try await store.append(AuditEntry(jobID: "a", jobName: "A", event: .added, user: "u", createdAt: t0))
        try await store.append(
            AuditEntry(jobID: "bad", jobName: "B", event: .paused, user: "u", createdAt: t0.addingTimeInterval(1)))
        try await store.append(
            AuditEntry(jobID: "a", jobName: "A", event: .paused, user: "u", createdAt: t0.addingTimeInterval(2)))
        try await corrupt(.auditEntries(jobID: "bad"))
        #expect(try await store.auditLog(limit: 10).map(\.event) == [.paused, .added])
        #expect(try await store.auditLog(matching: AuditQuery(jobID: "bad")).isEmpty)

        let good = APIJobDefinition(id: "good", body: .object([("schedule", "@daily"), ("command", "true")]))
        try await store.saveAPIJob(good, at: t0)
        try await store.saveAPIJob(APIJobDefinition(id: "bad", body: .object([("schedule", "@hourly")])), at: t0)
        try await corrupt(.apiJob(id: "bad"))
        #expect(try await store.apiJobs() == [good])
    }

    static func execution(_ job: String, _ minutes: Int, _ state: ExecutionState = .succeeded) -> ExecutionRecord {
        ExecutionRecord(
            jobID: job, state: state, trigger: .schedule, scheduledAt: t0.addingTimeInterval(Double(minutes) * 60),
            host: "test-host")
    }

    /// The row of a scheduled instant and the job's last scheduled instant are written together (crash
    /// consistency): manual runs, retries and outcome updates do not move it, and it never moves back.
    static func advancesLastScheduledWithTheRowOfAnInstant(_ store: any JobStore) async throws {
        var started = execution("burst", 5, .running)
        try await store.save([execution("other", 1, .scheduled), started])
        #expect(try await store.state(ofJob: "burst").lastScheduledAt == t0.addingTimeInterval(300))
        #expect(try await store.state(ofJob: "other").lastScheduledAt == t0.addingTimeInterval(60))
        try await store.save(execution("burst", 3, .skipped))
        var manual = execution("burst", 9, .running)
        manual = ExecutionRecord(
            jobID: "burst", state: .running, trigger: .manual, scheduledAt: manual.scheduledAt, host: "test-host")
        try await store.save(manual)
        #expect(try await store.state(ofJob: "burst").lastScheduledAt == t0.addingTimeInterval(300))
        try await store.save(execution("burst", 7, .missed))
        #expect(try await store.state(ofJob: "burst").lastScheduledAt == t0.addingTimeInterval(420))
        started.state = .succeeded
        try await store.save(started)
        #expect(try await store.state(ofJob: "burst").lastScheduledAt == t0.addingTimeInterval(420))
        #expect(try await store.state(ofJob: "burst").paused == false)
    }

    static func savesAndReadsExecutionsWithOutput(_ store: any JobStore) async throws {
        var e = execution("a", 1, .failed)
        e.startedAt = t0.addingTimeInterval(60.25)
        e.endedAt = t0.addingTimeInterval(61.5)
        e.pid = 123
        e.attempt = 2
        e.exitCode = 3
        e.message = "it broke"
        e.stdout = Array("out\u{0}bytes\u{FF}".utf8) + [0xFF, 0x00]
        e.stderr = Array("err".utf8)
        e.stdoutBytes = 5_000_000
        e.stderrBytes = 3
        try await store.save(e)
        let read = try #require(try await store.execution(id: e.id))
        #expect(read == e)
        e.state = .succeeded
        e.exitCode = 0
        try await store.save(e)
        #expect(try await store.execution(id: e.id)?.state == .succeeded)
        #expect(try await store.execution(id: "missing") == nil)
        // Without output: the same record, its output left out but counted.
        let light = try #require(try await store.execution(id: e.id, includeOutput: false))
        #expect(light.stdout.isEmpty && light.stderr.isEmpty && light.stdoutBytes == e.stdoutBytes)
        #expect(light.state == .succeeded && light.exitCode == 0)
    }

    static func listsNewestFirstPerJob(_ store: any JobStore) async throws {
        for minute in [3, 1, 2] { try await store.save(execution("a", minute)) }
        try await store.save(execution("b", 5))
        let all = try await store.executions(jobID: nil, limit: 10)
        #expect(all.map(\.jobID) == ["b", "a", "a", "a"])
        let a = try await store.executions(jobID: "a", limit: 2)
        #expect(a.map(\.scheduledAt) == [t0.addingTimeInterval(180), t0.addingTimeInterval(120)])
    }

    static func recoversRunningAsInterrupted(_ store: any JobStore) async throws {
        let running = execution("a", 1, .running)
        let scheduled = execution("a", 2, .scheduled)
        let done = execution("a", 0, .succeeded)
        for e in [running, scheduled, done] { try await store.save(e) }
        let recovered = try await store.recoverInterruptedExecutions(at: t0.addingTimeInterval(600))
        #expect(Set(recovered.map(\.id)) == [running.id, scheduled.id])
        #expect(try await store.execution(id: running.id)?.state == .interrupted)
        #expect(try await store.execution(id: running.id)?.endedAt == t0.addingTimeInterval(600))
        #expect(try await store.execution(id: done.id)?.state == .succeeded)
        #expect(try await store.recoverInterruptedExecutions(at: t0).isEmpty)
    }

    static func keepsJobStateMonotonic(_ store: any JobStore) async throws {
        #expect(try await store.state(ofJob: "a") == JobRuntimeState())
        try await store.setPaused(true, jobID: "a")
        try await store.setLastScheduled(t0.addingTimeInterval(120), jobID: "a")
        try await store.setLastScheduled(t0.addingTimeInterval(60), jobID: "a")  // never moves backwards
        #expect(
            try await store.state(ofJob: "a")
                == JobRuntimeState(paused: true, lastScheduledAt: t0.addingTimeInterval(120)))
        try await store.setPaused(false, jobID: "a")
        try await store.setLastScheduled(t0, jobID: "b")
        let all = try await store.allStates()
        #expect(all["a"] == JobRuntimeState(paused: false, lastScheduledAt: t0.addingTimeInterval(120)))
        #expect(all["b"]?.lastScheduledAt == t0)
    }

    static func appendsAuditLogNewestFirst(_ store: any JobStore) async throws {
        try await store.append(AuditEntry(jobID: "a", jobName: "A", event: .added, user: "ann", createdAt: t0))
        try await store.append(
            AuditEntry(
                jobID: "a", jobName: "A", event: .modified, user: "bob", createdAt: t0.addingTimeInterval(1),
                description: "schedule"))
        let log = try await store.auditLog(limit: 10)
        #expect(log.map(\.event) == [.modified, .added])
        #expect(log.first?.user == "bob" && log.first?.description == "schedule" && log.first?.id != nil)
    }

    static func prunesByCountAndAgeButNeverRunning(_ store: any JobStore) async throws {
        var saved: [ExecutionRecord] = []
        for minute in 0..<5 {
            var e = execution("a", minute)
            e.stdout = Array("a at \(minute)".utf8)
            e.stderr = [UInt8(minute)]
            saved.append(e)
        }
        var running = execution("a", -100, .running)
        running.stdout = Array("still going".utf8)
        var old = execution("b", -50)
        old.stderr = Array("b's".utf8)
        try await store.save(saved + [running, old])
        let deleted = try await store.prune(keepPerJob: 3, olderThan: t0.addingTimeInterval(-10 * 60))
        #expect(deleted == 3)  // a's two oldest finished ones, and b's old one
        let left = try await store.executions(jobID: nil, limit: 10)
        #expect(left.filter { $0.jobID == "a" }.count == 4)  // three kept and the running one
        #expect(left.contains { $0.state == .running })
        #expect(!left.contains { $0.jobID == "b" })
        // Their output goes with them; the others' stays.
        for gone in [saved[0], saved[1], old] {
            #expect(try await store.output(ofExecution: gone.id, stream: .stdout, from: 0, limit: 100) == nil)
            #expect(try await store.output(ofExecution: gone.id, stream: .stderr, from: 0, limit: 100) == nil)
        }
        for kept in saved[2...] + [running] {
            #expect(try await store.execution(id: kept.id) == kept)
        }
    }

    /// Output is read back byte for byte however it is cut: empty, one byte, one short of a piece, exactly a piece,
    /// one over, several; stdout and stderr apart (different bytes, different lengths); any range of it; a new save
    /// replacing it whole (shorter, or none); the dropped-bytes marker of a capture across a piece boundary.
    /// `pieceSize` is the store's piece size, if it has one (any value checks the same rules).
    public static func readsOutputAcrossPieceBoundaries(_ store: any JobStore, pieceSize p: Int) async throws {
        func bytes(_ count: Int, _ seed: Int) -> [UInt8] {
            (0..<count).map { UInt8(truncatingIfNeeded: $0 * 7 + seed) }
        }
        let lengths = [0, 1, p - 1, p, p + 1, 2 * p, 2 * p + 1, 3 * p - 1].filter { $0 >= 0 }
        var records: [ExecutionRecord] = []
        for (n, length) in lengths.enumerated() {
            var e = execution("out", n)
            e.stdout = bytes(length, 1)
            e.stderr = bytes(lengths[lengths.count - 1 - n], 3)
            e.stdoutBytes = e.stdout.count
            e.stderrBytes = e.stderr.count
            records.append(e)
        }
        try await store.save(records)
        for e in records {
            #expect(try await store.execution(id: e.id) == e, "whole, \(e.stdout.count)/\(e.stderr.count) bytes")
            for (stream, expected) in [(OutputChunk.Stream.stdout, e.stdout), (.stderr, e.stderr)] {
                let count = expected.count
                for offset in Set([0, 1, p - 1, p, p + 1, 2 * p - 1, count - 1, count, count + 5]) where offset >= 0 {
                    for limit in [1, p, p + 1, Int.max] {
                        let start = min(offset, count)
                        let want = Array(expected[start..<(start + min(limit, count - start))])
                        let got = try await store.output(ofExecution: e.id, stream: stream, from: offset, limit: limit)
                        #expect(got == want, "\(stream) of \(count) bytes from \(offset), \(limit)")
                    }
                }
                #expect(try await store.output(ofExecution: e.id, stream: stream, from: 0, limit: 0) == [])
            }
        }
        #expect(try await store.output(ofExecution: "missing", stream: .stdout, from: 0, limit: 10) == nil)

        // A new save replaces the output whole: nothing of the longer one is left past the shorter one's end.
        var replaced = try #require(records.last)
        replaced.stdout = bytes(p + 1, 9)
        replaced.stderr = []
        try await store.save(replaced)
        #expect(try await store.execution(id: replaced.id) == replaced)
        #expect(try await store.output(ofExecution: replaced.id, stream: .stdout, from: p + 1, limit: 3 * p) == [])
        #expect(try await store.output(ofExecution: replaced.id, stream: .stderr, from: 0, limit: 3 * p) == [])
        replaced.stdout = []
        try await store.save(replaced)
        #expect(try await store.output(ofExecution: replaced.id, stream: .stdout, from: 0, limit: 3 * p) == [])

        // A capture's kept bytes with its marker line across the first boundary (the head is the first half).
        var capture = OutputCapture(limit: 2 * p)
        capture.append(bytes(5 * p + 3, 5))
        capture.consolidate()
        var truncated = execution("out", 100)
        truncated.stdout = capture.bytes
        truncated.stdoutBytes = capture.totalBytes
        try await store.save(truncated)
        let marker = Array("[tock: \(capture.droppedBytes) bytes dropped]".utf8)
        let around = try #require(
            try await store.output(ofExecution: truncated.id, stream: .stdout, from: p, limit: marker.count + 2))
        #expect(around == Array("\n".utf8) + marker + Array("\n".utf8))
        #expect(try await store.execution(id: truncated.id)?.stdout == capture.bytes)
    }

    static func pagesExecutionsWithFiltersAndCursor(_ store: any JobStore) async throws {
        var all: [ExecutionRecord] = []
        for n in 0..<30 {
            var e = execution(n % 3 == 0 ? "a" : "b", n / 2, n % 4 == 0 ? .failed : .succeeded)
            e.stdout = Array("out \(n)".utf8)
            all.append(e)
        }
        try await store.save(all)
        let newest = all.sorted { ($0.scheduledAt, $0.id) > ($1.scheduledAt, $1.id) }
        for query in [
            ExecutionQuery(limit: 7), ExecutionQuery(jobID: "a", limit: 4), ExecutionQuery(state: .failed, limit: 3),
            ExecutionQuery(jobID: "b", state: .succeeded, limit: 5),
            ExecutionQuery(from: t0.addingTimeInterval(3 * 60), to: t0.addingTimeInterval(9 * 60), limit: 4),
        ] {
            var pages: [String] = []
            var page = query
            while true {
                let found = try await store.executions(matching: page)
                #expect(found.count <= query.limit)
                #expect(found.allSatisfy { $0.stdout.isEmpty }, "no output unless asked for")
                pages += found.map(\.id)
                guard found.count == query.limit, let last = found.last else { break }
                page.after = ExecutionCursor(after: last)
            }
            #expect(pages == newest.filter(query.matches).map(\.id), "\(query)")
        }
        let withOutput = try await store.executions(matching: ExecutionQuery(limit: 1, includeOutput: true))
        #expect(withOutput.first?.stdout == newest.first?.stdout)
        #expect(ExecutionCursor(ExecutionCursor(after: newest[3]).description) == ExecutionCursor(after: newest[3]))
    }

    static func readsRecentExecutionsPerJob(_ store: any JobStore) async throws {
        try await store.save((0..<10).map { execution($0 % 2 == 0 ? "a" : "b", $0) })
        let recent = try await store.recentExecutions(jobIDs: ["a", "b", "none"], perJob: 3)
        #expect(recent["a"]?.map(\.scheduledAt) == [8, 6, 4].map { t0.addingTimeInterval(Double($0) * 60) })
        #expect(recent["b"]?.count == 3 && recent["none"] == nil)
    }

    /// A job counts by its newest execution (scheduled instant, then id), whatever order they were saved in, through
    /// updates of a row, the recovery of interrupted runs and pruning (which may delete a job's newest).
    static func findsJobsByTheirNewestExecution(_ store: any JobStore) async throws {
        let failing: Set<ExecutionState> = [.failed, .timeout, .interrupted]
        #expect(try await store.jobsWithNewestExecution(in: failing).isEmpty)
        // Saved newest first: an older one saved later does not hide it.
        try await store.save([execution("a", 5, .failed), execution("b", 5), execution("c", 5, .timeout)])
        try await store.save([execution("a", 1), execution("b", 1, .failed), execution("c", 1)])
        #expect(try await store.jobsWithNewestExecution(in: failing) == ["a", "c"])
        #expect(try await store.jobsWithNewestExecution(in: [.succeeded]) == ["b"])
        #expect(try await store.jobsWithNewestExecution(in: []).isEmpty)
        // A newer run of b that is running, then fails.
        var run = execution("b", 9, .running)
        try await store.save(run)
        #expect(try await store.jobsWithNewestExecution(in: [.running]) == ["b"])
        run.state = .failed
        try await store.save(run)
        #expect(try await store.jobsWithNewestExecution(in: failing) == ["a", "b", "c"])
        // The same instant: the greater id is the newer (as pages order them).
        let twins = [execution("d", 3), execution("d", 3, .failed)].sorted { $0.id < $1.id }
        try await store.save([twins[1], twins[0]])
        #expect(try await store.jobsWithNewestExecution(in: [twins[1].state]).contains("d"))
        #expect(!(try await store.jobsWithNewestExecution(in: [twins[0].state]).contains("d")))
        // Recovery marks a job whose newest was running as interrupted.
        try await store.save(execution("e", 20, .running))
        _ = try await store.recoverInterruptedExecutions(at: t0.addingTimeInterval(3600))
        #expect(try await store.jobsWithNewestExecution(in: [.interrupted]) == ["e"])
        // Pruning by age takes a's and c's executions (the newest too): they count no more; b's newest stays.
        _ = try await store.prune(keepPerJob: 1, olderThan: t0.addingTimeInterval(6 * 60))
        #expect(try await store.jobsWithNewestExecution(in: failing) == ["b", "e"])
    }

    static func filtersAuditLogByTimeAndJob(_ store: any JobStore) async throws {
        for n in 0..<6 {
            try await store.append(
                AuditEntry(
                    jobID: n % 2 == 0 ? "a" : "b", jobName: "x", event: .paused, user: "u",
                    createdAt: t0.addingTimeInterval(Double(n) * 60)))
        }
        let a = try await store.auditLog(matching: AuditQuery(jobID: "a"))
        #expect(a.map(\.createdAt) == [4, 2, 0].map { t0.addingTimeInterval(Double($0) * 60) })
        let window = try await store.auditLog(
            matching: AuditQuery(from: t0.addingTimeInterval(60), to: t0.addingTimeInterval(180), limit: 2))
        #expect(window.map(\.createdAt) == [3, 2].map { t0.addingTimeInterval(Double($0) * 60) })
    }

    static func storesAPIJobs(_ store: any JobStore) async throws {
        let first = APIJobDefinition(id: "j1", body: .object([("schedule", "@daily"), ("command", "echo 'hi'; <b>")]))
        try await store.saveAPIJob(first, at: t0)
        try await store.saveAPIJob(APIJobDefinition(id: "j2", body: .object([("schedule", "@hourly")])), at: t0)
        let changed = APIJobDefinition(id: "j1", body: .object([("schedule", "@weekly"), ("command", "x")]))
        try await store.saveAPIJob(changed, at: t0)
        #expect(
            try await store.apiJobs() == [
                changed, APIJobDefinition(id: "j2", body: .object([("schedule", "@hourly")])),
            ])
        #expect(try await store.deleteAPIJob(id: "j2"))
        #expect(try await store.deleteAPIJob(id: "j2") == false)
        #expect(try await store.apiJobs().map(\.id) == ["j1"])
    }
}
