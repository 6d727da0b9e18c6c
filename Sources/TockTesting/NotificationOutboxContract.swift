import Foundation
import Testing
import TockCore

/// The behaviour every ``NotificationOutbox`` must have (the SQLite and the PostgreSQL store run every check against a
/// fresh store): deliveries written with their final record, once per event and target; claimed, recorded,
/// released, retried; paged newest first; planned inside start-up recovery; pruned with their execution.
public enum NotificationOutboxContract {
    public typealias Store = any JobStore & NotificationOutbox

    public static let checks: [(String, @Sendable (Store) async throws -> Void)] = [
        ("writesFinalRecordAndDeliveriesTogetherOnce", writesFinalRecordAndDeliveriesTogetherOnce),
        ("claimsRecordsReleasesAndRetries", claimsRecordsReleasesAndRetries),
        ("pagesTheLogNewestFirstWithFilters", pagesTheLogNewestFirstWithFilters),
        ("plansDeliveriesInsideRecovery", plansDeliveriesInsideRecovery),
        ("prunesFinishedDeliveriesWithTheirExecution", prunesFinishedDeliveriesWithTheirExecution),
        ("keepsOpenAlertsWithTheirDeliveries", keepsOpenAlertsWithTheirDeliveries),
    ]

    /// Job health's timer alerts (``JobAlertStore``): opened and closed with their deliveries in one write, one per
    /// job and kind, kept exactly (the time to the millisecond, the text, whether it went out, its event id).
    public static func keepsOpenAlertsWithTheirDeliveries(_ store: Store) async throws {
        let alerts = try #require(store as? any JobAlertStore, "the store keeps job alerts")
        func alert(_ job: String, _ kind: JobAlert.Kind, _ id: String) -> JobAlert {
            JobAlert(
                jobID: job, kind: kind, since: t0.addingTimeInterval(0.25), detail: "no successful run for 1d2h",
                alerted: kind != .late, eventID: id)
        }
        func delivery(_ event: String) -> NotificationDelivery {
            NotificationDelivery(
                eventID: event, eventType: "job.down", jobID: "backup", executionID: nil, channel: .webhook,
                target: "notifier:ops", payload: Array("{}".utf8), createdAt: t0)
        }
        let down = alert("backup", .maxAge, "evt_alert_1")
        let late = alert("report", .late, "evt_alert_2")
        try await alerts.recordAlerts(opened: [down, late], closed: [], enqueuing: [delivery("evt_alert_1")])
        let open = try await alerts.openAlerts().sorted { $0.jobID < $1.jobID }
        #expect(open == [down, late], "\(open)")
        #expect(
            try await store.deliveries(matching: NotificationQuery(jobID: "backup")).map(\.eventID) == ["evt_alert_1"])
        // Closed with its resolution; an alert opened and closed in one write leaves no row.
        let brief = alert("nightly", .missed, "evt_alert_3")
        try await alerts.recordAlerts(
            opened: [brief], closed: [down, brief], enqueuing: [delivery("evt_alert_1_resolved")])
        #expect(try await alerts.openAlerts() == [late])
        #expect(try await store.deliveries(matching: NotificationQuery(jobID: "backup")).count == 2)
        // One per job and kind: a new alert of the same kind replaces the row.
        let again = alert("report", .late, "evt_alert_4")
        try await alerts.recordAlerts(opened: [again], closed: [], enqueuing: [])
        #expect(try await alerts.openAlerts() == [again])
    }

    public static let t0 = Date(timeIntervalSince1970: 1_796_000_000)

    /// A job that notifies a named notifier and an inline webhook of its failures.
    public static func job() throws -> Job {
        let parsed = JobDefinitionReader.parse(
            """
            [job.backup]
            schedule = "30 2 * * *"
            command = "backup"
            on_failure = { notify = ["ops"], webhook = "https://hooks.example.com/x" }
            """, file: "contract.toml")
        return try #require(parsed.jobs.first)
    }

    public static var planner: NotificationPlanner {
        var settings = NotificationSettings()
        settings.notifiers["ops"] = NotifierConfiguration(name: "ops", webhook: "https://alerts.example.com/tock")
        return NotificationPlanner(settings: settings)
    }

    /// A finished record of `job`.
    public static func record(_ job: Job, state: ExecutionState, at date: Date = t0) -> ExecutionRecord {
        var record = ExecutionRecord(
            jobID: job.id, state: state, trigger: .manual, scheduledAt: date, host: "db1.example.com")
        record.startedAt = date
        record.endedAt = date.addingTimeInterval(41)
        record.exitCode = state == .succeeded ? 0 : 1
        record.stdout = Array("some output".utf8)
        record.stdoutBytes = record.stdout.count
        return record
    }

    static func planned(
        _ record: ExecutionRecord, _ job: Job, _ store: Store, at date: Date = t0.addingTimeInterval(100)
    ) async -> [NotificationDelivery] {
        await planner.deliveries(for: record, job: job, store: store, at: date)
    }

    static func writesFinalRecordAndDeliveriesTogetherOnce(_ store: Store) async throws {
        let job = try job()
        let record = record(job, state: .failed)
        let deliveries = await planned(record, job, store)
        #expect(deliveries.map(\.target).sorted() == ["https://hooks.example.com/x", "notifier:ops"])
        #expect(Set(deliveries.map(\.eventID)) == ["evt_\(record.id)_failed"])
        try await store.save([record], enqueuing: deliveries)
        // The same record written again (a retried flush) with freshly planned deliveries: no second delivery.
        try await store.save([record], enqueuing: await planned(record, job, store))
        let logged = try await store.deliveries(matching: NotificationQuery(executionID: record.id))
        #expect(logged.count == 2)
        #expect(logged.allSatisfy { $0.state == .pending && $0.attempts == 0 && $0.payload.isEmpty }, "no payload")
        #expect(try await store.execution(id: record.id) == record)
        // One delivery, whole: its payload and options as planned.
        let one = try #require(deliveries.first)
        let read = try #require(try await store.delivery(id: one.id))
        #expect(read == one)
        // Enqueued alone (a test event), and again: once.
        var alone = one
        alone.id = "lone-delivery"
        alone.eventID = "evt_test_1"
        alone.executionID = nil
        try await store.enqueue([alone])
        try await store.enqueue([alone])
        #expect(try await store.delivery(id: alone.id) == alone)
        #expect(try await store.deliveries(matching: NotificationQuery(jobID: job.id)).count == 3)
    }

    static func claimsRecordsReleasesAndRetries(_ store: Store) async throws {
        let job = try job()
        let record = record(job, state: .failed)
        try await store.save([record], enqueuing: await planned(record, job, store))
        let now = t0.addingTimeInterval(200)
        #expect(try await store.nextDeliveryDue() == t0.addingTimeInterval(100))
        #expect(try await store.claimDueDeliveries(at: t0.addingTimeInterval(99), limit: 10).isEmpty, "not due yet")
        let claimed = try await store.claimDueDeliveries(at: now, limit: 1)
        #expect(claimed.count == 1 && claimed[0].state == .delivering && !claimed[0].payload.isEmpty)
        #expect(try await store.claimDueDeliveries(at: now, limit: 10).count == 1, "the other one")
        #expect(try await store.claimDueDeliveries(at: now, limit: 10).isEmpty, "both claimed")
        #expect(try await store.nextDeliveryDue() == nil, "both claimed")
        #expect(try await store.retryDelivery(id: claimed[0].id, at: now) == nil, "being delivered")
        let retryAt = now.addingTimeInterval(10)
        try await store.recordAttempt(
            deliveryID: claimed[0].id, state: .failed, at: now, nextAttemptAt: retryAt,
            attempt: DeliveryAttempt(.failed(retryAfter: nil), status: 500, error: "HTTP 500", responseExcerpt: "no"))
        #expect(try await store.nextDeliveryDue() == retryAt)
        #expect(try await store.claimDueDeliveries(at: now, limit: 10).isEmpty, "not due yet")
        // A daemon that died mid-delivery: the other one is still `delivering`; at start it is due again.
        #expect(try await store.releaseClaimedDeliveries() == 1)
        #expect(try await store.releaseClaimedDeliveries() == 0)
        let failed = try #require(try await store.delivery(id: claimed[0].id))
        #expect(failed.state == .failed && failed.attempts == 1 && failed.lastStatus == 500)
        #expect(failed.lastError == "HTTP 500" && failed.responseExcerpt == "no" && failed.lastAttemptAt == now)
        #expect(failed.deliveredAt == nil)
        // A user's retry makes it due at once.
        let retried = try #require(try await store.retryDelivery(id: failed.id, at: now))
        #expect(retried.state == .pending && retried.nextAttemptAt == now)
        #expect(try await store.retryDelivery(id: "missing", at: now) == nil)
        let both = try await store.claimDueDeliveries(at: now, limit: 10)
        #expect(both.count == 2)
        // Delivered: its time recorded, never due again.
        for delivery in both {
            try await store.recordAttempt(
                deliveryID: delivery.id, state: .delivered, at: now.addingTimeInterval(1), nextAttemptAt: nil,
                attempt: DeliveryAttempt(.delivered, status: 204))
        }
        let done = try await store.deliveries(matching: NotificationQuery(state: .delivered))
        #expect(done.count == 2 && done.allSatisfy { $0.deliveredAt == now.addingTimeInterval(1) })
        #expect(try await store.nextDeliveryDue() == nil)
        #expect(try await store.releaseClaimedDeliveries() == 0)
    }

    static func pagesTheLogNewestFirstWithFilters(_ store: Store) async throws {
        let job = try job()
        for n in 0..<5 {
            let record = record(job, state: .failed, at: t0.addingTimeInterval(Double(n)))
            try await store.save(
                [record], enqueuing: await planned(record, job, store, at: t0.addingTimeInterval(Double(n))))
        }
        var seen: [NotificationDelivery] = []
        var cursor: NotificationCursor?
        repeat {
            let page = try await store.deliveries(matching: NotificationQuery(jobID: "backup", limit: 3, after: cursor))
            seen += page
            cursor = page.count == 3 ? page.last.map { NotificationCursor(createdAt: $0.createdAt, id: $0.id) } : nil
        } while cursor != nil
        #expect(seen.count == 10 && Set(seen.map(\.id)).count == 10)
        #expect(zip(seen, seen.dropFirst()).allSatisfy { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) })
        // A cursor through its text form reads the same page.
        let text = NotificationCursor(createdAt: seen[4].createdAt, id: seen[4].id).text
        let after = try await store.deliveries(
            matching: NotificationQuery(jobID: "backup", limit: 100, after: NotificationCursor(text)))
        #expect(after.map(\.id) == seen[5...].map(\.id))
        #expect(try await store.deliveries(matching: NotificationQuery(jobID: "other")).isEmpty)
        #expect(try await store.deliveries(matching: NotificationQuery(state: .delivered)).isEmpty)
        #expect(try await store.deliveries(matching: NotificationQuery(channel: .webhook)).count == 10)
        #expect(try await store.deliveries(matching: NotificationQuery(channel: .mail)).isEmpty)
        #expect(try await store.deliveries(matching: NotificationQuery(limit: 0)).isEmpty)
    }

    static func plansDeliveriesInsideRecovery(_ store: Store) async throws {
        let job = try job()
        var running = record(job, state: .running)
        running.endedAt = nil
        running.exitCode = nil
        let done = record(job, state: .succeeded, at: t0.addingTimeInterval(-60))
        try await store.save([running, done])
        let planner = planner
        let at = t0.addingTimeInterval(600)
        let recovered = try await store.recoverInterruptedExecutions(at: at) { record in
            planner.interruptedDeliveries(for: record, job: job, at: at)
        }
        #expect(recovered.map(\.id) == [running.id])
        #expect(try await store.execution(id: running.id)?.state == .interrupted)
        let deliveries = try await store.deliveries(matching: NotificationQuery(executionID: running.id))
        #expect(deliveries.count == 2)
        #expect(deliveries.allSatisfy { $0.eventID == "evt_\(running.id)_failed" && $0.createdAt == at })
        // Nothing left to recover, nothing planned again.
        #expect(
            try await store.recoverInterruptedExecutions(at: at) { _ in
                Issue.record("planned again"); return []
            }.isEmpty)
        #expect(try await store.deliveries(matching: NotificationQuery(jobID: job.id)).count == 2)
    }

    static func prunesFinishedDeliveriesWithTheirExecution(_ store: Store) async throws {
        let job = try job()
        let old = record(job, state: .failed, at: t0.addingTimeInterval(-86_400))
        let kept = record(job, state: .failed)
        let oldDeliveries = await planned(old, job, store)
        try await store.save([old, kept], enqueuing: oldDeliveries + (await planned(kept, job, store)))
        // One of the old execution's deliveries is finished, the other still waits: only the finished one goes.
        let now = t0.addingTimeInterval(200)
        let claimed = try await store.claimDueDeliveries(at: now, limit: 10)
        let finished = try #require(claimed.first { $0.executionID == old.id })
        let waiting = try #require(claimed.first { $0.executionID == old.id && $0.id != finished.id })
        try await store.recordAttempt(
            deliveryID: finished.id, state: .abandoned, at: now, nextAttemptAt: nil,
            attempt: DeliveryAttempt(.abandoned, status: 410))
        try await store.recordAttempt(
            deliveryID: waiting.id, state: .failed, at: now, nextAttemptAt: now,
            attempt: DeliveryAttempt(.failed(retryAfter: nil), status: 503))
        #expect(try await store.prune(keepPerJob: 10, olderThan: t0.addingTimeInterval(-3600)) == 1)
        #expect(try await store.execution(id: old.id) == nil)
        #expect(try await store.delivery(id: finished.id) == nil)
        #expect(try await store.delivery(id: waiting.id)?.state == .failed)
        #expect(try await store.deliveries(matching: NotificationQuery(executionID: kept.id)).count == 2)
    }
}
