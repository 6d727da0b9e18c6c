import Foundation
import Testing
import TockCore

extension JobStoreContract {
    /// `saveManualRun`: one execution per job and idempotency key within the window, whoever asks and however often
    /// (racing included); the key outlives later saves of its run, is per job, and is free again past the window or
    /// once its run is pruned.
    static func recordsAManualRunOncePerIdempotencyKey(_ store: any JobStore) async throws {
        let day: TimeInterval = 86_400
        let since = t0.addingTimeInterval(-day)
        func manual(_ job: String, _ seconds: TimeInterval) -> ExecutionRecord {
            ExecutionRecord(
                jobID: job, state: .scheduled, trigger: .manual, scheduledAt: t0.addingTimeInterval(seconds),
                host: "test-host")
        }
        let first = manual("a", 0)
        #expect(try await store.manualRun(jobID: "a", idempotencyKey: "k1", since: since) == nil)
        #expect(try await store.saveManualRun(first, idempotencyKey: "k1", since: since) == nil)
        #expect(try await store.execution(id: first.id, includeOutput: false) == first)
        #expect(try await store.manualRun(jobID: "a", idempotencyKey: "k1", since: since) == first.id)

        // A retry with the same key: nothing written, the first run's id.
        let retry = manual("a", 5)
        #expect(try await store.saveManualRun(retry, idempotencyKey: "k1", since: since) == first.id)
        #expect(try await store.execution(id: retry.id, includeOutput: false) == nil)

        // The run's later records (its outcome) keep the key.
        var ended = first
        ended.state = .succeeded
        ended.startedAt = t0.addingTimeInterval(1)
        ended.endedAt = t0.addingTimeInterval(2)
        ended.exitCode = 0
        try await store.save(ended)
        #expect(try await store.manualRun(jobID: "a", idempotencyKey: "k1", since: since) == first.id)
        #expect(try await store.saveManualRun(manual("a", 6), idempotencyKey: "k1", since: since) == first.id)

        // Another key of the job, or the same key of another job: runs of their own.
        let other = manual("a", 7)
        #expect(try await store.saveManualRun(other, idempotencyKey: "k2", since: since) == nil)
        let otherJob = manual("b", 8)
        #expect(try await store.saveManualRun(otherJob, idempotencyKey: "k1", since: since) == nil)
        #expect(Set(try await store.executions(jobID: "a", limit: 10).map(\.id)) == [first.id, other.id])

        // Past the window the key is free again, and names the new run.
        let later = manual("a", 2 * day)
        let nextSince = t0.addingTimeInterval(day)
        #expect(try await store.manualRun(jobID: "a", idempotencyKey: "k1", since: nextSince) == nil)
        #expect(try await store.saveManualRun(later, idempotencyKey: "k1", since: nextSince) == nil)
        #expect(try await store.manualRun(jobID: "a", idempotencyKey: "k1", since: nextSince) == later.id)
        #expect(try await store.manualRun(jobID: "a", idempotencyKey: "k1", since: since) == later.id)

        // A key whose run was pruned is free again.
        var laterEnded = later
        laterEnded.state = .failed
        laterEnded.endedAt = later.scheduledAt.addingTimeInterval(1)
        try await store.save(laterEnded)
        _ = try await store.prune(keepPerJob: 0, olderThan: t0.addingTimeInterval(3 * day))
        #expect(try await store.manualRun(jobID: "a", idempotencyKey: "k1", since: .distantPast) == nil)
        let afterPrune = manual("a", 3 * day)
        #expect(try await store.saveManualRun(afterPrune, idempotencyKey: "k1", since: .distantPast) == nil)
        #expect(try await store.manualRun(jobID: "a", idempotencyKey: "k1", since: .distantPast) == afterPrune.id)

        // Eight requests racing with one key: one run, and every other answer names it.
        let racers = (0..<8).map { manual("race", Double($0)) }
        let answers = try await withThrowingTaskGroup(of: (String, String?).self) { group in
            for racer in racers {
                group.addTask { (racer.id, try await store.saveManualRun(racer, idempotencyKey: "same", since: since)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let winners = answers.filter { $0.1 == nil }.map(\.0)
        #expect(winners.count == 1)
        #expect(answers.allSatisfy { $0.1 == nil || $0.1 == winners.first })
        #expect(try await store.executions(jobID: "race", limit: 10).map(\.id) == winners)
    }
}
