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

extension Scheduler {
    /// Start-up recovery (through the coordinator: with several nodes, only this node's leftovers); with
    /// notifications, the interrupted executions' `on_failure` deliveries are written in the same transaction (a
    /// crash between the two would lose them: the next start finds nothing left to recover).
    static func recoverInterrupted(
        _ coordinator: any SlotCoordinator, at date: Date, jobs: [String: JobTable.Box], planner: NotificationPlanner?
    ) async throws -> [ExecutionRecord] {
        guard let planner else { return try await coordinator.recoverInterruptedExecutions(at: date, planning: nil) }
        return try await coordinator.recoverInterruptedExecutions(at: date) { record in
            guard let job = jobs[record.jobID]?.job else { return [] }
            return planner.interruptedDeliveries(for: record, job: job, at: date)
        }
    }
}
