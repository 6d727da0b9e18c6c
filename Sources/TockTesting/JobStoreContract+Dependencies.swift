import Foundation
import Testing
import TockCore

extension JobStoreContract {
    /// `consumeDependencies`: the run and the cursors in one transaction; compare-and-set, so that a success is
    /// consumed once (a second consumer of the same success writes nothing, not even its run).
    static func consumesDependenciesOnceWithTheRun(_ store: any JobStore) async throws {
        #expect(try await store.dependencyCursors().isEmpty)
        func cursor(_ upstream: String, _ seconds: Double, _ id: String) -> DependencyCursor {
            DependencyCursor(
                jobID: "report", upstreamID: upstream, endedAt: t0.addingTimeInterval(seconds), executionID: id)
        }
        let run1 = ExecutionRecord(
            jobID: "report", state: .scheduled, trigger: .dependency, scheduledAt: t0, host: "test-host")
        let first = [cursor("extract", 10, "e1"), cursor("load", 20, "l1")]
        #expect(try await store.consumeDependencies(first, saving: run1))
        #expect(try await store.dependencyCursors() == first)
        #expect(try await store.execution(id: run1.id, includeOutput: false)?.trigger == .dependency)

        // Another consumer of load's same success (a second daemon, a retry after a crash): refused, nothing written.
        let run2 = ExecutionRecord(
            jobID: "report", state: .scheduled, trigger: .dependency, scheduledAt: t0.addingTimeInterval(1),
            host: "test-host")
        let stale = [cursor("extract", 30, "e2"), cursor("load", 20, "l1")]
        #expect(try await store.consumeDependencies(stale, saving: run2) == false)
        #expect(try await store.execution(id: run2.id, includeOutput: false) == nil)
        #expect(try await store.dependencyCursors() == first)

        // Newer successes on every edge: consumed, with the run.
        let newer = [cursor("extract", 30, "e2"), cursor("load", 40, "l2")]
        #expect(try await store.consumeDependencies(newer, saving: run2))
        #expect(try await store.dependencyCursors() == newer)
        #expect(try await store.execution(id: run2.id, includeOutput: false)?.state == .scheduled)

        // A gated instant's row counts as its instant dealt with, as `save` does.
        let gated = ExecutionRecord(
            jobID: "publish", state: .scheduled, trigger: .schedule, scheduledAt: t0.addingTimeInterval(600),
            host: "test-host")
        let publishEdge = DependencyCursor(
            jobID: "publish", upstreamID: "report", endedAt: t0.addingTimeInterval(50), executionID: "r1")
        #expect(try await store.consumeDependencies([publishEdge], saving: gated))
        #expect(try await store.state(ofJob: "publish").lastScheduledAt == t0.addingTimeInterval(600))
        #expect(try await store.dependencyCursors().count == 3)
    }
}
