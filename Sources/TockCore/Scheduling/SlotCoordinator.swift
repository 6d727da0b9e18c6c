import Foundation

/// Decides which daemon runs each scheduled instant (a *slot*: a job and one instant of its schedule) when several
/// share a store, and tells the scheduler when this daemon may no longer run anything.
///
/// The scheduler asks before it acts on a slot — runs it, records it `skipped` or `missed` — and acts only on the
/// slots it won, so every slot gets exactly one execution row across all nodes. A single daemon uses
/// ``LocalSlotCoordinator``, which wins every slot without writing anything: its behaviour is exactly that of a
/// scheduler without coordination. The PostgreSQL store's coordinator decides by a unique index on
/// `(job_id, slot_at)`, timed and fenced by a lease in the database.
public protocol SlotCoordinator: Sendable {
    /// Tries to take these slots for this node, each as the execution record the scheduler would write for it
    /// (state `scheduled`, `skipped` or `missed`; trigger `schedule` or `catchup`; `scheduledAt` is the instant).
    /// Returns the records won: those rows are now stored, owned by this node. A `scheduled` slot of a job in
    /// `skipWhileRunningElsewhere` (overlap `skip`) whose job has a run pending or running on another node is won as
    /// `skipped`. Throws when the outcome is unknown (the database could not be reached): the scheduler claims
    /// those slots again, with the same records.
    func claim(_ slots: [ExecutionRecord], skipWhileRunningElsewhere jobIDs: Set<String>) async throws -> SlotClaims

    /// At start: marks `interrupted` what this node's previous incarnation left `running` or `scheduled` and
    /// returns those executions (their process groups, on this host, are then stopped). With `planning` (and a store
    /// that is a ``NotificationOutbox``), the deliveries it makes of each execution as marked are inserted in the same
    /// transaction.
    func recoverInterruptedExecutions(
        at date: Date, planning: (@Sendable (ExecutionRecord) -> [NotificationDelivery])?
    ) async throws -> [ExecutionRecord]

    /// Why this node must not run anything now (it lost its lease), or `nil`. While it is set the scheduler claims
    /// nothing and stops its runs; `/healthz` reports it.
    var fencedReason: String? { get }

    /// Calls `handler` whenever ``fencedReason`` changes (the scheduler wakes its loop).
    func onFenceChange(_ handler: @escaping @Sendable () -> Void)

    /// How long before an instant the scheduler claims it (seconds; 0: at the instant), so that the claim's round
    /// trip is not part of the run's start lateness.
    var claimLookahead: TimeInterval { get }

    /// How often (seconds) the scheduler looks for runs of dead nodes to retry with ``claimRetries(ofJobs:_:)``;
    /// `nil` when no other node can die (a store of its own).
    var retryCheckInterval: TimeInterval? { get }

    /// Runs of the jobs in `jobIDs` that were interrupted because their node died (its lease lapsed and another node
    /// reaped it) and that no node has retried yet: `retry` makes, from each such record, the record of its retry
    /// (trigger `retry`, state `scheduled`, this node's id) or `nil` when the job allows no further attempt. Each
    /// retry record is inserted unless its original already has one (a unique rule: at most one retry per
    /// original, whichever node commits first). Returns the retries this node won; it starts them.
    func claimRetries(
        ofJobs jobIDs: Set<String>, _ retry: @escaping @Sendable (ExecutionRecord) -> ExecutionRecord?
    ) async throws -> [ExecutionRecord]
}

extension SlotCoordinator {
    public var claimLookahead: TimeInterval { 0 }

    public var retryCheckInterval: TimeInterval? { nil }

    public func claimRetries(
        ofJobs jobIDs: Set<String>, _ retry: @escaping @Sendable (ExecutionRecord) -> ExecutionRecord?
    ) async throws -> [ExecutionRecord] { [] }
}

/// The coordinator of a daemon alone on its store: every slot is its own, nothing is written by a claim, and start-up
/// recovery is the store's (every `running` or `scheduled` row was this daemon's).
public struct LocalSlotCoordinator: SlotCoordinator {
    let store: any JobStore

    public init(store: any JobStore) { self.store = store }

    public func claim(
        _ slots: [ExecutionRecord], skipWhileRunningElsewhere jobIDs: Set<String>
    ) async throws -> SlotClaims {
        SlotClaims(won: Set(slots.map(\.id)))
    }

    public func recoverInterruptedExecutions(
        at date: Date, planning: (@Sendable (ExecutionRecord) -> [NotificationDelivery])?
    ) async throws -> [ExecutionRecord] {
        guard let planning, let outbox = store as? any NotificationOutbox else {
            return try await store.recoverInterruptedExecutions(at: date)
        }
        return try await outbox.recoverInterruptedExecutions(at: date, planning: planning)
    }

    public var fencedReason: String? { nil }

    public func onFenceChange(_ handler: @escaping @Sendable () -> Void) {}
}

/// What a node won of the slots it claimed.
public struct SlotClaims: Sendable, Equatable {
    /// Ids of the records won.
    public var won: Set<String>
    /// Of those, the ones recorded `skipped` because their job was running on another node, with the reason.
    public var skipped: [String: String]

    public init(won: Set<String> = [], skipped: [String: String] = [:]) {
        self.won = won
        self.skipped = skipped
    }
}
