import Foundation

/// How many executions each node (an execution's `host`) started recently and runs now: what the cluster page shows
/// per node. A store capability, not part of ``JobStore``: a store without it shows no counts.
public protocol ExecutionCounting: Sendable {
    /// Per node name: executions started at or after `since`, and executions running now.
    func executionCounts(since: Date) async throws -> [String: ExecutionCounts]
}

/// One node's execution counts (see ``ExecutionCounting``).
public struct ExecutionCounts: Sendable, Hashable {
    public var startedSince: Int
    public var running: Int

    public init(startedSince: Int = 0, running: Int = 0) {
        self.startedSince = startedSince
        self.running = running
    }
}
