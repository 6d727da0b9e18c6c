import CoreMetrics
import CronKit
import Foundation
import Synchronization
import TockJSON

/// The timers of job health (`start_grace`, `max_age`), the open alerts, and the `tock_job_health` metric.
extension NotificationPlanner {
    /// Checks the timers due at `date` (`start_grace`, `max_age`) and returns every change waiting to be written.
    public func healthChanges(at date: Date) -> AlertChanges {
        var found: [(Job, JobAlert)] = []
        var closing = AlertChanges()
        var result = book.withLock { book in
            for (id, var entry) in book.entries {
                let job = entry.job
                // Alerts read back at start that what happened since has ended (a success, a start).
                if let alert = entry.alerts[.maxAge], let success = entry.lastSuccess, success > alert.since {
                    entry.alerts[.maxAge] = nil
                    closing.append(close(alert, job: job, resolution: "a run succeeded", at: date))
                }
                for kind in [JobAlert.Kind.late, .missed] {
                    if let alert = entry.alerts[kind], let start = entry.lastStart, start > alert.since {
                        entry.alerts[kind] = nil
                        closing.append(close(alert, job: job, resolution: "a run started", at: date))
                    }
                }
                guard job.enabled else {
                    book.entries[id] = entry
                    continue
                }
                if let grace = job.startGrace, !entry.paused, let instant = entry.lateInstant,
                    instant.addingTimeInterval(grace.timeInterval) <= date, let schedule = entry.schedule
                {
                    // The newest instant whose grace has passed; each one after `instant` is judged by it.
                    var judged = instant
                    var steps = 0
                    while steps < 100_000, let next = schedule.nextFireDate(after: judged),
                        next.addingTimeInterval(grace.timeInterval) <= date
                    {
                        judged = next
                        steps += 1
                    }
                    let started = (entry.lastStart ?? .distantPast) >= judged
                    let handled = (entry.handledInstant ?? .distantPast) >= judged
                    if !started && !handled && entry.alerts[.late] == nil {
                        let detail =
                            "the \(Timestamp.string(for: judged, in: .utc)) instant had not started "
                            + "\(DurationFormatter.string(grace)) after it was due"
                        let alert = JobAlert(
                            jobID: id, kind: .late, since: judged.addingTimeInterval(grace.timeInterval),
                            detail: detail, alerted: alertTargets(job) != nil, eventID: "evt_alert_\(RandomID.make())")
                        entry.alerts[.late] = alert
                        found.append((job, alert))
                    }
                    entry.lateInstant = schedule.nextFireDate(after: judged)
                }
                if let maxAge = job.maxAge, entry.successKnown, entry.alerts[.maxAge] == nil {
                    let base = entry.lastSuccess ?? entry.watchingSince
                    let deadline = base.addingTimeInterval(maxAge.timeInterval)
                    if deadline <= date {
                        let last =
                            entry.lastSuccess.map { "last success \(Timestamp.string(for: $0, in: .utc))" }
                            ?? "no success since \(Timestamp.string(for: entry.watchingSince, in: .utc))"
                        let alert = JobAlert(
                            jobID: id, kind: .maxAge, since: deadline,
                            detail: "no successful run for \(DurationFormatter.string(maxAge)) (\(last))",
                            alerted: alertTargets(job) != nil, eventID: "evt_alert_\(RandomID.make())")
                        entry.alerts[.maxAge] = alert
                        found.append((job, alert))
                    }
                }
                book.entries[id] = entry
            }
            let pending = book.pending
            book.pending = AlertChanges()
            return pending
        }
        result.append(closing)
        for alert in closing.closed { healthChanged(alert.jobID) }
        for (job, alert) in found {
            result.opened.append(alert)
            countAlert(alert)
            if let targets = alertTargets(job) {
                let event = NotificationEvent(alert: alert, resolved: false, job: job, settings: settings, at: date)
                result.deliveries += deliveries(of: event, to: targets, job: job, record: nil, at: date)
            }
            healthChanged(job.id)
        }
        return result
    }

    /// Puts changes that could not be written back, to be written with the next ones.
    public func requeue(_ changes: AlertChanges) {
        book.withLock { $0.pending.append(changes) }
    }

    /// When ``healthChanges(at:)`` has something to do next; `nil`: nothing is timed.
    public var nextHealthDeadline: Date? {
        book.withLock { book in
            var earliest: Date?
            func consider(_ date: Date?) {
                guard let date else { return }
                earliest = min(earliest ?? date, date)
            }
            if !book.pending.isEmpty { return Date.distantPast }
            for entry in book.entries.values where entry.job.enabled {
                if let grace = entry.job.startGrace, !entry.paused, let instant = entry.lateInstant {
                    consider(instant.addingTimeInterval(grace.timeInterval))
                }
                if let maxAge = entry.job.maxAge, entry.successKnown, entry.alerts[.maxAge] == nil {
                    consider((entry.lastSuccess ?? entry.watchingSince).addingTimeInterval(maxAge.timeInterval))
                }
            }
            return earliest
        }
    }

    /// The alerts open on a job (with an overdue run's), for its `health`.
    public func openAlerts(of jobID: String) -> [JobAlert] {
        var alerts = book.withLock { Array(($0.entries[jobID]?.alerts ?? $0.restored[jobID] ?? [:]).values) }
        let overdueAlert = overdue.withLock { watches in
            watches.values.filter { $0.job.id == jobID && $0.alerted }.map(\.deadline).min()
        }
        if let since = overdueAlert {
            alerts.append(
                JobAlert(
                    jobID: jobID, kind: .overdue, since: since, detail: "a run is still running past warn_after",
                    alerted: true, eventID: ""))
        }
        return alerts
    }

    /// Every job's open alerts (with overdue runs'), for the health of a whole job list.
    public func allOpenAlerts() -> [String: [JobAlert]] {
        var result = book.withLock { book in
            var all: [String: [JobAlert]] = [:]
            for (id, alerts) in book.restored { all[id] = Array(alerts.values) }
            for (id, entry) in book.entries where !entry.alerts.isEmpty { all[id] = Array(entry.alerts.values) }
            return all
        }
        let overdueJobs = overdue.withLock { watches in
            watches.values.filter(\.alerted).map { ($0.job.id, $0.deadline) }
        }
        for (id, since) in overdueJobs {
            result[id, default: []].append(
                JobAlert(
                    jobID: id, kind: .overdue, since: since, detail: "a run is still running past warn_after",
                    alerted: true, eventID: ""))
        }
        return result
    }

    /// Called with the id of a job whose health may have changed (a reader's cache of it is stale).
    public func onHealthChange(_ handler: @escaping @Sendable (String) -> Void) {
        changeHandler.withLock { $0 = HealthChangeHandler(handler) }
    }

    func alertTargets(_ job: Job) -> Notification? {
        guard let targets = job.onAlert ?? job.onFailure ?? defaultFailureTargets, !targets.isEmpty else { return nil }
        return targets
    }

    /// The `alert.resolved` of an alert that went out (none otherwise), and the alert's row closed.
    func close(_ alert: JobAlert, job: Job, resolution: String, at date: Date) -> AlertChanges {
        var changes = AlertChanges()
        changes.closed.append(alert)
        if alert.alerted, let targets = alertTargets(job) {
            let event = NotificationEvent(
                alert: alert, resolved: true, job: job, settings: settings, at: date, resolution: resolution)
            changes.deliveries += deliveries(of: event, to: targets, job: job, record: nil, at: date)
        }
        return changes
    }

    /// Queues changes for the monitor and wakes it.
    func finish(_ changes: AlertChanges, jobID: String) {
        if !changes.isEmpty { book.withLock { $0.pending.append(changes) } }
        healthChanged(jobID)
        overdueChanged()
    }

    func countAlert(_ alert: JobAlert) {
        Counter(
            label: "tock_alerts_total", dimensions: [("job", alert.jobID), ("kind", alert.kind.rawValue)],
            factory: metrics
        ).increment()
    }

    /// Tells readers, and `tock_job_health{job, state}` (1 on the current state, 0 on the one before).
    func healthChanged(_ jobID: String) {
        let update: (old: JobHealth.State?, new: JobHealth.State)? = book.withLock { book in
            let alerts = Array((book.entries[jobID]?.alerts ?? book.restored[jobID] ?? [:]).values)
            let job = book.entries[jobID]?.job
            var state = alerts.map(\.kind.state).max() ?? .new
            if let last = book.lastFinal[jobID] {
                let failing = NotificationEventType.isFailing(last.state)
                let down = failing && job?.alertAfterFailures.map { last.failures >= $0 } == true
                state = max(state, down ? .down : failing ? .failing : .ok)
            }
            if book.entries[jobID]?.paused == true { state = max(state, .paused) }
            let old = book.reported[jobID]
            guard old != state else { return nil }
            book.reported[jobID] = state
            return (old, state)
        }
        if let update {
            if let old = update.old {
                Gauge(
                    label: "tock_job_health", dimensions: [("job", jobID), ("state", old.rawValue)], factory: metrics
                )
                .record(0)
            }
            Gauge(
                label: "tock_job_health", dimensions: [("job", jobID), ("state", update.new.rawValue)], factory: metrics
            )
            .record(1)
        }
        if let handler = changeHandler.withLock({ $0 }) { handler.call(jobID) }
    }
}
