import Foundation

extension Scheduler {
    /// Saves records, and the deliveries their final states caused in the same transaction when there are any.
    /// (A store that is not a ``NotificationOutbox`` gets no planner from TockApp: deliveries are never made for it.)
    func save(_ records: [ExecutionRecord], enqueuing deliveries: [String: [NotificationDelivery]]) async throws {
        guard !deliveries.isEmpty, let outbox = store as? any NotificationOutbox else {
            return try await store.save(records)
        }
        try await outbox.save(records, enqueuing: deliveries.values.flatMap { $0 })
        configuration.notifications?.enqueued()
    }
}
