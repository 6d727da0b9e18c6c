import Foundation
import Synchronization
import TockJSON

extension NotificationPlanner {
    /// A running execution of a job with `warn_after`.
    struct OverdueWatch: Sendable {
        var job: Job
        var record: ExecutionRecord
        var deadline: Date
        var alerted = false
    }

    /// Called when a run starts: a job with `warn_after` is watched until it ends.
    public func runStarted(job: Job, record: ExecutionRecord, at date: Date) {
        guard let warnAfter = job.warnAfter else { return }
        var started = record
        started.startedAt = started.startedAt ?? date
        let watch = OverdueWatch(job: job, record: started, deadline: date.addingTimeInterval(warnAfter.timeInterval))
        overdue.withLock { $0[record.id] = watch }
        overdueChanged()
    }

    /// The earliest deadline of a watched run not yet alerted.
    var nextOverdueDeadline: Date? {
        overdue.withLock { $0.values.filter { !$0.alerted }.map(\.deadline).min() }
    }

    /// The `job.overdue` deliveries of the runs past their deadline at `date` (each alerted once).
    func overdueDeliveries(at date: Date) -> [NotificationDelivery] {
        let due = overdue.withLock { watches -> [OverdueWatch] in
            var due: [OverdueWatch] = []
            for (id, watch) in watches where !watch.alerted && watch.deadline <= date {
                watches[id]?.alerted = true
                due.append(watch)
            }
            return due
        }
        return due.flatMap { watch -> [NotificationDelivery] in
            guard let targets = watch.job.onAlert ?? watch.job.onFailure ?? defaultFailureTargets else { return [] }
            let event = NotificationEvent(
                type: .jobOverdue, job: watch.job, record: watch.record, previousState: nil, consecutiveFailures: 0,
                settings: settings, at: date,
                alert: .object([
                    ("kind", "overdue"), ("state", "overdue"),
                    (
                        "detail",
                        .string("still running \(Int(watch.job.warnAfter?.timeInterval ?? 0)) s after its start")
                    ),
                ]))
            return deliveries(of: event, to: targets, job: watch.job, record: watch.record, at: date)
        }
    }

    /// Called with a run's final record: stops watching it; when it was alerted overdue, the `alert.resolved`
    /// deliveries (written with the final record).
    func endOverdueWatch(_ record: ExecutionRecord, job: Job, at date: Date) -> [NotificationDelivery] {
        guard let watch = overdue.withLock({ $0.removeValue(forKey: record.id) }), watch.alerted,
            let targets = job.onAlert ?? job.onFailure ?? defaultFailureTargets
        else { return [] }
        var event = NotificationEvent(
            type: .alertResolved, job: job, record: record, previousState: nil, consecutiveFailures: 0,
            settings: settings, at: date,
            alert: .object([("kind", "overdue"), ("state", "ok"), ("detail", "the overdue run ended")]))
        // One resolution per alert: the overdue one has an id of its own (a failure streak may resolve too).
        event.id += "_overdue"
        if case .object(var pairs) = event.json, let index = pairs.firstIndex(where: { $0.0 == "id" }) {
            pairs[index].1 = .string(event.id)
            event.json = .object(pairs)
        }
        return deliveries(of: event, to: targets, job: job, record: record, at: date)
    }
}
