import Foundation
import Testing
import TockCore
import TockSQLite
import TockTesting

/// The scheduler with a planner, a real SQLite outbox and real processes: events on final states only.
@Suite(.timeLimit(.minutes(1)))
struct NotificationSchedulerTests {
    @Test func oneEventAfterTheRetries_thenOneRecovery() async throws {
        let directory = try NotificationTestSupport.temporaryDirectory()
        let store = try SQLiteJobStore(path: directory.appendingPathComponent("tock.sqlite").path)
        let marker = directory.appendingPathComponent("fixed").path
        let job = try NotificationTestSupport.job(
            """
            [job.flaky]
            schedule = "@daily"
            command = "test -f \(marker)"
            retries = 2
            retry_delay = "10ms"
            on_failure = { command = "true" }
            """)
        var configuration = SchedulerConfiguration(host: "test")
        configuration.notifications = NotificationPlanner(settings: NotificationSettings())
        let scheduler = Scheduler(
            jobs: [job], store: store, runner: ProcessJobRunner(), configuration: configuration,
            logger: NotificationTestSupport.quietLogger)
        let task = Task { try await scheduler.run() }
        defer { task.cancel() }
        // Started: a run asked for before the start-up recovery would be marked interrupted by it.
        try await eventually("scheduled") { await !scheduler.nextFireTimes().isEmpty }

        func runAndWait() async throws -> (ExecutionRecord, [NotificationDelivery]) {
            var id = ""
            try await eventually("run now accepted") {
                guard let started = try? await scheduler.runNow(jobID: "flaky") else { return false }
                id = started
                return true
            }
            var result: (ExecutionRecord, [NotificationDelivery])?
            try await eventually("final and written") {
                guard let record = try await store.execution(id: id), record.state.isFinal else { return false }
                result = (record, try await store.deliveries(matching: NotificationQuery(executionID: id)))
                return true
            }
            return try #require(result)
        }

        let (failed, failedDeliveries) = try await runAndWait()
        #expect(failed.state == .failed && failed.attempt == 3, "\(failed)")
        #expect(failedDeliveries.map(\.eventType) == ["execution.failed"], "one event for three attempts")
        #expect(failedDeliveries.first?.channel == .command)

        FileManager.default.createFile(atPath: marker, contents: nil)
        let (recovered, recoveredDeliveries) = try await runAndWait()
        #expect(recovered.state == .succeeded)
        #expect(recoveredDeliveries.map(\.eventType) == ["execution.recovered"], "to on_failure's targets")
        let (_, quiet) = try await runAndWait()
        #expect(quiet.isEmpty, "a success after a success notifies nobody without on_success")
    }
}
