import Foundation
import GRDB
import Testing
import TockCore
import TockSQLite
import TockTesting

/// The outbox on a real SQLite file: the shared contract, and no secret in the file.
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

    /// The outbox contract every store passes (the PostgreSQL store runs the same checks).
    @Test(arguments: NotificationOutboxContract.checks.map(\.0))
    func contract(_ name: String) async throws {
        let check = try #require(NotificationOutboxContract.checks.first { $0.0 == name }?.1)
        try await check(store)
    }
}
