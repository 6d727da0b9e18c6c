import Foundation
import Logging

/// Run now with an idempotency key, and the changes of shared job state that other nodes of a shared store made
/// (see ``ClusterControl``).
extension Scheduler {
    /// How long a manual run's idempotency key holds: a retry with the same key within it finds the same execution.
    public static let idempotencyWindow: TimeInterval = 24 * 3600

    /// What ``runNow(jobID:force:idempotencyKey:)`` did.
    public struct ManualRun: Sendable, Equatable {
        public var executionID: String
        /// An earlier request with the same idempotency key recorded this execution; nothing new was started.
        public var replayed: Bool

        public init(executionID: String, replayed: Bool) {
            self.executionID = executionID
            self.replayed = replayed
        }
    }

    /// Starts a run of a job now and returns its execution id at once (its `scheduled` row is written first).
    ///
    /// With an `idempotencyKey`, a request repeated by a client that did not see the answer (a timeout, a lost
    /// connection, a retry loop) is recorded once: if an execution of this job was recorded with the same key within
    /// ``idempotencyWindow``, its id comes back with `replayed` set and nothing runs, whether it is still running or
    /// long finished, on this node or another of the store. The store keeps the key (unique per job) with the run's
    /// row, in one transaction, so that this holds across restarts and nodes and for two requests racing.
    ///
    /// Overlap: with `skip` (the default) a run while another runs is refused —
    /// ``ControlError/alreadyRunning(jobID:executionID:)`` on this node,
    /// ``ControlError/alreadyRunningElsewhere(jobID:executionID:node:)`` when another node of the store runs the job —
    /// unless `force` is set. A replay is answered before that check: the run the key recorded may well be the one
    /// running.
    public func runNow(jobID: String, force: Bool, idempotencyKey: String?) async throws -> ManualRun {
        guard let job = jobs[jobID] else { throw ControlError.unknownJob(jobID) }
        guard !signals.shuttingDown else { throw ControlError.shuttingDown }
        let since = clock.now.addingTimeInterval(-Self.idempotencyWindow)
        if let idempotencyKey,
            let existing = try await store.manualRun(jobID: jobID, idempotencyKey: idempotencyKey, since: since)
        {
            return ManualRun(executionID: existing, replayed: true)
        }
        let exclusive = !force && job.overlap == .skip
        if exclusive, let current = runningIDs(of: jobID).sorted().first {
            throw ControlError.alreadyRunning(jobID: jobID, executionID: current)
        }
        let record = ExecutionRecord(
            jobID: jobID, state: .scheduled, trigger: .manual, scheduledAt: clock.now, host: configuration.host)
        // Written before answering, so that the id returned can be read at once.
        switch try await control.recordManualRun(
            record, idempotencyKey: idempotencyKey, since: since, exclusive: exclusive)
        {
        case .replayed(let existing):
            return ManualRun(executionID: existing, replayed: true)
        case .busyElsewhere(let executionID, let node):
            throw ControlError.alreadyRunningElsewhere(jobID: jobID, executionID: executionID, node: node)
        case .recorded:
            break
        }
        // The check above ran before the write: a local run that started meanwhile still counts.
        await dispatch(PendingRun(job: job, record: record, control: RunControl()), overlapApplies: !force)
        wake()
        return ManualRun(executionID: record.id, replayed: false)
    }

    /// The job is paused (already stored): its instants pass without running.
    func markPaused(_ jobID: String) {
        jobs.pause(jobID)
        noteChanged(jobID)
        trackHealth(jobID)
    }

    /// The job is resumed (already stored): it runs again from its next instant after now.
    func markResumed(_ jobID: String) {
        jobs.resume(jobID)
        dependentResumed(jobID)
        noteChanged(jobID)
        reschedule(jobID, after: max(clock.now, jobs.lastScheduled[jobID] ?? .distantPast))
        trackHealth(jobID)
        wake()
    }

    /// Ids of the jobs created through the API that this scheduler has.
    public func apiJobIDs() -> Set<String> {
        Set(jobs.values.lazy.filter { $0.source == .api }.map(\.id))
    }

    /// What ``applySharedChanges(paused:apiJobs:keepingOnlyAPIJobs:)`` changed.
    public struct SharedChanges: Sendable, Equatable {
        public var paused: Set<String> = []
        public var resumed: Set<String> = []
        public var added: Set<String> = []
        public var replaced: Set<String> = []
        public var removed: Set<String> = []

        public var isEmpty: Bool {
            paused.isEmpty && resumed.isEmpty && added.isEmpty && replaced.isEmpty && removed.isEmpty
        }
    }

    /// Applies what another node changed in the shared store, without writing it again (it is stored) and without
    /// an audit entry (the node that acted wrote it): the jobs created, replaced or deleted through its API, and the
    /// jobs it paused or resumed.
    ///
    /// - Parameters:
    ///   - paused: Jobs and whether they are paused, as stored.
    ///   - apiJobs: Jobs and their stored API definitions; `nil`: no API job has that id (deleted, or a job from a
    ///     file whose state changed). A job from a job file is never replaced or removed here.
    ///   - keepingOnlyAPIJobs: For a full reconciliation, the ids of every stored API job: API jobs of this scheduler
    ///     with another id are removed too.
    @discardableResult
    public func applySharedChanges(
        paused: [String: Bool], apiJobs: [String: APIJobDefinition?], keepingOnlyAPIJobs stored: Set<String>? = nil
    ) -> SharedChanges {
        var changes = SharedChanges()
        var definitions = apiJobs
        if let stored {
            for id in apiJobIDs() where !stored.contains(id) { definitions[id] = .some(nil) }
        }
        for (id, definition) in definitions.sorted(by: { $0.key < $1.key }) {
            let current = jobs[id]
            guard let definition else {
                if current?.source == .api {
                    removeJob(id: id)
                    changes.removed.insert(id)
                    logger.info("job removed through another node", metadata: ["job.id": "\(id)"])
                }
                continue
            }
            let job: Job
            do { job = try definition.job(kinds: configuration.jobKinds) } catch {
                logger.error(
                    "a job another node stored through its API cannot be read here; it is not scheduled",
                    metadata: ["job.id": "\(id)", "error": "\(error)"])
                continue
            }
            guard current != job else { continue }
            do {
                try upsertJob(job)
                if current == nil { changes.added.insert(id) } else { changes.replaced.insert(id) }
                logger.info(
                    current == nil ? "job added through another node" : "job changed through another node",
                    metadata: ["job.id": "\(id)"])
            } catch {
                logger.error(
                    "another node created a job through its API whose id a job file of this node uses; the file's job stays",
                    metadata: ["job.id": "\(id)"])
            }
        }
        for (id, isPaused) in paused.sorted(by: { $0.key < $1.key }) where jobs.paused.contains(id) != isPaused {
            if isPaused {
                markPaused(id)
                changes.paused.insert(id)
            } else {
                markResumed(id)
                changes.resumed.insert(id)
            }
            if jobs[id] != nil {
                logger.info(
                    isPaused ? "job paused through another node" : "job resumed through another node",
                    metadata: ["job.id": "\(id)"])
            }
        }
        if !changes.isEmpty { changed() }
        return changes
    }
}
