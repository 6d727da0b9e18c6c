import Foundation

/// The store's side of notifications: the outbox of deliveries and their log.
///
/// A separate protocol from ``JobStore`` so that a store without it still runs jobs (the scheduler then sends
/// nothing, and says so once). A store implementing both writes deliveries in the same transaction as the
/// execution records that caused them: after a `kill -9` at any moment, either the final record and its
/// deliveries are both there, or neither is.
public protocol NotificationOutbox: Sendable {
    /// ``JobStore/save(_:)`` of `executions`, and the insertion of `deliveries`, in one transaction. A delivery whose
    /// event id and target are already in the outbox is not inserted again (a record saved twice notifies once).
    func save(_ executions: [ExecutionRecord], enqueuing deliveries: [NotificationDelivery]) async throws

    /// ``JobStore/recoverInterruptedExecutions(at:)``, and the deliveries `planning` makes of each execution as it
    /// is marked (`interrupted`, ended at `date`), in one transaction.
    func recoverInterruptedExecutions(
        at date: Date, planning: @escaping @Sendable (ExecutionRecord) -> [NotificationDelivery]
    ) async throws -> [ExecutionRecord]

    /// Inserts deliveries that belong to no execution record (a notifier's test event, alerts).
    func enqueue(_ deliveries: [NotificationDelivery]) async throws

    /// Marks up to `limit` deliveries due at `now` (`pending` or `failed`, `nextAttemptAt` ≤ now, oldest first)
    /// `delivering` and returns them.
    func claimDueDeliveries(at now: Date, limit: Int) async throws -> [NotificationDelivery]

    /// When the earliest `pending` or `failed` delivery is due; `nil` when none is waiting.
    func nextDeliveryDue() async throws -> Date?

    /// Records an attempt of a delivery being delivered: its new state, attempt count, next attempt and what the
    /// receiver said.
    func recordAttempt(
        deliveryID: String, state: NotificationDelivery.State, at date: Date, nextAttemptAt: Date?,
        attempt: DeliveryAttempt) async throws

    /// Returns every `delivering` delivery to `pending`: at start, those were being delivered when the daemon
    /// stopped (they are tried again: at least once). Returns how many.
    func releaseClaimedDeliveries() async throws -> Int

    /// A page of the delivery log, newest first.
    func deliveries(matching query: NotificationQuery) async throws -> [NotificationDelivery]

    /// One delivery, with its payload.
    func delivery(id: String) async throws -> NotificationDelivery?

    /// Makes a delivery due now again (a user's retry): `pending`, `nextAttemptAt` = `date`. Returns it, or `nil`
    /// if there is none or it is being delivered.
    func retryDelivery(id: String, at date: Date) async throws -> NotificationDelivery?
}
