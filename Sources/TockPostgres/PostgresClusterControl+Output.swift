#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import Synchronization
    import TockCore

    /// Live output of a run on another node: the node running it publishes, the node serving the tail reads.
    ///
    /// Why through the database and not a proxy to the owner: nodes need no address of each other, no route between
    /// them and no credentials for each other's API (the database is what they already share and trust); a follower
    /// costs the owner one bounded subscription to its live hub (``LiveOutputHub``, 1 MiB) and one write per
    /// ``publishInterval`` while someone reads, nothing otherwise. The table keeps the newest MiB per stream of each
    /// followed run (a slow reader gets `dropped`, as a local one does), and a run's pieces go a minute after nobody
    /// follows it.
    extension PostgresClusterControl: PublishedOutputSource {
        /// Bytes kept in `live_output` per stream of a run: what a follower can fall behind before it misses output.
        static let keptBytes = 1 << 20
        /// How long a follow request holds without renewal (followers renew it every 5 s).
        static let followSeconds = 15.0

        /// A run this node publishes: the hub's follower it drains, the next piece's number, each stream's position.
        struct Publication {
            let follower: LiveFollower
            var next: Int
            var offsets: [OutputChunk.Stream: Int]
            /// When the last follow request lapsed (the publication goes a minute later; a follower coming back within
            /// that minute reads on without a second replay of the tail).
            var unwantedSince: ContinuousClock.Instant?
        }

        // MARK: - Following (the reading node)

        public func followOutput(of executionID: String) async throws -> RemoteOutputEvents? {
            try await coordinator.ensureRegistered()
            guard let holder = try await holder(of: executionID), !holder.state.isFinal, let node = holder.node,
                node != store.nodeID, holder.nodeState == "alive", holder.leaseValid
            else { return nil }
            try await requestFollow(executionID, of: node, notify: true)
            return RemoteOutputEvents(executionID: executionID, source: self)
        }

        /// Asks `node` to publish the run's output for ``followSeconds`` (longer if someone asked for longer).
        func requestFollow(_ executionID: String, of node: UUID, notify: Bool) async throws {
            let seconds = Self.followSeconds
            let name = store.nodeName
            try await store.transaction { connection in
                try await connection.query(
                    """
                    INSERT INTO control_request (kind, execution_id, target_node, requested_by, expires_at)
                    VALUES ('follow', \(executionID), \(node), \(name), clock_timestamp() + make_interval(secs => \(seconds)))
                    ON CONFLICT (execution_id) WHERE kind = 'follow' DO UPDATE SET target_node = excluded.target_node,
                        expires_at = GREATEST(control_request.expires_at, excluded.expires_at)
                    """, logger: self.logger)
                if notify {
                    try await connection.query(
                        "SELECT pg_notify(\(PostgresJobStore.controlChannel), \("follow " + node.uuidString.lowercased()))",
                        logger: self.logger)
                }
            }
        }

        public func keepPublishing(_ executionID: String) async throws {
            let seconds = Self.followSeconds
            let renewed = try await store.run(
                """
                UPDATE control_request SET expires_at = clock_timestamp() + make_interval(secs => \(seconds))
                WHERE kind = 'follow' AND execution_id = \(executionID) RETURNING 1
                """)
            // Cleaned up meanwhile: asked again.
            if renewed.isEmpty, let holder = try await holder(of: executionID), let node = holder.node,
                !holder.state.isFinal
            {
                try await requestFollow(executionID, of: node, notify: true)
            }
        }

        public func published(_ executionID: String, after sequence: Int, limit: Int) async throws -> PublishedOutput {
            // At most ~2 MiB are kept per run (keptBytes per stream, trimmed as it is published): a page is bounded.
            let rows = try await store.run(
                """
                SELECT sequence, stream, start_offset, bytes FROM live_output
                WHERE execution_id = \(executionID) AND sequence > \(sequence) ORDER BY sequence LIMIT 64
                """)
            var pieces: [PublishedOutputPiece] = []
            var ended = false
            var total = 0
            for row in rows {
                let (number, streamText, start, bytes) = try row.decode((Int, String, Int, ByteBuffer).self)
                guard let stream = OutputChunk.Stream(rawValue: streamText) else {
                    ended = true
                    break
                }
                pieces.append(
                    PublishedOutputPiece(
                        sequence: number, stream: stream, start: start, bytes: Array(bytes.readableBytesView)))
                total += bytes.readableBytes
                if total >= limit { break }
            }
            let record = try await store.execution(id: executionID, includeOutput: false)
            return PublishedOutput(pieces: pieces, ended: ended, record: record)
        }

        // MARK: - Publishing (the node running the process)

        /// Starts publishing the runs of this node that someone follows, and stops (a minute after the last follow
        /// request lapsed) those nobody follows any more.
        func updatePublications(_ scheduler: Scheduler) async throws {
            let me = store.nodeID
            let rows = try await store.run(
                """
                SELECT execution_id FROM control_request
                WHERE target_node = \(me) AND kind = 'follow' AND expires_at > clock_timestamp()
                """)
            let wanted = Set(try rows.map { try $0.decode(String.self) })
            let now = ContinuousClock.now
            let closing: [LiveFollower] = state.withLock { state in
                var closing: [LiveFollower] = []
                for (id, publication) in state.publications where !wanted.contains(id) {
                    let since = publication.unwantedSince ?? now
                    if now - since > .seconds(60) {
                        closing.append(publication.follower)
                        state.publications[id] = nil
                    } else {
                        state.publications[id]?.unwantedSince = since
                    }
                }
                for id in wanted { state.publications[id]?.unwantedSince = nil }
                return closing
            }
            for follower in closing { follower.close() }
            let current = state.withLock { Set($0.publications.keys) }
            for id in wanted.subtracting(current) { try await startPublishing(id, scheduler) }
        }

        private func startPublishing(_ executionID: String, _ scheduler: Scheduler) async throws {
            let rows = try await store.run(
                """
                SELECT COALESCE(max(sequence), 0),
                    COALESCE(max(start_offset + length(bytes)) FILTER (WHERE stream = 'stdout'), 0),
                    COALESCE(max(start_offset + length(bytes)) FILTER (WHERE stream = 'stderr'), 0),
                    COALESCE(bool_or(stream = 'end'), false)
                FROM live_output WHERE execution_id = \(executionID)
                """)
            let (last, stdout, stderr, ended) = try rows.first?.decode((Int, Int, Int, Bool).self) ?? (0, 0, 0, false)
            if ended { return }
            guard let follower = scheduler.liveOutput.subscribe(executionID) else {
                // Not live here: it ended (the hub forgot it), or it has not started yet.
                if let record = try await store.execution(id: executionID, includeOutput: false), record.state.isFinal {
                    try await writePieces([(executionID, last + 1, "end", 0, [])], trims: [])
                }
                return
            }
            let publication = Publication(
                follower: follower, next: last + 1, offsets: [.stdout: stdout, .stderr: stderr])
            state.withLock { $0.publications[executionID] = publication }
            logger.debug("publishing a run's output for another node", metadata: ["execution.id": "\(executionID)"])
        }

        /// Every ``publishInterval``: what each followed run wrote since, as numbered pieces (consecutive output of one
        /// stream is one piece), with an `end` row when the run ended; then the kept bytes trimmed.
        func publishLoop() async {
            var failures = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: publishInterval)
                let publications = state.withLock { $0.publications }
                guard !publications.isEmpty else { continue }
                var rows: [(String, Int, String, Int, [UInt8])] = []
                var trims: [(String, String, Int)] = []
                var progress: [String: Publication] = [:]
                var finished: [String] = []
                for (id, publication) in publications {
                    var p = publication
                    let (events, done) = p.follower.takeAvailable()
                    var piece: (stream: OutputChunk.Stream, start: Int, bytes: [UInt8])?
                    func flush() {
                        guard let current = piece else { return }
                        rows.append((id, p.next, current.stream.rawValue, current.start, current.bytes))
                        p.next += 1
                        piece = nil
                    }
                    for event in events {
                        switch event {
                        case .output(let chunk):
                            if piece?.stream == chunk.stream {
                                piece?.bytes += chunk.bytes
                            } else {
                                flush()
                                piece = (chunk.stream, p.offsets[chunk.stream, default: 0], chunk.bytes)
                            }
                            p.offsets[chunk.stream, default: 0] += chunk.bytes.count
                        case .dropped(let stream, let bytes):
                            flush()
                            p.offsets[stream, default: 0] += bytes
                        case .end:
                            flush()
                            rows.append((id, p.next, "end", 0, []))
                            p.next += 1
                        }
                    }
                    flush()
                    for (stream, offset) in p.offsets where offset > Self.keptBytes {
                        trims.append((id, stream.rawValue, offset - Self.keptBytes))
                    }
                    progress[id] = p
                    if done { finished.append(id) }
                }
                do {
                    try await writePieces(rows, trims: trims)
                    failures = 0
                } catch {
                    // That output is lost to the followers (they see a gap); the run is not affected.
                    if failures % 30 == 0 {
                        logger.warning("could not publish live output", metadata: ["error": "\(error)"])
                    }
                    failures += 1
                }
                state.withLock { state in
                    for (id, p) in progress where state.publications[id] != nil {
                        state.publications[id]?.next = p.next
                        state.publications[id]?.offsets = p.offsets
                    }
                    for id in finished { state.publications[id] = nil }
                }
            }
        }

        /// Inserts pieces `(execution, number, stream, start, bytes)` and deletes, per `(execution, stream, position)`,
        /// the pieces that end at or before the position.
        func writePieces(_ rows: [(String, Int, String, Int, [UInt8])], trims: [(String, String, Int)]) async throws {
            guard !rows.isEmpty || !trims.isEmpty else { return }
            let logger = self.logger
            try await store.transaction { connection in
                if !rows.isEmpty {
                    try await connection.query(
                        """
                        INSERT INTO live_output (execution_id, sequence, stream, start_offset, bytes)
                        SELECT * FROM unnest(\(rows.map(\.0))::text[], \(rows.map(\.1))::bigint[],
                            \(rows.map(\.2))::text[], \(rows.map(\.3))::bigint[],
                            \(rows.map { ByteBuffer(bytes: $0.4) })::bytea[])
                        ON CONFLICT (execution_id, sequence) DO NOTHING
                        """, logger: logger)
                }
                if !trims.isEmpty {
                    try await connection.query(
                        """
                        DELETE FROM live_output l
                        USING unnest(\(trims.map(\.0))::text[], \(trims.map(\.1))::text[], \(trims.map(\.2))::bigint[])
                            AS t(id, stream, kept_from)
                        WHERE l.execution_id = t.id AND l.stream = t.stream
                            AND l.start_offset + length(l.bytes) <= t.kept_from
                        """, logger: logger)
                }
            }
        }

        /// Deletes what nobody needs any more: requests long expired, the pieces of runs nobody has followed for a
        /// minute, the change log older than a day (its newest row stays: a node far behind sees the gap).
        func cleanUp() async throws {
            try await store.run(
                "DELETE FROM control_request WHERE expires_at < clock_timestamp() - interval '10 minutes'")
            try await store.run(
                """
                DELETE FROM live_output l WHERE l.published_at < clock_timestamp() - interval '1 minute'
                AND NOT EXISTS (SELECT 1 FROM control_request c WHERE c.kind = 'follow'
                    AND c.execution_id = l.execution_id AND c.expires_at > clock_timestamp())
                """)
            try await store.run(
                """
                DELETE FROM job_change WHERE changed_at < clock_timestamp() - interval '1 day'
                AND sequence < (SELECT max(sequence) FROM job_change)
                """)
        }
    }
#endif
