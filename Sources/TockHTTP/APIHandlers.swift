import CronKit
import Foundation
import HTTPTypes
import Hummingbird
import TockCore
import TockJSON

/// The API's handlers; ``TockAPI/addRoutes(to:)`` maps paths to them.
struct APIHandlers: Sendable {
    let api: TockAPI
    static let maxBodyBytes = 1 << 20
    /// ndscheduler's default window for executions and logs.
    static let defaultWindow: TimeInterval = 600
    static let failingStates: Set<ExecutionState> = [.failed, .timeout, .scheduledError, .interrupted]

    var scheduler: Scheduler { api.scheduler }
    var store: any JobStore { api.store }

    // MARK: - Health and metrics

    func health() async -> Response {
        let count = await scheduler.jobCount
        let running = await scheduler.runningExecutionIDs().count
        return JSONResponse.make(.object([("status", "ok"), ("jobs", .int(count)), ("running", .int(running))]))
    }

    func metrics() -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: api.metricsText())))
    }

    // MARK: - Jobs

    /// Every job rendered, from the cache when nothing changed since.
    func snapshot() async throws -> JobRenderCache.Snapshot {
        let version = scheduler.version
        if let cached = api.cache.current(version: version) { return cached }
        let scheduler = self.scheduler
        let store = self.store
        let zone = api.defaultTimeZone
        return try await api.cache.snapshot(version: version) { previous in
            let statuses = await scheduler.allStatuses().sorted { $0.job.id < $1.job.id }
            var kept: [String: JobRenderCache.Item] = [:]
            if let previous {
                for item in previous.items { kept[item.job.id] = item }
            }
            let stale = statuses.filter { kept[$0.job.id]?.revision != $0.revision }.map(\.job.id)
            let recent = try await store.recentExecutions(jobIDs: stale, perJob: 20)
            var items: [JobRenderCache.Item] = []
            var index: [String: Int] = [:]
            items.reserveCapacity(statuses.count)
            for status in statuses {
                index[status.job.id] = items.count
                if let item = kept[status.job.id], item.revision == status.revision {
                    items.append(item)
                    continue
                }
                let history = recent[status.job.id] ?? []
                let value = Render.job(status, recent: history, defaultTimeZone: zone)
                items.append(
                    .init(
                        job: status.job, revision: status.revision, paused: status.paused,
                        failing: history.first.map { Self.failingStates.contains($0.state) } ?? false,
                        bytes: value.jsonBytes))
            }
            let full = Self.listBody(items[...], counts: Self.counts(items, matching: items.count))
            return JobRenderCache.Snapshot(
                version: version, items: items, index: index, fullList: ByteBuffer(bytes: full))
        }
    }

    static func counts(_ items: [JobRenderCache.Item], matching: Int) -> JSONValue {
        .object([
            ("total", .int(items.count)),
            ("active", .int(items.filter { $0.job.enabled && !$0.paused }.count)),
            ("paused", .int(items.filter(\.paused).count)),
            ("failing", .int(items.filter(\.failing).count)),
            ("matching", .int(matching)),
        ])
    }

    static func listBody(_ page: ArraySlice<JobRenderCache.Item>, counts: JSONValue) -> [UInt8] {
        var out: [UInt8] = Array(#"{"jobs":["#.utf8)
        out.reserveCapacity(page.reduce(128) { $0 + $1.bytes.count + 1 })
        for (n, item) in page.enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: item.bytes)
        }
        out.append(contentsOf: #"],"counts":"#.utf8)
        counts.write(into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    func listJobs(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let tag = query.get("tag").flatMap { $0.isEmpty ? nil : $0 }
        let text = query.get("q").flatMap { $0.isEmpty ? nil : $0.lowercased() }
        let limit = try Self.int(query.get("limit"), name: "limit", range: 1...100_000)
        let offset = try Self.int(query.get("offset"), name: "offset", range: 0...Int.max) ?? 0
        let snapshot = try await snapshot()
        if tag == nil && text == nil && limit == nil && offset == 0 {
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: ResponseBody(byteBuffer: snapshot.fullList))
        }
        let matching = snapshot.items.filter { item in
            if let tag, !item.job.tags.contains(tag) { return false }
            if let text {
                let haystack =
                    [item.job.id, item.job.name, item.job.description, item.job.schedule]
                    + Render.pubArgs(item.job) + item.job.tags
                return haystack.contains { $0.lowercased().contains(text) }
            }
            return true
        }
        let page = matching.dropFirst(offset).prefix(limit ?? matching.count)
        return JSONResponse.bytes(
            Self.listBody(ArraySlice(page), counts: Self.counts(snapshot.items, matching: matching.count)))
    }

    func getJob(_ id: String) async throws -> Response {
        let snapshot = try await snapshot()
        guard let position = snapshot.index[id] else { throw APIError(.notFound, "Job not found: \(id)") }
        return JSONResponse.bytes(snapshot.items[position].bytes)
    }

    func createJob(_ request: Request) async throws -> Response {
        let body = try await jsonBody(request)
        var id = ExecutionRecord.newID()
        for key in ["job_id", "id"] {
            guard let given = body[key], given != .null else { continue }
            guard let text = given.stringValue, Job.isValidID(text) else {
                throw APIError(
                    .badRequest, "must be a string of letters, digits, '_', '.' and '-'", field: key)
            }
            id = text
        }
        let definition = APIJobDefinition(id: id, body: body)
        let job = try Self.job(from: definition, kinds: api.kinds)
        if await scheduler.status(of: id) != nil {
            throw APIError(.conflict, "a job with id '\(id)' already exists", field: "job_id")
        }
        try await store.saveAPIJob(definition, at: api.now())
        do {
            try await scheduler.upsertJob(job)
        } catch {
            _ = try? await store.deleteAPIJob(id: id)
            throw APIError(.conflict, error.description, field: "job_id")
        }
        try await audit(job, .added, description: "")
        return JSONResponse.make(.object([("job_id", .string(id))]), status: .created)
    }

    func replaceJob(_ request: Request, _ id: String) async throws -> Response {
        guard let current = await scheduler.status(of: id) else { throw APIError(.notFound, "Job not found: \(id)") }
        guard current.job.source == .api else { throw fileManaged(current.job) }
        let body = try await jsonBody(request)
        if let given = body["job_id"]?.stringValue ?? body["id"]?.stringValue, given != id {
            throw APIError(.badRequest, "'\(given)' differs from the id in the path ('\(id)')", field: "job_id")
        }
        let definition = APIJobDefinition(id: id, body: body)
        let job = try Self.job(from: definition, kinds: api.kinds)
        let changes = Self.diff(
            .object(Render.definition(current.job, defaultTimeZone: api.defaultTimeZone)),
            .object(Render.definition(job, defaultTimeZone: api.defaultTimeZone)))
        try await store.saveAPIJob(definition, at: api.now())
        try await scheduler.upsertJob(job)
        if !changes.isEmpty {
            try await audit(
                job, .modified,
                description: changes.map {
                    "\($0.key): \($0.old?.jsonString ?? "(none)") → \($0.new?.jsonString ?? "(none)")"
                }
                .joined(separator: "\n"))
        }
        return JSONResponse.make(.object([("job_id", .string(id)), ("modified", Render.strings(changes.map(\.key)))]))
    }

    func deleteJob(_ id: String) async throws -> Response {
        guard let current = await scheduler.status(of: id) else { throw APIError(.notFound, "Job not found: \(id)") }
        guard current.job.source == .api else { throw fileManaged(current.job) }
        _ = try await store.deleteAPIJob(id: id)
        await scheduler.removeJob(id: id)
        // The job as it was, in the same form a modification's diff is taken on (no reload of every stored job).
        let was = JSONValue.object(Render.definition(current.job, defaultTimeZone: api.defaultTimeZone))
        try await audit(current.job, .deleted, description: was.jsonString)
        return JSONResponse.make(
            .object([
                ("job_id", .string(id)), ("deleted", true),
                // Runs in progress are not stopped by a delete; they finish and stay in the history.
                ("running", Render.strings(current.runningExecutionIDs.sorted())),
            ]))
    }

    func setPaused(_ pause: Bool, _ id: String) async throws -> Response {
        guard let current = await scheduler.status(of: id) else { throw APIError(.notFound, "Job not found: \(id)") }
        let changed = current.paused != pause
        if changed {
            if pause {
                try await scheduler.pause(jobID: id, user: api.user)
            } else {
                try await scheduler.resume(jobID: id, user: api.user)
            }
        }
        return JSONResponse.make(
            .object([("job_id", .string(id)), ("paused", .bool(pause)), ("changed", .bool(changed))]))
    }

    func fileManaged(_ job: Job) -> APIError {
        var location = "a job file"
        if case .file(let path, let line) = job.source { location = "\(path):\(line)" }
        return APIError(
            .conflict,
            "job '\(job.id)' is defined in \(location); edit the file instead (run, pause and resume work through the API)",
            extra: [("source", "file")])
    }

    func audit(_ job: Job, _ event: AuditEntry.Event, description: String) async throws {
        try await store.append(
            AuditEntry(
                jobID: job.id, jobName: job.name, event: event, user: api.user, createdAt: api.now(),
                description: description))
    }

    /// The job a body defines, or a 400 naming the first problem's field and listing all of them.
    static func job(from definition: APIJobDefinition, kinds: Set<String>) throws(APIError) -> Job {
        let (job, problems) = definition.problems(kinds: kinds)
        if let job, problems.isEmpty { return job }
        let first = problems.first ?? APIJobDefinition.Problem(field: nil, "invalid job")
        let all: JSONValue = .array(
            problems.map {
                .object([("field", $0.field.map { .string($0) } ?? .null), ("message", .string($0.message))])
            })
        throw APIError(.badRequest, first.description, field: first.field, extra: [("errors", all)])
    }

    /// Keys whose values differ between two bodies, in the new body's order, then removed keys.
    static func diff(_ old: JSONValue, _ new: JSONValue) -> [(key: String, old: JSONValue?, new: JSONValue?)] {
        let oldPairs = old.objectPairs ?? []
        let newPairs = new.objectPairs ?? []
        var changes: [(key: String, old: JSONValue?, new: JSONValue?)] = []
        for (key, value) in newPairs where old[key] != value {
            changes.append((key, old[key], value))
        }
        for (key, value) in oldPairs where new[key] == nil {
            changes.append((key, value, nil))
        }
        return changes
    }

    func jsonBody(_ request: Request) async throws -> JSONValue {
        let type = request.headers[.contentType]?.lowercased() ?? ""
        let mediaType = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard mediaType == "application/json" || mediaType.hasSuffix("+json") else {
            throw APIError(
                .unsupportedMediaType,
                "the body must be JSON with Content-Type: application/json (got \(type.isEmpty ? "none" : "'\(type)'"))"
            )
        }
        let buffer = try await request.body.collect(upTo: Self.maxBodyBytes)
        do {
            return try JSONValue.parse(buffer.readableBytesView)
        } catch {
            throw APIError(.badRequest, "the body is not valid JSON: \(error.description)", field: "body")
        }
    }

    // MARK: - Executions

    func runNow(_ request: Request, _ jobID: String) async throws -> Response {
        let force =
            request.uri.queryParameters.get("force").map { ["true", "1", "yes"].contains($0.lowercased()) } ?? false
        do {
            let id = try await scheduler.runNow(jobID: jobID, force: force, user: api.user)
            return JSONResponse.make(.object([("execution_id", .string(id)), ("job_id", .string(jobID))]))
        } catch let error as Scheduler.ControlError {
            switch error {
            case .unknownJob: throw APIError(.notFound, "Job not found: \(jobID)")
            case .alreadyRunning(_, let running):
                throw APIError(
                    .conflict, error.description + "; add ?force=true to run it anyway",
                    extra: [("execution_id", .string(running))])
            case .shuttingDown: throw APIError(.serviceUnavailable, error.description)
            case .fileManaged: throw APIError(.conflict, error.description)
            }
        }
    }

    func listExecutions(_ request: Request) async throws -> Response {
        let params = request.uri.queryParameters
        var query = ExecutionQuery()
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
        query.limit = try Self.int(params.get("limit"), name: "limit", range: 1...1000) ?? 100
        let (from, to) = try timeRange(
            params, defaultWindow: query.jobID == nil && query.state == nil && query.after == nil)
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

    func getExecution(_ id: String) async throws -> Response {
        guard var record = try await store.execution(id: id) else {
            throw APIError(.notFound, "Execution not found: \(id)")
        }
        // Just ended: the store has the final record one loop turn after the live tail's `end`.
        if !record.state.isFinal, let final = api.scheduler.liveOutput.snapshot(id)?.final { record = final }
        let job = await scheduler.jobs(withIDs: [record.jobID])[record.jobID]
        return JSONResponse.make(Render.execution(record, job: job))
    }

    func stopExecution(_ id: String) async throws -> Response {
        if await scheduler.stop(executionID: id, user: api.user) {
            return JSONResponse.make(.object([("execution_id", .string(id)), ("stopping", true)]))
        }
        guard let record = try await store.execution(id: id) else {
            throw APIError(.notFound, "Execution not found: \(id)")
        }
        throw APIError(
            .conflict, "execution \(id) is not running (state: \(record.state.rawValue))",
            extra: [("state", .string(record.state.rawValue))])
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
        var bytes: [UInt8]
        var state: String
        if let live = api.scheduler.liveOutput.snapshot(id) {
            // Running, or just ended: the live entry has it before the store does (one loop turn later).
            bytes = stream == .stdout ? live.stdout : live.stderr
            state = live.final?.state.rawValue ?? ExecutionState.running.rawValue
        } else if let record = try await store.execution(id: id) {
            bytes = stream == .stdout ? record.stdout : record.stderr
            state = record.state.rawValue
        } else {
            throw APIError(.notFound, "Execution not found: \(id)")
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/plain; charset=utf-8", HTTPField.Name("X-Tock-Execution-State")!: state,
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Server-sent events: `output` events (`{"stream": …, "text": …}`), then one `end` event with the execution.
    func eventStream(_ id: String, only: OutputChunk.Stream?) async throws -> Response {
        let hub = api.scheduler.liveOutput
        let events: LiveFollower
        if let live = try await Self.subscribeWhenStarted(id, hub: hub, store: store) {
            events = live
        } else if let record = try await store.execution(id: id) {
            events = LiveFollower.replay(of: record)
        } else {
            throw APIError(.notFound, "Execution not found: \(id)")
        }
        let store = self.store
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                // However the client goes (or stops reading), the follower and what it buffered go with it.
                defer { events.close() }
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                var ended = false
                for await event in events {
                    switch event {
                    case .output(let chunk):
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
                if !ended, let record = try? await store.execution(id: id) {
                    let data = Render.execution(record, job: nil)
                    try await writer.write(ByteBuffer(string: "event: end\ndata: \(data.jsonString)\n\n"))
                }
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
            guard let record = try await store.execution(id: id), record.state == .scheduled else {
                return hub.subscribe(id)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    // MARK: - Audit log and preview

    func logs(_ request: Request) async throws -> Response {
        let params = request.uri.queryParameters
        var query = AuditQuery()
        query.jobID = params.get("job_id").flatMap { $0.isEmpty ? nil : $0 }
        query.limit = try Self.int(params.get("limit"), name: "limit", range: 1...10_000) ?? 1000
        (query.from, query.to) = try timeRange(params, defaultWindow: query.jobID == nil)
        let entries = try await store.auditLog(matching: query)
        return JSONResponse.make(.object([("logs", .array(entries.map(Render.audit)))]))
    }

    func preview(_ request: Request) throws -> Response {
        let params = request.uri.queryParameters
        guard let text = params.get("expr"), !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw APIError(.badRequest, "give the schedule as ?expr=", field: "expr")
        }
        let zoneName = params.get("tz").flatMap { $0.isEmpty ? nil : $0 } ?? api.defaultTimeZone
        guard let rules = ZoneRules.rules(forIdentifier: zoneName) else {
            throw APIError(.badRequest, "unknown time zone '\(zoneName)' (use an IANA name)", field: "tz")
        }
        let count = try Self.int(params.get("count"), name: "count", range: 1...100) ?? 5
        let expression: ScheduleExpression
        do {
            expression = try ScheduleExpression(parsing: text)
        } catch {
            throw APIError(.badRequest, error.description, field: "expr", extra: [("valid", false)])
        }
        let times = expression.schedule(in: rules.timeZone)?.nextFireDates(after: api.now(), count: count) ?? []
        return JSONResponse.make(
            .object([
                ("expr", .string(text)), ("valid", true), ("description", .string(expression.englishDescription)),
                ("timezone", .string(zoneName)),
                ("next_run_times", Render.strings(times.map { Timestamp.string(for: $0, in: rules) })),
            ]))
    }

    // MARK: - Parameters

    static func int(_ text: String?, name: String, range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let text, !text.isEmpty else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw APIError(
                .badRequest,
                "'\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound == Int.max ? "" : String(range.upperBound))",
                field: name)
        }
        return value
    }

    /// `time_range_start` and `time_range_end` (ISO 8601; a missing offset means UTC). With neither given and
    /// `defaultWindow`, the last ten minutes (ndscheduler's default).
    func timeRange(_ params: Parameters, defaultWindow: Bool) throws(APIError) -> (Date?, Date?) {
        func read(_ name: String) throws(APIError) -> Date? {
            guard let text = params.get(name), !text.isEmpty else { return nil }
            guard let date = Timestamp.parse(text, defaultZone: .utc) else {
                throw APIError(
                    .badRequest, "'\(text)' is not an ISO 8601 time such as 2026-11-29T03:06:03+00:00", field: name)
            }
            return date
        }
        let start = try read("time_range_start")
        let end = try read("time_range_end")
        if let start, let end, start > end {
            throw APIError(.badRequest, "the range ends before it starts", field: "time_range_end")
        }
        if start == nil && end == nil && defaultWindow {
            let now = api.now()
            return (now.addingTimeInterval(-Self.defaultWindow), nil)
        }
        return (start, end)
    }
}

typealias Parameters = Hummingbird.Parameters
