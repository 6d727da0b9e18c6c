import Foundation
import Testing
import TockCore

extension JobStoreContract {
    /// The digest of the definition a run used is kept with its row (lists and single reads, with or without
    /// output), and a store that counts executions per node counts runs started since a time and runs running now.
    static func keepsDefinitionDigestsAndCountsByNode(_ store: any JobStore) async throws {
        let digest = String(repeating: "ab", count: 32)
        var ran = execution("digest", 10)
        ran.host = "node-a"
        ran.startedAt = ran.scheduledAt
        ran.endedAt = ran.scheduledAt.addingTimeInterval(1)
        ran.definitionDigest = digest
        var running = execution("digest", 20, .running)
        running.host = "node-b"
        running.startedAt = running.scheduledAt
        var skipped = execution("digest", 30, .skipped)
        skipped.host = "node-a"
        var old = execution("digest", -120)
        old.host = "node-a"
        old.startedAt = old.scheduledAt
        try await store.save([ran, running, skipped, old])

        #expect(try await store.execution(id: ran.id)?.definitionDigest == digest)
        #expect(try await store.execution(id: ran.id, includeOutput: false)?.definitionDigest == digest)
        #expect(try await store.execution(id: running.id)?.definitionDigest == nil)
        let listed = try await store.executions(matching: ExecutionQuery(jobID: "digest"))
        #expect(listed.first { $0.id == ran.id }?.definitionDigest == digest)
        // The digest is set when the run starts: a later save of the row writes it.
        running.definitionDigest = String(repeating: "cd", count: 32)
        try await store.save(running)
        #expect(try await store.execution(id: running.id)?.definitionDigest == running.definitionDigest)

        guard let counting = store as? any ExecutionCounting else { return }
        let counts = try await counting.executionCounts(since: t0)
        #expect(counts["node-a"] == ExecutionCounts(startedSince: 1, running: 0))
        #expect(counts["node-b"] == ExecutionCounts(startedSince: 1, running: 1))
    }
}
