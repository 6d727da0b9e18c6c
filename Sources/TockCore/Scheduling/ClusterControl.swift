import Foundation

/// The control of runs across the nodes that share a store: where a manual run is recorded, how a stop reaches the
/// node that holds the process, how a node follows the live output of a run on another node.
///
/// A daemon alone on its store uses ``LocalClusterControl``: manual runs are the store's rows, no other node holds
/// anything, so every stop and every live tail is answered here exactly as without this protocol. The PostgreSQL
/// store's implementation writes requests to the database and wakes the node concerned with `NOTIFY` (and each node
/// also polls, so a lost notification only delays). Changes of jobs (pause, resume, jobs created, replaced or
/// deleted through the API) reach the other nodes without this protocol: the shared store logs them, and the
/// implementation applies them to its scheduler (``Scheduler/applySharedChanges(paused:apiJobs:keepingOnlyAPIJobs:)``).
public protocol ClusterControl: Sendable {
    /// Records a manual run's `scheduled` row before it is dispatched (see ``Scheduler/runNow(jobID:force:idempotencyKey:)``).
    ///
    /// - Parameters:
    ///   - record: The run's row.
    ///   - idempotencyKey: The client's key: when an execution of the same job was recorded with it at or after
    ///     `since`, nothing is written and that execution's id comes back (``ManualRunRecording/replayed(executionID:)``).
    ///   - exclusive: The job's overlap is `skip` and the run is not forced: refused when the job has a run pending or
    ///     running on another node (``ManualRunRecording/busyElsewhere(executionID:node:)``).
    func recordManualRun(
        _ record: ExecutionRecord, idempotencyKey: String?, since: Date, exclusive: Bool
    ) async throws -> ManualRunRecording

    /// Asks the node holding a pending or running execution to stop it. `nil` when no other node holds it: the
    /// caller answers as a daemon alone does (unknown, or not running).
    func requestStop(executionID: String, by user: String) async throws -> RemoteStop?

    /// The live output of an execution running on another node, as the events of a local tail; `nil` when no other
    /// live node runs it (it is finished, unknown, or this node's own).
    func followOutput(of executionID: String) async throws -> RemoteOutputEvents?
}

/// What ``ClusterControl/recordManualRun(_:idempotencyKey:since:exclusive:)`` did.
public enum ManualRunRecording: Sendable, Equatable {
    /// The row is written: dispatch the run.
    case recorded
    /// A run of the job with the same idempotency key exists: nothing was written.
    case replayed(executionID: String)
    /// The job has a run pending or running on another node and its overlap is `skip`: nothing was written.
    case busyElsewhere(executionID: String, node: String)
}

/// What became of a stop asked of another node.
public enum RemoteStop: Sendable, Equatable {
    /// The node holding the run was asked to stop it; `acknowledged`: it answered that it did (SIGTERM sent, or the
    /// run cancelled before it started) within the wait.
    case requested(jobID: String, node: String, acknowledged: Bool)
    /// The execution has ended (or was never started by a node that could still start it).
    case notRunning(ExecutionState)
    /// The node holding it is not alive (its lease lapsed, or it is known dead): no node can stop it now. A fenced
    /// node stops its runs itself; a dead node's rows are recorded `interrupted` by the reaper.
    case ownerUnreachable(node: String, reason: String)
}

/// The coordinator of a daemon alone on its store: manual runs are written by the store (with the idempotency key
/// when there is one), and nothing is held anywhere else.
public struct LocalClusterControl: ClusterControl {
    let store: any JobStore

    public init(store: any JobStore) { self.store = store }

    public func recordManualRun(
        _ record: ExecutionRecord, idempotencyKey: String?, since: Date, exclusive: Bool
    ) async throws -> ManualRunRecording {
        guard let idempotencyKey else {
            try await store.save(record)
            return .recorded
        }
        if let existing = try await store.saveManualRun(record, idempotencyKey: idempotencyKey, since: since) {
            return .replayed(executionID: existing)
        }
        return .recorded
    }

    public func requestStop(executionID: String, by user: String) async throws -> RemoteStop? { nil }

    public func followOutput(of executionID: String) async throws -> RemoteOutputEvents? { nil }
}
