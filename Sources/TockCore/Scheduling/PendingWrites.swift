import Foundation
import Synchronization

/// What the scheduler still has to write: execution records updated by running runs (written together once per
/// loop turn: a thousand runs ending at once make one transaction), the last instants dealt with, and — when the
/// store could not write — when to try again.
final class PendingWrites: Sendable {
    struct Retry: Sendable {
        var failures = 0
        var at: Date?
    }

    private let records = Mutex<[String: RecordBox]>([:])
    private let instants = Mutex<[String: Date]>([:])
    private let retryState = Mutex(Retry())
    /// Notifications of final records, by execution id: written with their record.
    private let deliveries = Mutex<[String: [NotificationDelivery]]>([:])

    func attach(_ list: [NotificationDelivery], to executionID: String) {
        guard !list.isEmpty else { return }
        deliveries.withLock { $0[executionID, default: []] += list }
    }

    /// The deliveries of those of `records` that are final (a record is final in its box only after they were
    /// attached).
    func takeDeliveries(for records: [ExecutionRecord]) -> [String: [NotificationDelivery]] {
        deliveries.withLock { pending in
            guard !pending.isEmpty else { return [:] }
            var taken: [String: [NotificationDelivery]] = [:]
            for record in records where record.state.isFinal {
                if let list = pending.removeValue(forKey: record.id) { taken[record.id] = list }
            }
            return taken
        }
    }

    func restoreDeliveries(_ taken: [String: [NotificationDelivery]]) {
        guard !taken.isEmpty else { return }
        deliveries.withLock { pending in
            for (id, list) in taken where pending[id] == nil { pending[id] = list }
        }
    }

    /// Marks a run's record for the next write; a newer box of the same run replaces an older one.
    func mark(_ box: RecordBox) { records.withLock { $0[box.id] = box } }

    /// Marks a record unless a newer update of its run is already marked.
    func markIfAbsent(_ record: ExecutionRecord) {
        records.withLock { pending in
            if pending[record.id] == nil { pending[record.id] = RecordBox(record) }
        }
    }

    func takeRecords() -> [String: RecordBox] {
        records.withLock { pending in
            defer { pending = [:] }
            return pending
        }
    }

    /// Puts back records a failed write took, unless newer updates were marked meanwhile.
    func restore(_ boxes: [String: RecordBox]) {
        records.withLock { pending in
            for (id, box) in boxes where pending[id] == nil { pending[id] = box }
        }
    }

    func markInstant(_ date: Date, of jobID: String) {
        instants.withLock { if date > $0[jobID] ?? .distantPast { $0[jobID] = date } }
    }

    func takeInstants() -> [String: Date] {
        instants.withLock { pending in
            defer { pending = [:] }
            return pending
        }
    }

    func restoreInstants(_ dates: [String: Date]) {
        for (id, date) in dates { markInstant(date, of: id) }
    }

    var retry: Retry {
        get { retryState.withLock { $0 } }
        set { retryState.withLock { $0 = newValue } }
    }
}
