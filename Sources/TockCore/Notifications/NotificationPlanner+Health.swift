import CoreMetrics
import CronKit
import Foundation
import Synchronization
import TockJSON

/// What the planner knows of each job's health: the timers of `start_grace` and `max_age`, missed instants, the
/// alerts open, and what `tock_job_health` last said.
struct HealthBook: Sendable {
    struct Entry: Sendable {
        var job: Job
        var schedule: (any Schedule)?
        var paused = false
        /// When this daemon began to watch the job (what `max_age` counts from if it never succeeded).
        var watchingSince: Date
        var lastStart: Date?
        /// The newest success; read from the store once (`successKnown`) by the ``JobHealthMonitor``.
        var lastSuccess: Date?
        var successKnown = false
        /// The instant `start_grace` watches next.
        var lateInstant: Date?
        /// The newest instant passed over on purpose (an overlap skip): not late.
        var handledInstant: Date?
        var alerts: [JobAlert.Kind: JobAlert] = [:]
    }

    var entries: [String: Entry] = [:]
    /// Alerts read from the store for jobs not tracked yet.
    var restored: [String: [JobAlert.Kind: JobAlert]] = [:]
    /// Opened and closed alerts and their deliveries, for the monitor to write.
    var pending = AlertChanges()
    /// Each job's last final record (without output) and failing streak, for `tock_job_health`.
    var lastFinal: [String: (state: ExecutionState, failures: Int)] = [:]
    var reported: [String: JobHealth.State] = [:]
}

/// Alerts opened and closed, with the deliveries they cause: written in one transaction (``JobAlertStore``).
public struct AlertChanges: Sendable {
    public var opened: [JobAlert] = []
    public var closed: [JobAlert] = []
    public var deliveries: [NotificationDelivery] = []
    public var isEmpty: Bool { opened.isEmpty && closed.isEmpty && deliveries.isEmpty }

    mutating func append(_ other: AlertChanges) {
        opened += other.opened
        closed += other.closed
        deliveries += other.deliveries
    }
}

extension NotificationPlanner {
    /// Called when a job is loaded, changed, paused or resumed (with its schedule in its zone).
    public func track(_ job: Job, schedule: (any Schedule)?, paused: Bool, at date: Date) {
        var changes = AlertChanges()
        let tracked = book.withLock { book -> Bool in
            guard
                job.startGrace != nil || job.maxAge != nil || book.entries[job.id] != nil
                    || book.restored[job.id] != nil
            else { return false }
            var entry =
                book.entries[job.id]
                ?? HealthBook.Entry(job: job, schedule: schedule, paused: paused, watchingSince: date)
            let scheduleChanged = entry.job.schedule != job.schedule || entry.job.timezone != job.timezone
            entry.job = job
            entry.schedule = schedule
            entry.paused = paused
            if let restored = book.restored.removeValue(forKey: job.id) {
                entry.alerts.merge(restored) { current, _ in current }
            }
            if job.startGrace == nil || paused {
                entry.lateInstant = nil
            } else if entry.lateInstant == nil || scheduleChanged {
                entry.lateInstant = schedule?.nextFireDate(after: date)
            }
            // A key taken away ends its alert (resolved, when one went out).
            for (kind, alert) in entry.alerts {
                let gone =
                    (kind == .maxAge && job.maxAge == nil) || (kind == .late && job.startGrace == nil)
                    || (kind == .missed && !job.alertOnMissed)
                if gone {
                    entry.alerts[kind] = nil
                    changes.append(close(alert, job: job, resolution: "\(kind.rawValue) is no longer set", at: date))
                }
            }
            book.entries[job.id] = entry
            return true
        }
        if tracked { finish(changes, jobID: job.id) }
    }

    /// Called when a job is removed: its open alerts are closed without a message (the job is gone).
    public func untrack(jobID: String) {
        book.withLock { book in
            guard let entry = book.entries.removeValue(forKey: jobID) else { return }
            book.pending.closed += entry.alerts.values
        }
        finish(AlertChanges(), jobID: jobID)
    }

    /// Instants the scheduler found missed after downtime (a stall, a clock step): one `job.missed` per gap.
    public func missed(_ job: Job, instants: [Date], notRecorded: Int = 0, at date: Date) {
        guard job.alertOnMissed, let first = instants.min(), let last = instants.max() else { return }
        let targets = alertTargets(job)
        var changes = AlertChanges()
        let format: (Date) -> String = { Timestamp.string(for: $0, in: .utc) }
        let detail =
            instants.count + notRecorded == 1
            ? "the \(format(first)) instant was missed while the scheduler was not running"
            : "\(instants.count + notRecorded) instants were missed while the scheduler was not running (\(format(first)) to "
                + "\(format(last)))"
        let alert = JobAlert(
            jobID: job.id, kind: .missed, since: date, detail: detail, alerted: targets != nil,
            eventID: "evt_alert_\(RandomID.make())")
        changes.opened.append(alert)
        if let targets {
            let event = NotificationEvent(alert: alert, resolved: false, job: job, settings: settings, at: date)
            changes.deliveries += deliveries(of: event, to: targets, job: job, record: nil, at: date)
        }
        book.withLock { book in
            var entry = book.entries[job.id] ?? HealthBook.Entry(job: job, watchingSince: date)
            entry.alerts[.missed] = alert
            book.entries[job.id] = entry
        }
        countAlert(alert)
        finish(changes, jobID: job.id)
    }

    /// An instant passed over on purpose (overlap `skip`): not late.
    public func instantSkipped(jobID: String, instant: Date) {
        book.withLock { book in
            guard var entry = book.entries[jobID] else { return }
            entry.handledInstant = max(entry.handledInstant ?? instant, instant)
            book.entries[jobID] = entry
        }
    }

    /// A run started: it ends a `late` or `missed` alert.
    func healthRunStarted(job: Job, at date: Date) {
        var changes = AlertChanges()
        book.withLock { book in
            guard var entry = book.entries[job.id] else { return }
            entry.lastStart = max(entry.lastStart ?? date, date)
            for kind in [JobAlert.Kind.late, .missed] {
                if let alert = entry.alerts.removeValue(forKey: kind) {
                    changes.append(close(alert, job: job, resolution: "a run started", at: date))
                }
            }
            book.entries[job.id] = entry
        }
        if !changes.isEmpty { finish(changes, jobID: job.id) }
    }

    /// A run reached its final state: a success ends a `max_age` alert. The resolution's deliveries are returned
    /// (written with the final record); the alert's row is closed by the monitor.
    func healthRunEnded(_ record: ExecutionRecord, job: Job, failures: Int?, at date: Date) -> [NotificationDelivery] {
        var changes = AlertChanges()
        book.withLock { book in
            let previous = book.lastFinal[job.id]?.failures ?? 0
            let failing = NotificationEventType.isFailing(record.state)
            if failing || record.state == .succeeded {
                book.lastFinal[job.id] = (record.state, failures ?? (failing ? previous + 1 : 0))
            }
            guard record.state == .succeeded, var entry = book.entries[job.id] else { return }
            entry.lastSuccess = record.endedAt ?? date
            if let alert = entry.alerts.removeValue(forKey: .maxAge) {
                changes.append(close(alert, job: job, resolution: "a run succeeded", at: date))
            }
            book.entries[job.id] = entry
        }
        let deliveries = changes.deliveries
        changes.deliveries = []
        finish(changes, jobID: job.id)
        return deliveries
    }

    /// Jobs with `max_age` whose newest success is not read yet.
    public func jobsNeedingLastSuccess() -> [String] {
        book.withLock { book in
            book.entries.values.filter { $0.job.maxAge != nil && !$0.successKnown }.map(\.job.id)
        }
    }

    /// The newest success of a job, read from the store.
    public func setLastSuccess(jobID: String, _ date: Date?) {
        book.withLock { book in
            guard var entry = book.entries[jobID] else { return }
            if let date { entry.lastSuccess = max(entry.lastSuccess ?? date, date) }
            entry.successKnown = true
            book.entries[jobID] = entry
        }
    }

    /// Alerts read back from the store at start.
    public func restore(_ alerts: [JobAlert]) {
        book.withLock { book in
            for alert in alerts {
                if var entry = book.entries[alert.jobID] {
                    entry.alerts[alert.kind] = entry.alerts[alert.kind] ?? alert
                    book.entries[alert.jobID] = entry
                } else {
                    book.restored[alert.jobID, default: [:]][alert.kind] = alert
                }
            }
        }
        for id in Set(alerts.map(\.jobID)) { healthChanged(id) }
    }
}
