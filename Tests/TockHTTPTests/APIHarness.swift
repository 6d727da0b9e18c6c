import CronKit
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import Testing
import TockCore
import TockHTTP
import TockJSON
import TockSQLite
import TockTesting

/// The API over real parts: a SQLite file in a temporary directory, the real process runner (`/bin/sh`), a
/// running scheduler; requests go through Hummingbird's router test client.
final class APIHarness: Sendable {
    let directory: URL
    let store: SQLiteJobStore
    let scheduler: Scheduler
    let api: TockAPI
    let routes: [TockAPI.Route]
    let app: Application<RouterResponder<TockRequestContext>>

    /// A file job (read-only through the API), for the 409 cases.
    static let fileJob = """
        [job.from-file]
        schedule = "@yearly"
        command = "echo from a file"
        tags = ["nightly"]
        """

    /// - Parameters:
    ///   - access: the authentication in force, made over the harness's store (default: off, every caller `local`).
    init(
        maxConcurrentRuns: Int = 64, access: ((SQLiteJobStore) -> AccessControl)? = nil,
        jobPolicy: JobCatalog.Policy = JobCatalog.Policy()
    ) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tock-api-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try SQLiteJobStore(path: directory.appendingPathComponent("tock.sqlite").path)
        let parsed = JobDefinitionReader.parse(Self.fileJob, file: "jobs.d/file.toml")
        var logger = Logger(label: "tock-test")
        logger.logLevel = .warning
        // Metrics as `tock serve` has them: swift-metrics into a Prometheus registry of this harness's own.
        let registry = PrometheusCollectorRegistry()
        scheduler = Scheduler(
            jobs: parsed.jobs, store: store, runner: ProcessJobRunner(),
            configuration: SchedulerConfiguration(
                host: "test-host", maxConcurrentRuns: maxConcurrentRuns,
                metrics: SchedulerMetrics(factory: PrometheusMetricsFactory(registry: registry))),
            logger: logger)
        api = TockAPI(
            scheduler: scheduler, store: store, access: access?(store) ?? .open(), jobPolicy: jobPolicy,
            metricsText: { registry.emitToString() })
        let (router, routes) = api.buildRouter(webDirectory: nil, logger: logger)
        self.routes = routes
        app = Application(router: router, logger: logger)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Runs the scheduler while `body` talks to the API.
    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let scheduler = self.scheduler
        let loop = Task { try await scheduler.run() }
        defer { loop.cancel() }
        try await eventually("scheduler started") { await scheduler.jobCount > 0 && scheduler.version > 0 }
        try await app.test(.router) { client in try await body(client) }
    }
}

/// A response's JSON.
func json(_ response: TestResponse) throws -> JSONValue {
    try JSONValue.parse(Array(response.body.readableBytesView))
}

func text(_ response: TestResponse) -> String { String(buffer: response.body) }

let jsonHeaders: HTTPFields = [.contentType: "application/json"]

extension TestClientProtocol {
    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await execute(uri: uri, method: .get, headers: headers)
    }

    func send(_ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil, headers: HTTPFields = jsonHeaders)
        async throws -> TestResponse
    {
        try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }

    /// Creates a job from a JSON body; returns its id.
    func create(_ body: String) async throws -> String {
        let response = try await send(.post, "/api/v1/jobs", body)
        #expect(response.status == .created, "\(text(response))")
        return try #require(try json(response)["job_id"]?.stringValue)
    }

    /// Waits for an execution to reach a final state; returns its JSON.
    func finished(_ id: String) async throws -> JSONValue {
        var last: JSONValue = .null
        try await eventually("execution \(id) finished") {
            last = try json(try await get("/api/v1/executions/\(id)"))
            let state = last["state"]?.stringValue ?? ""
            return !["running", "scheduled", ""].contains(state)
        }
        return last
    }
}
