import Foundation

/// What `GET /api/v1/cluster` shows: the nodes sharing the store, their leases and clocks, what they run, and the
/// jobs.d jobs whose definitions differ between them. The PostgreSQL store's view reads the `node` table; a daemon
/// alone on its store uses ``LocalClusterView``.
public protocol ClusterView: Sendable {
    /// The cluster now, with the nodes that died (or left) less than `recentlyDead` ago.
    func snapshot(recentlyDead: TimeInterval) async throws -> ClusterSnapshot
}

/// The cluster as one node sees it (see ``ClusterView``).
public struct ClusterSnapshot: Sendable {
    /// `sqlite`, `postgresql` (or `memory` in tests).
    public var store: String
    /// This node's name and incarnation id (`nil`: a single daemon has none).
    public var nodeName: String
    public var nodeID: String?
    /// The time the view was read at: the database's clock for a shared store, this node's otherwise. Lease ages
    /// are measured from it.
    public var now: Date
    /// Live nodes first (by name), then the dead, newest death first.
    public var nodes: [ClusterNodeStatus]
    /// jobs.d jobs whose definition differs between live nodes or that only some of them define.
    public var mismatches: [DefinitionMismatch]

    public init(
        store: String, nodeName: String, nodeID: String?, now: Date, nodes: [ClusterNodeStatus],
        mismatches: [DefinitionMismatch]
    ) {
        self.store = store
        self.nodeName = nodeName
        self.nodeID = nodeID
        self.now = now
        self.nodes = nodes
        self.mismatches = mismatches
    }
}

/// One node (one incarnation of a daemon) in a ``ClusterSnapshot``.
public struct ClusterNodeStatus: Sendable {
    public var id: String?
    public var name: String
    public var pid: Int32?
    /// `alive`, `dead`, `left` (stopped cleanly) or `fenced` (alive in the table, its lease lapsed: about to be
    /// declared dead).
    public var state: String
    public var startedAt: Date?
    public var renewedAt: Date?
    public var leaseUntil: Date?
    public var diedAt: Date?
    /// Why it died, as recorded.
    public var message: String?
    /// The node's wall clock minus the database's (seconds), measured by the node at its last heartbeat.
    public var clockOffset: Double?
    public var clockOffsetMeasuredAt: Date?
    public var version: String?
    public var executions: ExecutionCounts?
    /// The jobs.d jobs the node defines, by id, with their digests (`nil`: not published).
    public var jobs: [String: String]?
    /// Whether this is the node answering.
    public var isSelf: Bool

    public init(name: String, state: String, isSelf: Bool = false) {
        self.name = name
        self.state = state
        self.isSelf = isSelf
    }
}

/// The cluster view of a daemon alone on its store (SQLite): one node, this one, always alive; no lease, no clock
/// offset; the digests of its own jobs.d jobs.
public struct LocalClusterView: ClusterView {
    let store: any JobStore
    let scheduler: Scheduler
    let kind: String
    let nodeName: String
    let startedAt: Date
    let version: String?
    let clock: any WallClock

    public init(
        store: any JobStore, scheduler: Scheduler, kind: String, nodeName: String, startedAt: Date, version: String?,
        clock: any WallClock = SystemWallClock()
    ) {
        self.store = store
        self.scheduler = scheduler
        self.kind = kind
        self.nodeName = nodeName
        self.startedAt = startedAt
        self.version = version
        self.clock = clock
    }

    public func snapshot(recentlyDead: TimeInterval) async throws -> ClusterSnapshot {
        let now = clock.now
        var node = ClusterNodeStatus(name: nodeName, state: "alive", isSelf: true)
        node.pid = ProcessInfo.processInfo.processIdentifier
        node.startedAt = startedAt
        node.version = version
        node.jobs = await scheduler.fileJobDigests()
        if let counting = store as? any ExecutionCounting {
            let counts = try await counting.executionCounts(since: now.addingTimeInterval(-3600))
            // Alone on the store, every row is this daemon's, whatever host name it was recorded under.
            node.executions = counts.values.reduce(into: ExecutionCounts()) {
                $0.startedSince += $1.startedSince
                $0.running += $1.running
            }
        }
        return ClusterSnapshot(store: kind, nodeName: nodeName, nodeID: nil, now: now, nodes: [node], mismatches: [])
    }
}
