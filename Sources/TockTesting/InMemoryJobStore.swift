import Foundation
import Synchronization
import TockCore

/// A store in memory, for scheduler logic tests. The real stores are tested against the same contract.
public final class InMemoryJobStore: JobStore {
    private struct State {
        var executions: [String: ExecutionRecord] = [:]
        var states: [String: JobRuntimeState] = [:]
        var audit: [AuditEntry] = []
        var apiJobs: [String: APIJobDefinition] = [:]
        var cursors: [String: DependencyCursor] = [:]
        /// Manual runs' idempotency keys: job id and key → (execution id, recorded at).
        var manualRunKeys: [String: (id: String, at: Date)] = [:]
        var failingReads = 0
        var writesFail = false
    }

    /// The error of an injected failure.
    public struct InjectedFailure: Error, CustomStringConvertible {
        public var description: String { "injected store failure" }
    }

    /// Makes the next `count` page reads (`executions(matching:)`, `recentExecutions`, `jobsWithNewestExecution`) throw, as a store whose
    /// disk went away would.
    public func failNextReads(_ count: Int) { state.withLock { $0.failingReads = count } }

    private func injectedFailure() throws {
        let fail = state.withLock { s in
            guard s.failingReads > 0 else { return false }
            s.failingReads -= 1
            return true
        }
        if fail { throw InjectedFailure() }
    }

    /// While set, every execution write throws ``StoreError/unavailable(_:)``, as a store on a full disk does.
    public func setWritesFail(_ fail: Bool) { state.withLock { $0.writesFail = fail } }

    private func injectedWriteFailure() throws {
        if state.withLock({ $0.writesFail }) { throw StoreError.unavailable("injected: disk full") }
    }

    private let state = Mutex(State())

    public init() {}

    public func recoverInterruptedExecutions(at date: Date) async throws -> [ExecutionRecord] {
        state.withLock { s in
            let found = s.executions.values.filter { $0.state == .running || $0.state == .scheduled }
            for var e in found {
                e.state = .interrupted
                e.endedAt = e.endedAt ?? date
                s.executions[e.id] = e
            }
            return found
        }
    }

    public func save(_ executions: [ExecutionRecord]) async throws {
        try injectedWriteFailure()
        state.withLock { s in
            for e in executions { s.executions[e.id] = e }
            for (id, date) in executions.lastScheduledInstants {
                let current = s.states[id]?.lastScheduledAt ?? .distantPast
                s.states[id, default: JobRuntimeState()].lastScheduledAt = max(current, date)
            }
        }
    }

    public func manualRun(jobID: String, idempotencyKey key: String, since: Date) async throws -> String? {
        state.withLock { s in Self.manualRun(s, jobID: jobID, key: key, since: since) }
    }

    private static func manualRun(_ s: State, jobID: String, key: String, since: Date) -> String? {
        guard let found = s.manualRunKeys[jobID + "\u{0}" + key], found.at >= since, s.executions[found.id] != nil
        else { return nil }
        return found.id
    }

    public func saveManualRun(_ execution: ExecutionRecord, idempotencyKey key: String, since: Date) async throws
        -> String?
    {
        try injectedWriteFailure()
        return state.withLock { s in
            if let existing = Self.manualRun(s, jobID: execution.jobID, key: key, since: since) { return existing }
            s.executions[execution.id] = execution
            s.manualRunKeys[execution.jobID + "\u{0}" + key] = (execution.id, execution.scheduledAt)
            return nil
        }
    }

    public func setLastScheduled(_ dates: [String: Date]) async throws {
        state.withLock { s in
            for (id, date) in dates {
                let current = s.states[id]?.lastScheduledAt ?? .distantPast
                s.states[id, default: JobRuntimeState()].lastScheduledAt = max(current, date)
            }
        }
    }

    public func execution(id: String, includeOutput: Bool) async throws -> ExecutionRecord? {
        guard var e = state.withLock({ $0.executions[id] }) else { return nil }
        if !includeOutput {
            e.stdout = []
            e.stderr = []
        }
        return e
    }

    public func executions(matching query: ExecutionQuery) async throws -> [ExecutionRecord] {
        try injectedFailure()
        return state.withLock { s in
            s.executions.values.filter(query.matches).sorted { ($0.scheduledAt, $0.id) > ($1.scheduledAt, $1.id) }
                .prefix(query.limit).map { e in
                    var e = e
                    if !query.includeOutput {
                        e.stdout = []
                        e.stderr = []
                    }
                    return e
                }
        }
    }

    public func recentExecutions(jobIDs: [String], perJob: Int) async throws -> [String: [ExecutionRecord]] {
        try injectedFailure()
        var result: [String: [ExecutionRecord]] = [:]
        for id in jobIDs {
            let list = try await executions(matching: ExecutionQuery(jobID: id, limit: perJob))
            if !list.isEmpty { result[id] = list }
        }
        return result
    }

    public func jobsWithNewestExecution(in states: Set<ExecutionState>) async throws -> Set<String> {
        try injectedFailure()
        return state.withLock { s in
            var newest: [String: ExecutionRecord] = [:]
            for e in s.executions.values {
                if let kept = newest[e.jobID], (kept.scheduledAt, kept.id) > (e.scheduledAt, e.id) { continue }
                newest[e.jobID] = e
            }
            return Set(newest.values.filter { states.contains($0.state) }.map(\.jobID))
        }
    }

    public func auditLog(matching query: AuditQuery) async throws -> [AuditEntry] {
        state.withLock { Array($0.audit.reversed().filter(query.matches).prefix(query.limit)) }
    }

    public func apiJobs() async throws -> [APIJobDefinition] {
        state.withLock { $0.apiJobs.values.sorted { $0.id < $1.id } }
    }

    public func dependencyCursors() async throws -> [DependencyCursor] {
        state.withLock { s in s.cursors.values.sorted { ($0.jobID, $0.upstreamID) < ($1.jobID, $1.upstreamID) } }
    }

    public func consumeDependencies(_ cursors: [DependencyCursor], saving execution: ExecutionRecord) async throws
        -> Bool
    {
        try injectedWriteFailure()
        return state.withLock { s in
            for cursor in cursors {
                if let stored = s.cursors[cursor.jobID + "\u{0}" + cursor.upstreamID], !cursor.isAfter(stored) {
                    return false
                }
            }
            for cursor in cursors { s.cursors[cursor.jobID + "\u{0}" + cursor.upstreamID] = cursor }
            s.executions[execution.id] = execution
            for (id, date) in [execution].lastScheduledInstants {
                let current = s.states[id]?.lastScheduledAt ?? .distantPast
                s.states[id, default: JobRuntimeState()].lastScheduledAt = max(current, date)
            }
            return true
        }
    }

    public func saveAPIJob(_ definition: APIJobDefinition, at date: Date) async throws {
        state.withLock { $0.apiJobs[definition.id] = definition }
    }

    public func deleteAPIJob(id: String) async throws -> Bool {
        state.withLock { $0.apiJobs.removeValue(forKey: id) != nil }
    }

    public func setPaused(_ paused: Bool, jobID: String) async throws {
        state.withLock { $0.states[jobID, default: JobRuntimeState()].paused = paused }
    }

    public func allStates() async throws -> [String: JobRuntimeState] {
        state.withLock { $0.states }
    }

    public func append(_ entry: AuditEntry) async throws {
        state.withLock { s in
            var entry = entry
            entry.id = Int64(s.audit.count + 1)
            s.audit.append(entry)
        }
    }

    public func prune(keepPerJob: Int, olderThan: Date) async throws -> Int {
        state.withLock { s in
            var deleted = 0
            let byJob = Dictionary(grouping: s.executions.values, by: \.jobID)
            for (_, list) in byJob {
                let sorted = list.sorted { ($0.scheduledAt, $0.id) > ($1.scheduledAt, $1.id) }
                for (index, e) in sorted.enumerated()
                where e.state.isFinal && (index >= keepPerJob || e.scheduledAt < olderThan) {
                    s.executions[e.id] = nil
                    deleted += 1
                }
            }
            return deleted
        }
    }
}

extension InMemoryJobStore: ExecutionCounting {
    public func executionCounts(since: Date) async throws -> [String: ExecutionCounts] {
        state.withLock { s in
            var counts: [String: ExecutionCounts] = [:]
            for e in s.executions.values {
                if e.scheduledAt >= since && e.startedAt != nil { counts[e.host, default: .init()].startedSince += 1 }
                if e.state == .running { counts[e.host, default: .init()].running += 1 }
            }
            return counts
        }
    }
}
