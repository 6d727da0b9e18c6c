#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import TockCore

    /// What the cluster page reads and each node publishes: node clocks and versions, the digests of each node's
    /// jobs.d jobs (`node_job_digest`, by node name: names are unique among nodes and outlive an incarnation), the
    /// digest each execution ran with, and execution counts per node.
    extension PostgresJobStore: ExecutionCounting {
        static let clusterViewMigration = Migration(
            name: "clusterview-1: definition digests of executions and of each node's jobs.d jobs; node clocks",
            statements: [
                "ALTER TABLE execution ADD COLUMN definition_digest text",
                // `clock_offset`: the node's wall clock minus the database's, seconds, measured at its heartbeats;
                // `digests_at`: when the node last published its digests (a node that has not yet is not compared).
                """
                ALTER TABLE node ADD COLUMN clock_offset double precision, ADD COLUMN clock_measured_at timestamptz,
                    ADD COLUMN version text, ADD COLUMN digests_at timestamptz
                """,
                """
                CREATE TABLE node_job_digest (
                    node_name text NOT NULL,
                    job_id text NOT NULL,
                    digest text NOT NULL,
                    updated_at timestamptz NOT NULL,
                    PRIMARY KEY (node_name, job_id)
                )
                """,
                "CREATE INDEX node_job_digest_job ON node_job_digest (job_id)",
            ])

        public func executionCounts(since: Date) async throws -> [String: ExecutionCounts] {
            // Two index ranges (by time; by state) rather than one scan for an OR.
            let rows = try await run(
                """
                SELECT host, sum(started)::bigint, sum(running)::bigint FROM (
                    SELECT host, 1 AS started, 0 AS running FROM execution
                        WHERE scheduled_at >= \(since) AND started_at IS NOT NULL
                    UNION ALL
                    SELECT host, 0, 1 FROM execution WHERE state = 'running'
                ) t GROUP BY host
                """)
            var counts: [String: ExecutionCounts] = [:]
            for row in rows {
                let (host, started, running) = try row.decode((String, Int, Int).self)
                counts[host] = ExecutionCounts(startedSince: started, running: running)
            }
            return counts
        }

        /// This node's published digests (job id → digest), as the database has them.
        func publishedDigests() async throws -> [String: String] {
            let rows = try await run("SELECT job_id, digest FROM node_job_digest WHERE node_name = \(nodeName)")
            var digests: [String: String] = [:]
            for row in rows {
                let (id, digest) = try row.decode((String, String).self)
                digests[id] = digest
            }
            return digests
        }

        /// Writes what changed between `old` and `new` (this node's digests), in one transaction; returns the number
        /// of rows written or deleted.
        @discardableResult
        func publishDigests(_ new: [String: String], replacing old: [String: String]) async throws -> Int {
            let changed = new.filter { old[$0.key] != $0.value }.sorted { $0.key < $1.key }
            let removed = old.keys.filter { new[$0] == nil }.sorted()
            guard !changed.isEmpty || !removed.isEmpty else { return 0 }
            let name = nodeName
            let logger = self.logger
            try await transaction { connection in
                if !changed.isEmpty {
                    try await connection.query(
                        """
                        INSERT INTO node_job_digest (node_name, job_id, digest, updated_at)
                        SELECT \(name), id, digest, clock_timestamp()
                        FROM unnest(\(changed.map(\.key))::text[], \(changed.map(\.value))::text[]) AS t(id, digest)
                        ON CONFLICT (node_name, job_id) DO UPDATE SET digest = excluded.digest,
                            updated_at = excluded.updated_at
                        """, logger: logger)
                }
                if !removed.isEmpty {
                    try await connection.query(
                        "DELETE FROM node_job_digest WHERE node_name = \(name) AND job_id = ANY(\(removed)::text[])",
                        logger: logger)
                }
            }
            return changed.count + removed.count
        }

        /// Records this incarnation's clock offset (seconds), version, and that its digests are published.
        func recordHeartbeat(clockOffset: Double, version: String?, digestsPublished: Bool) async throws {
            try await run(
                """
                UPDATE node SET clock_offset = \(clockOffset), clock_measured_at = clock_timestamp(),
                    version = \(version),
                    digests_at = CASE WHEN \(digestsPublished) THEN clock_timestamp() ELSE digests_at END
                WHERE node_id = \(nodeID)
                """)
        }

        /// The database's clock now.
        func databaseTime() async throws -> Date {
            let rows = try await run("SELECT clock_timestamp()")
            guard let row = rows.first else { throw StoreError.unavailable("PostgreSQL: no time") }
            return try row.decode(Date.self)
        }

        /// The definition mismatches among the live nodes that have published their digests (one per name).
        func definitionMismatches() async throws -> [DefinitionMismatch] {
            let rows = try await run(
                """
                WITH live AS (
                    SELECT DISTINCT name FROM node
                    WHERE state = 'alive' AND lease_until > clock_timestamp() AND digests_at IS NOT NULL),
                digests AS (SELECT node_name, job_id, digest FROM node_job_digest WHERE node_name IN (SELECT name FROM live)),
                differing AS (
                    SELECT job_id FROM digests GROUP BY job_id
                    HAVING count(DISTINCT digest) > 1 OR count(*) < (SELECT count(*) FROM live))
                SELECT live.name, d.job_id, n.digest
                FROM live CROSS JOIN differing d
                LEFT JOIN node_job_digest n ON n.node_name = live.name AND n.job_id = d.job_id
                ORDER BY d.job_id, live.name
                """)
            var byJob: [String: [DefinitionMismatch.NodeDigest]] = [:]
            for row in rows {
                let (node, job, digest) = try row.decode((String, String, String?).self)
                byJob[job, default: []].append(.init(node: node, digest: digest))
            }
            return byJob.map { DefinitionMismatch(jobID: $0.key, nodes: $0.value) }.sorted { $0.jobID < $1.jobID }
        }

        /// The digests of these nodes' jobs.d jobs, by node name, then job id.
        func digests(ofNodes names: [String]) async throws -> [String: [String: String]] {
            let rows = try await run(
                "SELECT node_name, job_id, digest FROM node_job_digest WHERE node_name = ANY(\(names)::text[])")
            var digests: [String: [String: String]] = [:]
            for row in rows {
                let (node, job, digest) = try row.decode((String, String, String).self)
                digests[node, default: [:]][job] = digest
            }
            return digests
        }
    }
#endif
