import Foundation
import Hummingbird
import TockCore
import TockJSON

/// `GET /api/v1/cluster`: the nodes sharing the store (one on SQLite), their leases, clocks and runs, and the jobs.d
/// jobs whose definitions differ between them.
struct ClusterController<Context: AccessRequestContext>: Sendable {
    let api: TockAPI

    /// Dead nodes are shown this long after their death by default (a day), at most a week.
    static var defaultRecentlyDead: Int { 86_400 }

    func addRoutes(to routes: inout RouteTable<Context>) {
        routes.on(.get, "/api/v1/cluster", .viewer) { request, context in try await cluster(request, context) }
    }

    var view: any ClusterView {
        api.cluster
            ?? LocalClusterView(
                store: api.store, scheduler: api.scheduler, kind: "local", nodeName: ProcessInfo.processInfo.hostName,
                startedAt: Date(), version: nil, clock: api.clock)
    }

    func cluster(_ request: Request, _ context: Context) async throws -> Response {
        let window =
            try RequestParsing.int(
                request.uri.queryParameters.get("dead_within"), name: "dead_within", range: 0...604_800)
            ?? Self.defaultRecentlyDead
        var snapshot = try await view.snapshot(recentlyDead: TimeInterval(window))
        // A caller limited to tags sees only its jobs' ids (this node's jobs: another node's job of the same id is
        // the same job, or a mismatch of it).
        if let visible = await api.visibleJobIDs(context) {
            for index in snapshot.nodes.indices {
                snapshot.nodes[index].jobs = snapshot.nodes[index].jobs?.filter { visible.contains($0.key) }
            }
            snapshot.mismatches = snapshot.mismatches.filter { visible.contains($0.jobID) }
        }
        return JSONResponse.make(Render.cluster(snapshot))
    }
}

extension Render {
    static func cluster(_ snapshot: ClusterSnapshot) -> JSONValue {
        .object([
            ("store", .string(snapshot.store)),
            (
                "node",
                .object([("name", .string(snapshot.nodeName)), ("id", snapshot.nodeID.map { .string($0) } ?? .null)])
            ),
            ("now", time(snapshot.now)),
            ("nodes", .array(snapshot.nodes.map { node(of: $0, now: snapshot.now) })),
            ("definition_mismatches", .array(snapshot.mismatches.map(definitionMismatch))),
        ])
    }

    static func seconds(_ value: TimeInterval?) -> JSONValue {
        value.map { .double(($0 * 1000).rounded() / 1000) } ?? .null
    }

    static func node(of node: ClusterNodeStatus, now: Date) -> JSONValue {
        let jobs = (node.jobs ?? [:]).sorted { $0.key < $1.key }
        return .object([
            ("id", node.id.map { .string($0) } ?? .null),
            ("name", .string(node.name)),
            ("self", .bool(node.isSelf)),
            ("pid", node.pid.map { .int(Int($0)) } ?? .null),
            ("state", .string(node.state)),
            ("version", node.version.map { .string($0) } ?? .null),
            ("started_time", time(node.startedAt)),
            ("renewed_time", time(node.renewedAt)),
            ("lease_until", time(node.leaseUntil)),
            ("lease_age_seconds", seconds(node.renewedAt.map { now.timeIntervalSince($0) })),
            ("lease_remaining_seconds", seconds(node.leaseUntil.map { $0.timeIntervalSince(now) })),
            ("died_time", time(node.diedAt)),
            ("message", node.message.map { .string($0) } ?? .null),
            ("clock_offset_seconds", seconds(node.clockOffset)),
            ("clock_measured_time", time(node.clockOffsetMeasuredAt)),
            ("executions_last_hour", node.executions.map { .int($0.startedSince) } ?? .null),
            ("running", node.executions.map { .int($0.running) } ?? .null),
            ("job_count", node.jobs.map { .int($0.count) } ?? .null),
            ("jobs", node.jobs == nil ? .null : .object(jobs.map { ($0.key, .string($0.value)) })),
        ])
    }

    static func definitionMismatch(_ mismatch: DefinitionMismatch) -> JSONValue {
        .object([
            ("job_id", .string(mismatch.jobID)),
            (
                "nodes",
                .array(
                    mismatch.nodes.map {
                        .object([("node", .string($0.node)), ("digest", $0.digest.map { .string($0) } ?? .null)])
                    })
            ),
        ])
    }
}
