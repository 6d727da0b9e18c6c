#if Postgres
    import Foundation
    import PostgresNIO
    import TockCore

    extension PostgresClusterView {
        /// Every incarnation alive (or whose lease lapsed unreaped) and those that died or left within
        /// `recentlyDead`, timed by the database clock; their execution counts of the last hour (by node name, given
        /// to the newest incarnation of each name), their published digests and the mismatches among the live ones.
        public func snapshot(recentlyDead: TimeInterval) async throws -> ClusterSnapshot {
            let rows = try await store.run(
                """
                SELECT node_id, name, pid, state, started_at, renewed_at, lease_until, died_at, message, clock_offset,
                    clock_measured_at, version, clock_timestamp()
                FROM node
                WHERE state = 'alive' OR died_at > clock_timestamp() - make_interval(secs => \(recentlyDead))
                ORDER BY state <> 'alive', name, started_at DESC
                """)
            var now = Date()
            var nodes: [ClusterNodeStatus] = []
            for row in rows {
                let c = row.makeRandomAccess()
                let id = try c[0].decode(UUID.self)
                var node = ClusterNodeStatus(
                    name: try c[1].decode(String.self), state: try c[3].decode(String.self),
                    isSelf: id == store.nodeID)
                node.id = id.uuidString.lowercased()
                node.pid = try c[2].decode(Int32.self)
                node.startedAt = try c[4].decode(Date.self)
                node.renewedAt = try c[5].decode(Date.self)
                node.leaseUntil = try c[6].decode(Date.self)
                node.diedAt = try c[7].decode(Date?.self)
                node.message = try c[8].decode(String?.self)
                node.clockOffset = try c[9].decode(Double?.self)
                node.clockOffsetMeasuredAt = try c[10].decode(Date?.self)
                node.version = try c[11].decode(String?.self)
                now = try c[12].decode(Date.self)
                nodes.append(node)
            }
            for index in nodes.indices where nodes[index].state == "alive" {
                // A lease trusted past 3/4 of its length: the node has fenced itself (or is about to be reaped).
                if let renewed = nodes[index].renewedAt, let until = nodes[index].leaseUntil,
                    now.timeIntervalSince(renewed) > until.timeIntervalSince(renewed) * 3 / 4
                {
                    nodes[index].state = "fenced"
                }
            }
            let names = Array(Set(nodes.map(\.name))).sorted()
            let digests = try await store.digests(ofNodes: names)
            let counts = try await store.executionCounts(since: now.addingTimeInterval(-3600))
            var counted: Set<String> = []
            for index in nodes.indices {
                nodes[index].jobs = digests[nodes[index].name] ?? [:]
                // Executions name their node; the live (or newest) incarnation of the name is shown with them.
                if counted.insert(nodes[index].name).inserted {
                    nodes[index].executions = counts[nodes[index].name] ?? ExecutionCounts()
                }
            }
            return ClusterSnapshot(
                store: "postgresql", nodeName: store.nodeName, nodeID: store.nodeID.uuidString.lowercased(), now: now,
                nodes: nodes, mismatches: try await store.definitionMismatches())
        }
    }
#endif
