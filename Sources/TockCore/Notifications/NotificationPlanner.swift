import CoreMetrics
import CronKit
import Foundation
import Synchronization
import TockJSON

/// Decides, when a run reaches its final state (after its retries), which deliveries it causes: the events of
/// `on_failure`, `on_success`, `on_recovery` and cron's output mail of `mail_to`. The scheduler writes them with
/// the final record, in one transaction; the ``NotificationDeliveryService`` sends them.
///
/// It keeps each job's streak of failing runs (to tell a recovery and to count failures), read from the store the
/// first time a job with notifications needs it.
public final class NotificationPlanner: Sendable {
    public let settings: NotificationSettings
    let streaks = Mutex<[String: Streak]>([:])
    /// Running executions of jobs with `warn_after`, by execution id.
    let overdue = Mutex<[String: OverdueWatch]>([:])
    private let wake: @Sendable () -> Void
    /// Wakes the ``JobHealthMonitor`` when a watched run starts or a health timer changes.
    let overdueSignal = WakeSignal()
    /// Each job's health timers and open alerts.
    let book = Mutex(HealthBook())
    /// A closure boxed in a class: a closure returned out of `Mutex.withLock` (a generic) was reabstracted into a
    /// new context at every call, and that context was never freed (~32 bytes a run, found by heaptrack over an
    /// hour of every-second jobs).
    let changeHandler = Mutex<HealthChangeHandler?>(nil)

    final class HealthChangeHandler: Sendable {
        let call: @Sendable (String) -> Void
        init(_ call: @escaping @Sendable (String) -> Void) { self.call = call }
    }
    let metrics: any MetricsFactory

    struct Streak: Sendable {
        /// Failing runs in a row, newest first.
        var failures: Int
        /// The newest final state that counts (failing or succeeded).
        var last: ExecutionState?
    }

    /// - Parameter wake: called once deliveries are in the store (the delivery worker's wake-up).
    public init(
        settings: NotificationSettings, metrics: any MetricsFactory = MetricsSystem.factory,
        wake: @escaping @Sendable () -> Void = {}
    ) {
        self.settings = settings
        self.metrics = metrics
        self.wake = wake
    }

    /// Tells the delivery worker that new deliveries are in the store.
    public func enqueued() { wake() }

    func overdueChanged() { overdueSignal.signal() }

    /// The deliveries a run's final record causes (none for a stopped, skipped or missed run without output).
    public func deliveries(for record: ExecutionRecord, job: Job, store: any JobStore, at date: Date) async
        -> [NotificationDelivery]
    {
        guard record.state.isFinal else { return [] }
        var deliveries = endOverdueWatch(record, job: job, at: date)
        defer { healthChanged(job.id) }
        if let mailTo = job.mailTo, !mailTo.isEmpty, record.stdoutBytes + record.stderrBytes > 0,
            let mail = outputMail(to: mailTo, job: job, record: record, at: date)
        {
            deliveries.append(mail)
        }
        let failing = NotificationEventType.isFailing(record.state)
        let succeeded = record.state == .succeeded
        let known = streaks.withLock { $0[job.id] }
        deliveries += healthRunEnded(
            record, job: job, failures: known.map { failing ? $0.failures + 1 : 0 }, at: date)
        guard failing || succeeded else { return deliveries }
        let failureTargets = job.onFailure ?? defaultFailureTargets
        // The job's failing streak (read from the store the first time) is needed for failures, recoveries and
        // streak alerts; a success of a job with only `on_success` needs none (no history read in a burst).
        let needsStreak =
            job.alertAfterFailures != nil || (failing && failureTargets != nil)
            || (succeeded && (job.onRecovery ?? failureTargets) != nil)
        if !needsStreak && known == nil {
            if succeeded, let targets = job.onSuccess, !targets.isEmpty {
                let event = NotificationEvent(
                    type: .executionSucceeded, job: job, record: record, previousState: nil, consecutiveFailures: 0,
                    settings: settings, at: date)
                deliveries += self.deliveries(of: event, to: targets, job: job, record: record, at: date)
            }
            return deliveries
        }
        var streak: Streak
        if let known {
            streak = known
        } else {
            streak = await loadStreak(jobID: job.id, excluding: record.id, store: store)
        }
        let previous = streak
        streak.failures = failing ? streak.failures + 1 : 0
        streak.last = record.state
        let updated = streak
        streaks.withLock { $0[job.id] = updated }
        Gauge(label: "tock_job_consecutive_failures", dimensions: [("job", job.id)], factory: metrics)
            .record(updated.failures)

        func add(_ type: NotificationEventType, _ targets: Notification?, alert: JSONValue = .null) {
            guard let targets, !targets.isEmpty else { return }
            let event = NotificationEvent(
                type: type, job: job, record: record, previousState: previous.last,
                consecutiveFailures: updated.failures, settings: settings, at: date, alert: alert)
            deliveries += self.deliveries(of: event, to: targets, job: job, record: record, at: date)
        }
        if failing { add(.executionFailed, failureTargets) }
        if succeeded {
            add(.executionSucceeded, job.onSuccess)
            if previous.failures > 0 { add(.executionRecovered, job.onRecovery ?? failureTargets) }
        }
        // Health: `job.down` when the streak reaches the threshold (once per streak: alerts on transitions only),
        // `alert.resolved` at the success that ends a streak that was alerted. Whether an alert went out follows
        // from the streak itself, so a restart (which reads the streak back) keeps it.
        if let threshold = job.alertAfterFailures {
            let alertTargets = job.onAlert ?? failureTargets
            if failing && updated.failures == threshold {
                add(
                    .jobDown, alertTargets,
                    alert: .object([
                        ("kind", "failures"), ("state", "down"),
                        ("detail", .string("\(threshold) failing runs in a row")),
                    ]))
            }
            if succeeded && previous.failures >= threshold {
                add(
                    .alertResolved, alertTargets,
                    alert: .object([
                        ("kind", "failures"), ("state", "ok"),
                        ("detail", .string("succeeded after \(previous.failures) failing runs")),
                    ]))
            }
        }
        return deliveries
    }

    var defaultFailureTargets: Notification? {
        settings.defaultOnFailure.isEmpty ? nil : Notification(notify: settings.defaultOnFailure)
    }

    /// The streak before this run, from the job's newest executions.
    private func loadStreak(jobID: String, excluding id: String, store: any JobStore) async -> Streak {
        let recent = (try? await store.recentExecutions(jobIDs: [jobID], perJob: 100))?[jobID] ?? []
        var streak = Streak(failures: 0, last: nil)
        for e in recent where e.id != id {
            if NotificationEventType.isFailing(e.state) {
                if streak.last == nil || NotificationEventType.isFailing(streak.last!) {
                    streak.failures += 1
                    streak.last = streak.last ?? e.state
                    continue
                }
                break
            } else if e.state == .succeeded {
                if streak.last == nil { streak.last = .succeeded }
                break
            }
        }
        return streak
    }

    /// One delivery per target of `targets`.
    func deliveries(
        of event: NotificationEvent, to targets: Notification, job: Job, record: ExecutionRecord?, at date: Date
    ) -> [NotificationDelivery] {
        let payload = event.json.jsonBytes
        var result: [NotificationDelivery] = []
        func make(
            _ channel: NotificationDelivery.Channel, _ target: String, _ options: [String: String] = [:],
            _ body: [UInt8]? = nil
        ) {
            result.append(
                NotificationDelivery(
                    eventID: event.id, eventType: event.type.rawValue, jobID: job.id, executionID: record?.id,
                    channel: channel, target: target, options: options, payload: body ?? payload, createdAt: date))
        }
        var runAs: [String: String] = [:]
        if let user = job.user { runAs["user"] = user }
        for name in targets.notify {
            let notifier = settings.notifiers[name]
            if notifier?.webhook != nil || notifier == nil { make(.webhook, "notifier:\(name)") }
            if notifier?.command != nil { make(.command, "notifier:\(name)", runAs) }
            if let mail = notifier?.mail {
                make(.mail, "notifier:\(name)", [:], summaryMail(event, to: mail))
            }
        }
        if let webhook = targets.webhook { make(.webhook, webhook) }
        if let command = targets.command { make(.command, command, runAs) }
        if let mail = targets.mail { make(.mail, mail, [:], summaryMail(event, to: mail)) }
        return result
    }

    private func summaryMail(_ event: NotificationEvent, to: String) -> [UInt8] {
        CronMail.summary(
            eventText: event.json["text"]?.stringValue ?? event.type.rawValue, eventJSON: event.json.jsonBytes, to: to,
            from: settings.mailFrom, host: settings.host)
    }

    /// cron's output mail for `mail_to`, or `nil` when cron would not mail (an unsafe address).
    private func outputMail(to: String, job: Job, record: ExecutionRecord, at date: Date) -> NotificationDelivery? {
        // cronie checks MAILTO whole: "a@x,b@y" is mailed, "a@x, b@y" (a blank) is not.
        guard CronMail.isSafe(to) else { return nil }
        let from = CronMail.sender(environment: job.environment, default: settings.mailFrom)
        let user = job.user ?? UserAccount.lookup(uid: geteuid())?.name ?? settings.environment["USER"] ?? "root"
        let message = CronMail.message(
            job: job, record: record, to: to, from: from, user: user, host: settings.host,
            environment: job.environment, cronEnvironment: settings.mailCronEnvironment)
        var options = ["from": from]
        if let runAs = job.user { options["user"] = runAs }
        return NotificationDelivery(
            eventID: NotificationEvent.eventID(type: .executionOutput, executionID: record.id),
            eventType: NotificationEventType.executionOutput.rawValue, jobID: job.id, executionID: record.id,
            channel: .mail, target: to, options: options, payload: message, createdAt: date)
    }
}

extension NotificationPlanner {
    /// A `test` event to a named notifier, one delivery per channel it has (a notifier's test-send).
    public func testDeliveries(notifier name: String, at date: Date) -> [NotificationDelivery] {
        let event = NotificationEvent(testFor: name, settings: settings, at: date)
        let job = Job(
            id: "", schedule: .reboot, action: .command("", shell: "/bin/sh"), name: "test")
        return deliveries(of: event, to: Notification(notify: [name]), job: job, record: nil, at: date)
    }
}

extension NotificationPlanner {
    /// The `execution.failed` deliveries of a run found interrupted at start (synchronous: planned inside the
    /// recovery's transaction; the previous state is not read, so `previous_state` is null).
    public func interruptedDeliveries(for record: ExecutionRecord, job: Job, at date: Date) -> [NotificationDelivery] {
        guard let targets = job.onFailure ?? defaultFailureTargets, !targets.isEmpty else { return [] }
        let failures = streaks.withLock { streaks in
            var streak = streaks[job.id] ?? Streak(failures: 0, last: nil)
            streak.failures += 1
            streak.last = .interrupted
            streaks[job.id] = streak
            return streak.failures
        }
        let event = NotificationEvent(
            type: .executionFailed, job: job, record: record, previousState: nil, consecutiveFailures: failures,
            settings: settings, at: date)
        return deliveries(of: event, to: targets, job: job, record: record, at: date)
    }
}
