import Foundation

/// What the scheduler keeps about `after`: the graph (edges on the dependents, `downstream` derived), each edge's
/// cursor, each upstream's latest success, the dependents to look at again, and the gated instants waiting.
///
/// A plain value; the rules are in `Scheduler+Dependencies.swift`.
struct DependencyBook {
    var graph = DependencyGraph(upstreams: [:])
    /// Each upstream's dependents.
    var downstream: [String: [String]] = [:]
    /// Jobs on a cycle, with the cycle (blocked: they never run by dependency).
    var cycles: [String: [String]] = [:]
    /// The jobs changed in a way that may change the graph: rebuilt before it is next read.
    var graphIsStale = true
    /// Dependent → upstream → what the edge consumed.
    var cursors: [String: [String: DependencyCursor]] = [:]
    /// Upstream → its latest final success (as a cursor with an empty `jobID`).
    var lastSuccess: [String: DependencyCursor] = [:]
    /// Upstreams whose latest success has been read from the store (or seen since).
    var knownUpstreams: Set<String> = []
    /// Dependents to evaluate on the loop's next turn.
    var dirty: Set<String> = []
    /// Gated instants waiting for their dependencies (`after_wait`), one per job.
    var waits: [String: GateWait] = [:]
    /// Whether the cursors were read at start-up.
    var loaded = false
    /// Runs by dependency that a previous daemon created (their successes consumed) but never started: made again.
    var interruptedBeforeStart: [ExecutionRecord] = []

    struct GateWait {
        var pending: PendingRun
        var deadline: Date
    }

    var nextWaitDeadline: Date? { waits.values.lazy.map(\.deadline).min() }

    /// Records an upstream's final success if it is newer than the one known.
    mutating func noteSuccess(of upstream: String, executionID: String, endedAt: Date) {
        let success = DependencyCursor(jobID: "", upstreamID: upstream, endedAt: endedAt, executionID: executionID)
        if let known = lastSuccess[upstream], !success.isAfter(known) { return }
        lastSuccess[upstream] = success
    }

    mutating func consumed(_ cursors: [DependencyCursor]) {
        for cursor in cursors { self.cursors[cursor.jobID, default: [:]][cursor.upstreamID] = cursor }
    }
}

/// What a job's dependencies look like now, for readers (the API, the UI, `tock jobs show`).
public struct DependencyStatus: Sendable, Hashable {
    public struct Edge: Sendable, Hashable {
        public var jobID: String
        /// Whether the upstream job exists.
        public var known: Bool
        /// Whether it has succeeded since the dependent last consumed it, within `after_window`.
        public var satisfied: Bool
        /// When its latest success ended.
        public var lastSuccess: Date?
    }

    public var edges: [Edge] = []
    /// The jobs that name this one in their `after`.
    public var downstream: [String] = []
    /// Why the job cannot run by dependency at all (an unknown upstream, a cycle); `nil` when it can.
    public var blocked: String?
    /// Whether a gated instant of the job is waiting for its dependencies now.
    public var gateWaiting = false

    public init() {}

    /// The upstreams not satisfied now (what the jobs list shows as "waiting on").
    public var waitingOn: [String] { edges.filter { !$0.satisfied }.map(\.jobID) }
}
