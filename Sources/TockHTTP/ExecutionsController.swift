import CronKit
import Foundation
import HTTPTypes
import Hummingbird
import TockCore
import TockJSON

/// `/api/v1/executions`: run now, list, read, stop, and output (whole, or live as server-sent events).
struct ExecutionsController<Context: AccessRequestContext>: Sendable {
    let api: TockAPI

    var scheduler: Scheduler { api.scheduler }
    var store: any JobStore { api.store }

    func addRoutes(to routes: inout RouteTable<Context>) {
        // One template for both meanings (run a job now; read or stop an execution), as ndscheduler has it.
        routes.on(.post, "/api/v1/executions/{id}", .operator) { request, context in
            try await runNow(request, context, try context.parameters.require("id"))
        }
        routes.on(.get, "/api/v1/executions", .viewer) { request, context in
            try await listExecutions(request, context)
        }
        routes.on(.get, "/api/v1/executions/{id}", .viewer) { _, context in
            try await getExecution(try context.parameters.require("id"), context)
        }
        routes.on(.delete, "/api/v1/executions/{id}", .operator) { _, context in
            try await stopExecution(context, try context.parameters.require("id"))
        }
        routes.on(.get, "/api/v1/executions/{id}/output", .viewer) { request, context in
            let id = try context.parameters.require("id")
            try await api.requireVisible(executionID: id, context)
            return try await output(request, id)
        }
    }

    func runNow(_ request: Request, _ context: Context, _ jobID: String) async throws -> Response {
        try await api.requireVisible(jobID: jobID, context)
        let force =
            request.uri.queryParameters.get("force").map { ["true", "1", "yes"].contains($0.lowercased()) } ?? false
        let key = try Self.idempotencyKey(request)
        let run = try await api.catalog.runNow(
            jobID: jobID, force: force, idempotencyKey: key, user: api.user(context))
        var response = JSONResponse.make(
            .object([("execution_id", .string(run.executionID)), ("job_id", .string(jobID))]))
        // A retry answered with the run its key recorded (the body is the same): said in a header, as Stripe does.
        if run.replayed { response.headers[Self.replayedHeader] = "true" }
        return response
    }

    static var idempotencyHeader: HTTPField.Name { HTTPField.Name("Idempotency-Key")! }
    static var replayedHeader: HTTPField.Name { HTTPField.Name("Idempotent-Replayed")! }

    /// The `Idempotency-Key` header of a run-now request: 1 to 200 characters, none of them a control character.
    static func idempotencyKey(_ request: Request) throws -> String? {
        let values = request.headers[values: idempotencyHeader]
        guard let key = values.first else { return nil }
        guard values.count == 1 else {
            throw APIError(.badRequest, "Idempotency-Key: send the header once", field: "Idempotency-Key")
        }
        guard !key.isEmpty else {
            throw APIError(.badRequest, "Idempotency-Key: the key is empty", field: "Idempotency-Key")
        }
        guard key.count <= 200 else {
            throw APIError(
                .badRequest, "Idempotency-Key: the key has \(key.count) characters; at most 200 are allowed",
                field: "Idempotency-Key")
        }
        guard !key.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw APIError(
                .badRequest, "Idempotency-Key: the key contains a control character", field: "Idempotency-Key")
        }
        return key
    }

    func listExecutions(_ request: Request, _ context: Context) async throws -> Response {
        let params = request.uri.queryParameters
        var query = ExecutionQuery()
        query.jobIDs = await api.visibleJobIDs(context)
        query.jobID = params.get("job_id").flatMap { $0.isEmpty ? nil : $0 }
        // `+` is a space in a query (`state=scheduled+error`, as HTML forms and many clients write it).
        if let text = params.get("state")?.replacingOccurrences(of: "+", with: " "), !text.isEmpty {
            guard let state = ExecutionState(rawValue: text) else {
                throw APIError(
                    .badRequest,
                    "'\(text)' is not a state (\(ExecutionState.allCases.map(\.rawValue).joined(separator: ", ")))",
                    field: "state")
            }
            query.state = state
        }
        if let text = params.get("cursor"), !text.isEmpty {
            guard let cursor = ExecutionCursor(text) else {
                throw APIError(.badRequest, "'\(text)' is not a cursor from a previous page", field: "cursor")
            }
            query.after = cursor
        }
        query.limit = try RequestParsing.int(params.get("limit"), name: "limit", range: 1...1000) ?? 100
        let (from, to) = try RequestParsing.timeRange(
            params, now: api.clock.now, defaultWindow: query.jobID == nil && query.state == nil && query.after == nil)
        query.from = from
        query.to = to
        let executions = try await store.executions(matching: query)
        let jobs = await scheduler.jobs(withIDs: Set(executions.map(\.jobID)))
        var jobObjects: [String: JSONValue] = [:]
        for (id, job) in jobs { jobObjects[id] = Render.executionJob(job) }
        let next: JSONValue =
            executions.count == query.limit
            ? executions.last.map { .string(ExecutionCursor(after: $0).description) } ?? .null : .null
        return JSONResponse.make(
            .object([
                (
                    "executions",
                    .array(
                        executions.map {
                            Render.execution($0, jobName: jobs[$0.jobID]?.name, jobObject: jobObjects[$0.jobID])
                        })
                ),
                ("next_cursor", next),
            ]))
    }

    func getExecution(_ id: String, _ context: Context) async throws -> Response {
        guard var record = try await store.execution(id: id, includeOutput: false),
            await api.isVisible(jobID: record.jobID, context)
        else {
            throw APIError(.notFound, "Execution not found: \(id)")
        }
        // Just ended: the store has the final record one loop turn after the live tail's `end`.
        if !record.state.isFinal, let final = api.scheduler.liveOutput.snapshot(id)?.final { record = final }
        let job = await scheduler.jobs(withIDs: [record.jobID])[record.jobID]
        var execution = Render.execution(record, job: job)
        if case .object(var pairs) = execution {
            pairs.append(
                (
                    "notifications",
                    try await NotificationsController<Context>.deliveries(
                        of: id, store: store, redactTargets: context.access.principal?.role != .admin)
                ))
            execution = .object(pairs)
        }
        return JSONResponse.make(execution)
    }

    func stopExecution(_ context: Context, _ id: String) async throws -> Response {
        try await api.requireVisible(executionID: id, context)
        var body: [(String, JSONValue)] = [("execution_id", .string(id)), ("stopping", true)]
        // On a shared store the run may be another node's: that node was asked (and may have answered).
        if case .requestedOf(let node, let acknowledged) = try await api.catalog.stop(
            executionID: id, user: api.user(context))
        {
            body += [("node", .string(node)), ("acknowledged", .bool(acknowledged))]
        }
        return JSONResponse.make(.object(body))
    }

    func output(_ request: Request, _ id: String) async throws -> Response {
        let streamName = request.uri.queryParameters.get("stream")
        var only: OutputChunk.Stream?
        if let streamName, !streamName.isEmpty {
            guard let stream = OutputChunk.Stream(rawValue: streamName) else {
                throw APIError(.badRequest, "'\(streamName)' is not stdout or stderr", field: "stream")
            }
            only = stream
        }
        let wantsEvents = request.headers[.accept]?.contains("text/event-stream") ?? false
        if wantsEvents { return try await eventStream(id, only: only) }
        let stream = only ?? .stdout
        let headers = { (state: String) -> HTTPFields in
            [.contentType: "text/plain; charset=utf-8", HTTPField.Name("X-Tock-Execution-State")!: state]
        }
        if let live = api.scheduler.liveOutput.snapshot(id) {
            // Running, or just ended: the live entry has it before the store does (one loop turn later). Sent in
            // pieces: one buffer of a just-ended run's whole output would be another copy of it.
            let bytes = stream == .stdout ? live.stdout : live.stderr
            return Response(
                status: .ok, headers: headers(live.final?.state.rawValue ?? ExecutionState.running.rawValue),
                body: ResponseBody { writer in
                    var start = 0
                    while start < bytes.count {
                        let end = min(start + StoredOutput.pieceSize, bytes.count)
                        try await writer.write(ByteBuffer(bytes: bytes[start..<end]))
                        start = end
                    }
                    try await writer.finish(nil)
                })
        }
        guard let record = try await store.execution(id: id, includeOutput: false) else {
            throw APIError(.notFound, "Execution not found: \(id)")
        }
        // Running on another node of a shared store: what that node has published of it (its newest MiB).
        if !record.state.isFinal, let remote = try await scheduler.control.followOutput(of: id) {
            let (bytes, now) = try await remote.snapshot(stream)
            return Response(
                status: .ok, headers: headers((now ?? record).state.rawValue),
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        // From the store a piece at a time, never the whole output at once.
        let store = self.store
        return Response(
            status: .ok, headers: headers(record.state.rawValue),
            body: ResponseBody { writer in
                try await StoredOutput.forEachPiece(store: store, id: id, stream: stream) { piece in
                    try await writer.write(ByteBuffer(bytes: piece))
                }
                try await writer.finish(nil)
            })
    }

    /// Server-sent events: `output` events (`{"stream": …, "text": …}`), then one `end` event with the execution.
    func eventStream(_ id: String, only: OutputChunk.Stream?) async throws -> Response {
        let hub = api.scheduler.liveOutput
        guard let events = try await Self.subscribeWhenStarted(id, hub: hub, store: store) else {
            // Running on another node of a shared store: followed through what that node publishes.
            if let record = try await store.execution(id: id, includeOutput: false), !record.state.isFinal,
                let remote = try await scheduler.control.followOutput(of: id)
            {
                let reader = remote.reader()
                return liveEventStream(id, only: only, close: {}) { await reader.next() }
            }
            return try await storedEventStream(id, only: only)
        }
        return liveEventStream(id, only: only, close: { events.close() }) { await events.next() }
    }

    /// The events of a live tail, from `next` until the end (or the client goes), then `close`.
    func liveEventStream(
        _ id: String, only: OutputChunk.Stream?, close: @escaping @Sendable () -> Void,
        next: @escaping @Sendable () async -> LiveOutputHub.Event?
    ) -> Response {
        let store = self.store
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                // However the client goes (or stops reading), the follower and what it buffered go with it.
                defer { close() }
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                var ended = false
                while let event = await next() {
                    switch event {
                    case .output(let chunk):
                        // Nothing written (a keep-alive of a remote tail): a comment, which every client ignores.
                        if chunk.bytes.isEmpty {
                            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                            continue
                        }
                        guard only == nil || only == chunk.stream else { continue }
                        let data: JSONValue = .object([
                            ("stream", .string(chunk.stream.rawValue)),
                            ("text", .string(String(decoding: chunk.bytes, as: UTF8.self))),
                        ])
                        try await writer.write(ByteBuffer(string: "event: output\ndata: \(data.jsonString)\n\n"))
                    case .dropped(let stream, let bytes):
                        // The client read too slowly: the oldest output was not kept for it.
                        guard only == nil || only == stream else { continue }
                        let data: JSONValue = .object([("stream", .string(stream.rawValue)), ("bytes", .int(bytes))])
                        try await writer.write(ByteBuffer(string: "event: dropped\ndata: \(data.jsonString)\n\n"))
                    case .end(let record):
                        // The store may lag the run's end by one loop turn; the record here is the final one.
                        let data = Render.execution(record, job: nil)
                        try await writer.write(ByteBuffer(string: "event: end\ndata: \(data.jsonString)\n\n"))
                        ended = true
                    }
                }
                if !ended, let record = try? await store.execution(id: id, includeOutput: false) {
                    let data = Render.execution(record, job: nil)
                    try await writer.write(ByteBuffer(string: "event: end\ndata: \(data.jsonString)\n\n"))
                }
                try await writer.finish(nil)
            })
    }

    /// The events of an execution known only from the store: its output, a piece at a time (each an `output`
    /// event; stdout, then stderr), then its `end`.
    func storedEventStream(_ id: String, only: OutputChunk.Stream?) async throws -> Response {
        guard let record = try await store.execution(id: id, includeOutput: false) else {
            throw APIError(.notFound, "Execution not found: \(id)")
        }
        let store = self.store
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                for stream in [OutputChunk.Stream.stdout, .stderr] where only == nil || only == stream {
                    try await StoredOutput.forEachPiece(store: store, id: id, stream: stream, wholeCharacters: true) {
                        let data: JSONValue = .object([
                            ("stream", .string(stream.rawValue)),
                            ("text", .string(String(decoding: $0, as: UTF8.self))),
                        ])
                        try await writer.write(ByteBuffer(string: "event: output\ndata: \(data.jsonString)\n\n"))
                    }
                }
                let data = Render.execution(record, job: nil)
                try await writer.write(ByteBuffer(string: "event: end\ndata: \(data.jsonString)\n\n"))
                try await writer.finish(nil)
            })
    }

    /// The live events of an execution, waiting while it is `scheduled` (a run now a moment before it starts,
    /// a jitter delay, a queue, a free slot); `nil` once it is not running here (ended, or unknown).
    static func subscribeWhenStarted(_ id: String, hub: LiveOutputHub, store: any JobStore) async throws
        -> LiveFollower?
    {
        while true {
            if let live = hub.subscribe(id) { return live }
            guard let record = try await store.execution(id: id, includeOutput: false), record.state == .scheduled
            else {
                return hub.subscribe(id)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
