import Foundation
import GRDB
import Testing
import TockCore
import TockSQLite

/// The outbox on a real SQLite file: written with the final record, once per event and target, claimed,
/// recorded, released after a crash, paged.
struct NotificationOutboxTests {
    let directory: URL
    let store: SQLiteJobStore
    let job: Job

    init() throws {
        directory = try NotificationTestSupport.temporaryDirectory()
        store = try SQLiteJobStore(path: directory.appendingPathComponent("tock.sqlite").path)
        job = try NotificationTestSupport.job(
            """
            [job.backup]
            schedule = "30 2 * * *"
            command = "backup"
            on_failure = { notify = ["ops"], webhook = "https://hooks.example.com/x" }
            """)
    }

    func planned(_ record: ExecutionRecord, at date: Date = Date(timeIntervalSince1970: 1_796_000_100)) async
        -> [NotificationDelivery]
    {
        var settings = NotificationSettings()
        settings.notifiers["ops"] = NotifierConfiguration(name: "ops", webhook: "https://alerts.example.com/tock")
        return await NotificationPlanner(settings: settings).deliveries(
            for: record, job: job, store: store, at: date)
    }

    @Test func finalRecordAndDeliveries_areWrittenTogether_once() async throws {
        let record = NotificationTestSupport.record(job, state: .failed)
        let deliveries = await planned(record)
        #expect(deliveries.map(\.target).sorted() == ["https://hooks.example.com/x", "notifier:ops"])
        #expect(Set(deliveries.map(\.eventID)) == ["evt_\(record.id)_failed"])
        try await store.save([record], enqueuing: deliveries)
        // The same record written again (a retried flush) with freshly planned deliveries: no second delivery.
        let replanned = await planned(record)
        try await store.save([record], enqueuing: replanned)
        let logged = try await store.deliveries(matching: NotificationQuery(executionID: record.id))
        #expect(logged.count == 2)
        #expect(logged.allSatisfy { $0.state == .pending && $0.attempts == 0 })
        #expect(try await store.execution(id: record.id)?.state == .failed)
        // No secret in the database: a named notifier is stored by name only.
        let database = try DatabaseQueue(path: directory.appendingPathComponent("tock.sqlite").path)
        let dump = try await database.read { db in
            try String.fetchAll(db, sql: "SELECT target || options || CAST(payload AS TEXT) FROM notification_delivery")
        }
        #expect(!dump.joined().contains("alerts.example.com"))
    }

    @Test func claim_record_release() async throws {
        let record = NotificationTestSupport.record(job, state: .failed)
        let deliveries = await planned(record)
        try await store.save([record], enqueuing: deliveries)
        let now = Date(timeIntervalSince1970: 1_796_000_200)
        #expect(try await store.nextDeliveryDue() == Date(timeIntervalSince1970: 1_796_000_100))
        let claimed = try await store.claimDueDeliveries(at: now, limit: 1)
        #expect(claimed.count == 1 && claimed[0].state == .delivering && !claimed[0].payload.isEmpty)
        #expect(try await store.claimDueDeliveries(at: now, limit: 10).count == 1, "the other one")
        #expect(try await store.nextDeliveryDue() == nil, "both claimed")
        let retryAt = now.addingTimeInterval(10)
        try await store.recordAttempt(
            deliveryID: claimed[0].id, state: .failed, at: now, nextAttemptAt: retryAt,
            attempt: DeliveryAttempt(.failed(retryAfter: nil), status: 500, error: "HTTP 500", responseExcerpt: "no"))
        #expect(try await store.nextDeliveryDue() == retryAt)
        #expect(try await store.claimDueDeliveries(at: now, limit: 10).isEmpty, "not due yet")
        // A daemon that died mid-delivery: the other one is still `delivering`; at start it is due again.
        #expect(try await store.releaseClaimedDeliveries() == 1)
        let failed = try #require(try await store.delivery(id: claimed[0].id))
        #expect(failed.state == .failed && failed.attempts == 1 && failed.lastStatus == 500)
        #expect(failed.lastError == "HTTP 500" && failed.responseExcerpt == "no")
        // A user's retry makes it due at once.
        let retried = try #require(try await store.retryDelivery(id: failed.id, at: now))
        #expect(retried.state == .pending && retried.nextAttemptAt == now)
        #expect(try await store.claimDueDeliveries(at: now, limit: 10).count == 2)
    }

    @Test func log_pagesNewestFirst_withFilters() async throws {
        for n in 0..<5 {
            let record = NotificationTestSupport.record(job, state: .failed)
            let deliveries = await planned(record, at: Date(timeIntervalSince1970: 1_796_000_000 + Double(n)))
            try await store.save([record], enqueuing: deliveries)
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
        #expect(
            NotificationCursor(NotificationCursor(createdAt: seen[4].createdAt, id: seen[4].id).text)?.id == seen[4].id)
        #expect(try await store.deliveries(matching: NotificationQuery(jobID: "other")).isEmpty)
        #expect(try await store.deliveries(matching: NotificationQuery(state: .delivered)).isEmpty)
        #expect(try await store.deliveries(matching: NotificationQuery(channel: .webhook)).count == 10)
    }
}
