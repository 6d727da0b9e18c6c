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
        changeHandler.withLock { $0 = handler }
    }

    func alertTargets(_ job: Job) -> Notification? {
        guard let targets = job.onAlert ?? job.onFailure ?? defaultFailureTargets, !targets.isEmpty else { return nil }
        return targets
    }

    /// The `alert.resolved` of an alert that went out (none otherwise), and the alert's row closed.
    private func close(_ alert: JobAlert, job: Job, resolution: String, at date: Date) -> AlertChanges {
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
    private func finish(_ changes: AlertChanges, jobID: String) {
        if !changes.isEmpty { book.withLock { $0.pending.append(changes) } }
        healthChanged(jobID)
        overdueChanged()
    }

    private func countAlert(_ alert: JobAlert) {
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
        if let handler = changeHandler.withLock({ $0 }) { handler(jobID) }
    }
}
