import CronKit
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import TockCore
import TockHTTP
import TockJSON
import TockTesting

/// What the API does when its store fails: a JSON 500 for that request, and the next request tries again (a
/// failed render of the job list is not kept and handed to later requests).
@Suite(.timeLimit(.minutes(1)))
struct StoreFailureTests {
    @Test func failedRead_isA500_andTheNextRequestSucceeds() async throws {
        let store = InMemoryJobStore()
        var logger = Logger(label: "tock-test")
        logger.logLevel = .critical
        let job = Job(id: "a", schedule: .every(seconds: 3600), action: .command("true", shell: "/bin/sh"))
        let scheduler = Scheduler(
            jobs: [job], store: store, runner: RecordingJobRunner(clock: SystemWallClock()), logger: logger)
        let api = TockAPI(scheduler: scheduler, store: store)
        let router = Router(context: TockRequestContext.self)
        api.addRoutes(to: router)
        let loop = Task { try await scheduler.run() }
        defer { loop.cancel() }
        try await eventually("started") { scheduler.version > 0 }
        try await Application(router: router, logger: logger).test(.router) { client in
            store.failNextReads(1)
            let failed = try await client.execute(uri: "/api/v1/jobs", method: .get)
            #expect(failed.status == .internalServerError)
            #expect(try json(failed)["error"]?.stringValue?.contains("injected store failure") == true)
            let again = try await client.execute(uri: "/api/v1/jobs", method: .get)
            #expect(again.status == .ok)
            #expect(try json(again)["counts"]?["total"] == 1)
            store.failNextReads(1)
            let page = try await client.execute(uri: "/api/v1/executions?job_id=a", method: .get)
            #expect(try page.status == .internalServerError && json(page)["error"] != nil)
        }
    }
}
