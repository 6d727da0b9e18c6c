#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import ServiceLifecycle
    import Synchronization
    import TockCore

    /// The cluster as this node sees it, and what this node publishes for the others: at every beat it measures its
    /// wall clock against the database's and records the offset (with its version) in its `node` row, publishes the
    /// digests of its jobs.d jobs that changed since the last beat (``Scheduler/fileJobDigests()``), and compares the
    /// live nodes' digests: a job whose definition differs (or that only some live nodes define) is set on the
    /// scheduler (job JSON, the `tock_job_definition_mismatch` metric) and logged as a warning when found, and all
    /// of them again after this node's own jobs changed (a reload).
    ///
    /// Run it as a `Service` beside the ``PostgresSlotCoordinator`` (which registers the node).
    public final class PostgresClusterView: ClusterView, Service {
        let store: PostgresJobStore
        let scheduler: Scheduler
        let version: String?
        /// Time between beats (the coordinator's heartbeat).
        public let interval: Duration
        let logger: Logger

        private struct State {
            /// What the database holds of this node's digests (`nil`: not read yet).
            var published: [String: String]?
            /// The scheduler's catalog version the digests were computed at.
            var catalogVersion: Int?
            var clockWarned = false
        }
        private let state = Mutex(State())

        /// A node's clock further than this from the database's is logged as a warning.
        public static let clockWarning = 1.0

        public init(
            store: PostgresJobStore, scheduler: Scheduler, version: String?, interval: Duration = .seconds(5),
            logger: Logger
        ) {
            self.store = store
            self.scheduler = scheduler
            self.version = version
            self.interval = interval
            self.logger = logger
        }

        public func run() async throws {
            var failures = 0
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    try await beat()
                    failures = 0
                } catch {
                    if failures % 10 == 0 {
                        logger.warning("could not publish this node's cluster view", metadata: ["error": "\(error)"])
                    }
                    failures += 1
                }
                try? await Task.sleep(for: interval)
            }
        }

        /// One round: clock offset, digests, mismatches. Tests call it directly.
        public func beat() async throws {
            let offset = try await measureClockOffset()
            let reloaded = try await publishDigests()
            try await store.recordHeartbeat(clockOffset: offset, version: version, digestsPublished: true)
            let mismatches = try await store.definitionMismatches()
            await scheduler.setDefinitionMismatches(mismatches, logAll: reloaded)
        }

        /// This node's wall clock minus the database's, in seconds (± half the round trip), logged past a second.
        func measureClockOffset() async throws -> Double {
            let before = Date()
            let database = try await store.databaseTime()
            let after = Date()
            let local = before.addingTimeInterval(after.timeIntervalSince(before) / 2)
            let offset = local.timeIntervalSince(database)
            let warn = abs(offset) > Self.clockWarning
            let changed = state.withLock { state in
                defer { state.clockWarned = warn }
                return state.clockWarned != warn
            }
            if changed && warn {
                logger.warning(
                    "this node's clock differs from the database's by more than a second",
                    metadata: ["clock_offset_seconds": "\(offset)", "node": "\(store.nodeName)"])
            } else if changed {
                logger.notice("this node's clock agrees with the database's again", metadata: ["offset": "\(offset)"])
            }
            return offset
        }

        /// Publishes the digests that changed; returns whether this node's jobs changed since an earlier beat (a
        /// reload: the first publication of a start is not one).
        func publishDigests() async throws -> Bool {
            let version = scheduler.catalogVersion
            let (known, knownVersion) = state.withLock { ($0.published, $0.catalogVersion) }
            if known != nil, knownVersion == version { return false }
            let current = await scheduler.fileJobDigests()
            let old: [String: String]
            if let known { old = known } else { old = try await store.publishedDigests() }
            let written = try await store.publishDigests(current, replacing: old)
            state.withLock {
                $0.published = current
                $0.catalogVersion = version
            }
            if written > 0 {
                logger.info("published this node's job digests", metadata: ["changed": "\(written)"])
            }
            return known != nil && written > 0
        }
    }
#endif
