import Foundation
import Logging

/// Job dependencies (`after`, issue #17).
///
/// - An edge (dependent D, upstream U) is *satisfied* when U's latest final success ended after what the edge last
///   consumed (its ``DependencyCursor``) and within D's `after_window`. Only a final `succeeded` counts (a retried
///   run counts once it ends; `missed`, `skipped` and failures never), whatever its trigger (a manual run counts).
/// - A *triggered* job (no schedule) gets one run, trigger `dependency`, once all its edges are satisfied: the
///   run's row and the edges' new cursors are written in one transaction, compare-and-set
///   (``JobStore/consumeDependencies(_:saving:)``), so a satisfaction gives exactly one run across crashes and
///   daemons. Many upstream successes before that give one run.
/// - A *gated* job (schedule and `after`) runs an instant only when its edges are satisfied, consuming them the
///   same way; otherwise the instant waits as `scheduled` up to `after_wait`, then is recorded `skipped`
///   ("dependency not met: report, last success Mon 02:41").
/// - The dependent's own `overlap`: with `skip` or `queue`, a satisfaction that comes while it runs is kept (the
///   cursors move only when a run is created) and looked at again when the run ends; `allow` runs at once,
///   `replace` stops the running one. A paused or disabled dependent consumes nothing, so it has at most one run
///   to make when it comes back. A manual run of the dependent ignores its dependencies and consumes nothing.
/// - An unknown upstream or a cycle makes the dependent `blocked` (visible in its status), never a silent stop.
extension Scheduler {
    // MARK: - Hooks from the rest of the scheduler

    /// A job was added, changed or removed: the graph is rebuilt when it matters (the job names upstreams, or is
    /// one), and a changed triggered job is looked at again (a definition change must not drop a satisfaction).
    func noteDependencyChange(old: Job?, new: Job?) {
        let id = new?.id ?? old?.id ?? ""
        // `downstream` has every id some job names, known or not: a job that was an unknown upstream is in it.
        let involved =
            !(old?.after.isEmpty ?? true) || !(new?.after.isEmpty ?? true) || dependencies.downstream[id] != nil
        guard involved else { return }
        dependencies.graphIsStale = true
        if let new, !new.after.isEmpty { dependencies.dirty.insert(new.id) }
        // An upstream came or went: its dependents are blocked or no longer (the graph itself may not change).
        for dependent in dependencies.downstream[id] ?? [] {
            dependencies.dirty.insert(dependent)
            noteChanged(dependent)
        }
    }

    /// Executions the store has just recorded: their final successes may satisfy dependents.
    func upstreamsRecorded(_ records: [ExecutionRecord]) {
        rebuildDependencyGraphIfStale()
        guard !dependencies.downstream.isEmpty else { return }
        for record in records where record.state == .succeeded {
            guard let ended = record.endedAt, let dependents = dependencies.downstream[record.jobID] else { continue }
            dependencies.noteSuccess(of: record.jobID, executionID: record.id, endedAt: ended)
            dependencies.knownUpstreams.insert(record.jobID)
            for dependent in dependents {
                dependencies.dirty.insert(dependent)
                noteChanged(dependent)
            }
            // The loop may be about to sleep: the dependents are looked at on its next turn.
            wake()
        }
    }

    /// A run ended: a dependent that held a satisfaction back while it ran looks at it again.
    func dependentFinished(_ jobID: String) {
        if jobs[jobID]?.after.isEmpty == false { dependencies.dirty.insert(jobID) }
    }

    /// A paused job was resumed: what accumulated may give (one) run.
    func dependentResumed(_ jobID: String) {
        if jobs[jobID]?.after.isEmpty == false { dependencies.dirty.insert(jobID) }
    }

    // MARK: - Start-up

    /// Reads the edges' cursors and the upstreams' latest successes, before any instant fires; every triggered
    /// job is then looked at once (a success recorded just before a crash is consumed now).
    func loadDependencyState() async {
        rebuildDependencyGraphIfStale()
        if dependencies.graph.isEmpty {
            dependencies.loaded = true
            return
        }
        guard let cursors = await retryingRead("read the dependency cursors", { try await $0.dependencyCursors() })
        else { return }
        dependencies.cursors = [:]
        for cursor in cursors { dependencies.cursors[cursor.jobID, default: [:]][cursor.upstreamID] = cursor }
        await readLatestSuccesses()
        dependencies.loaded = true
        for job in jobs.values where !job.after.isEmpty { dependencies.dirty.insert(job.id) }
    }

    /// Reads the latest success of every upstream not read yet.
    func readLatestSuccesses() async {
        let upstreams = Set(dependencies.graph.upstreams.values.joined()).subtracting(dependencies.knownUpstreams)
        for upstream in upstreams.sorted() {
            let query = ExecutionQuery(jobID: upstream, state: .succeeded, limit: 1)
            guard
                let found = await retryingRead(
                    "read the latest success of an upstream job", { try await $0.executions(matching: query) })
            else { return }
            if let latest = found.first, let ended = latest.endedAt {
                dependencies.noteSuccess(of: upstream, executionID: latest.id, endedAt: ended)
            }
            dependencies.knownUpstreams.insert(upstream)
        }
    }

    /// Start-up: a run by dependency that the previous daemon recorded (consuming its upstreams' successes in the
    /// same transaction) but did not start is made again, once; without this a `kill -9` between the row and the
    /// process would lose the satisfaction (it is consumed, and the row is only `interrupted`).
    func noteInterruptedBeforeStart(_ interrupted: [ExecutionRecord]) {
        dependencies.interruptedBeforeStart = interrupted.filter { $0.trigger == .dependency && $0.startedAt == nil }
    }

    private func rerunInterruptedBeforeStart() async {
        let records = dependencies.interruptedBeforeStart
        dependencies.interruptedBeforeStart = []
        for lost in records {
            guard let job = jobs[lost.jobID], job.isTriggered, job.enabled else { continue }
            var record = ExecutionRecord(
                jobID: job.id, state: .scheduled, trigger: .dependency, scheduledAt: clock.now,
                host: configuration.host)
            record.message = "made again: execution \(lost.id) was interrupted before it started"
            logger.notice(
                "a run by dependency was interrupted before it started; running it now",
                metadata: ["job.id": "\(job.id)", "execution.id": "\(record.id)", "interrupted": "\(lost.id)"])
            await persist(record)
            await dispatch(PendingRun(job: job, record: record, control: RunControl()), overlapApplies: true)
        }
    }

    // MARK: - The loop's turn

    /// Looks at the dependents marked since the last turn, and records the gated instants whose wait is over.
    func evaluateDependencies() async {
        guard dependencies.loaded else { return }
        if !dependencies.interruptedBeforeStart.isEmpty { await rerunInterruptedBeforeStart() }
        rebuildDependencyGraphIfStale()
        if dependencies.dirty.isEmpty && dependencies.waits.isEmpty { return }
        await readLatestSuccesses()
        let now = clock.now
        for (id, wait) in dependencies.waits.sorted(by: { $0.key < $1.key }) {
            if dependencies.dirty.contains(id) || wait.deadline <= now {
                dependencies.dirty.remove(id)
                await releaseOrExpire(wait, now: now)
            }
        }
        let dirty = dependencies.dirty
        dependencies.dirty = []
        for id in dirty.sorted() {
            guard let job = jobs[id], job.isTriggered else { continue }
            await triggerIfSatisfied(job, now: now)
        }
    }

    /// One run of a triggered job, if every edge is satisfied and its overlap lets it start.
    func triggerIfSatisfied(_ job: Job, now: Date) async {
        guard job.enabled, !jobs.paused.contains(job.id) else { return }
        let busy = !runningIDs(of: job.id).isEmpty || runs.isWaiting(job.id)
        // Kept for when the run ends (`dependentFinished`): the cursors have not moved.
        if busy && (job.overlap == .skip || job.overlap == .queue) { return }
        guard case .satisfied(let cursors) = verdict(for: job, at: now) else { return }
        let record = ExecutionRecord(
            jobID: job.id, state: .scheduled, trigger: .dependency, scheduledAt: now, host: configuration.host)
        guard await consume(cursors, saving: record) == .written else { return }
        logger.info(
            "dependencies met: run triggered",
            metadata: [
                "job.id": "\(job.id)", "execution.id": "\(record.id)",
                "after": "\(cursors.map(\.upstreamID).joined(separator: ","))",
            ])
        await dispatch(PendingRun(job: job, record: record, control: RunControl()), overlapApplies: true)
    }

    /// The gate of a gated job's instant (trigger `schedule` or `catchup`): `false` lets the run go on (its
    /// dependencies were consumed with its row); `true` means it was held (waiting up to `after_wait`) or skipped.
    func holdAtGate(_ pending: PendingRun) async -> Bool {
        let now = clock.now
        if case .satisfied(let cursors) = verdict(for: pending.job, at: now) {
            switch await consume(cursors, saving: pending.record) {
            case .written: return false
            case .failed:
                // The store cannot write now: the instant runs all the same (a full disk must not stop cron), and
                // the edges count as consumed here; its row follows with the write retries.
                dependencies.consumed(cursors)
                return false
            case .consumedElsewhere: break
            }
        }
        guard pending.job.afterWait > .zero else {
            await skipAtGate(pending, now: now)
            return true
        }
        // One instant waits per job: a newer one supersedes it.
        if let older = dependencies.waits.removeValue(forKey: pending.job.id) {
            await skipAtGate(older.pending, now: now)
        }
        var waiting = pending
        let unmet = verdict(for: pending.job, at: now).unmet
        waiting.record.message = "waiting on \(unmet.joined(separator: ", "))"
        await persist(waiting.record)
        dependencies.waits[pending.job.id] = DependencyBook.GateWait(
            pending: waiting, deadline: now.addingTimeInterval(pending.job.afterWait.timeInterval))
        noteChanged(pending.job.id)
        return true
    }

    private func releaseOrExpire(_ wait: DependencyBook.GateWait, now: Date) async {
        let id = wait.pending.job.id
        let job = jobs[id] ?? wait.pending.job
        var pending = wait.pending
        pending.job = job
        pending.record.message = nil
        if case .satisfied(let cursors) = verdict(for: job, at: now),
            await consume(cursors, saving: pending.record) == .written
        {
            dependencies.waits[id] = nil
            noteChanged(id)
            await dispatch(pending, overlapApplies: true, checkDependencies: false)
        } else if wait.deadline <= now {
            dependencies.waits[id] = nil
            await skipAtGate(pending, now: now)
        }
    }

    private func skipAtGate(_ pending: PendingRun, now: Date) async {
        var record = pending.record
        record.state = .skipped
        record.endedAt = now
        record.message = "dependency not met: \(unmetDescription(pending.job, at: now))"
        await persist(record)
        configuration.metrics.recordEnd(record)
        noteChanged(record.jobID)
        logger.info(
            "run skipped: dependency not met",
            metadata: [
                "job.id": "\(record.jobID)", "execution.id": "\(record.id)", "reason": "\(record.message ?? "")",
            ])
    }

    enum Consumption { case written, consumedElsewhere, failed }

    /// Writes the run and the new cursors in one transaction. Not written: another daemon consumed one of the
    /// successes (the cursors are read again), or the store cannot write now (a triggered job is looked at again
    /// after the write retry).
    private func consume(_ cursors: [DependencyCursor], saving record: ExecutionRecord) async -> Consumption {
        do {
            if try await store.consumeDependencies(cursors, saving: record) {
                dependencies.consumed(cursors)
                noteChanged(record.jobID)
                return .written
            }
            logger.notice(
                "a dependency was consumed elsewhere; reading the cursors again",
                metadata: ["job.id": "\(record.jobID)"])
            if let stored = try? await store.dependencyCursors() {
                for cursor in stored where cursor.jobID == record.jobID { dependencies.consumed([cursor]) }
            }
            return .consumedElsewhere
        } catch {
            writeFailed("could not record a run of a job with dependencies", count: 1, error)
            if record.trigger == .dependency { dependencies.dirty.insert(record.jobID) }
            return .failed
        }
    }

    // MARK: - The rule

    enum DependencyVerdict {
        case satisfied([DependencyCursor])
        case unmet([String])
        case blocked(String)

        var unmet: [String] {
            switch self {
            case .satisfied: []
            case .unmet(let ids): ids
            case .blocked(let reason): [reason]
            }
        }
    }

    func verdict(for job: Job, at now: Date) -> DependencyVerdict {
        rebuildDependencyGraphIfStale()
        if let cycle = dependencies.cycles[job.id] { return .blocked("cycle \(DependencyGraph.describe(cycle))") }
        if let unknown = job.after.first(where: { jobs[$0] == nil }) {
            return .blocked("upstream '\(unknown)' unknown")
        }
        var cursors: [DependencyCursor] = []
        var unmet: [String] = []
        for upstream in job.after {
            if let success = satisfyingSuccess(of: upstream, for: job, at: now) {
                cursors.append(
                    DependencyCursor(
                        jobID: job.id, upstreamID: upstream, endedAt: success.endedAt,
                        executionID: success.executionID))
            } else {
                unmet.append(upstream)
            }
        }
        return unmet.isEmpty ? .satisfied(cursors) : .unmet(unmet)
    }

    private func satisfyingSuccess(of upstream: String, for job: Job, at now: Date) -> DependencyCursor? {
        guard let success = dependencies.lastSuccess[upstream],
            success.endedAt >= now.addingTimeInterval(-job.afterWindow.timeInterval)
        else { return nil }
        if let consumed = dependencies.cursors[job.id]?[upstream], !success.isAfter(consumed) { return nil }
        return success
    }

    /// `report, last success Mon 02:41; load, never succeeded` (times in the job's zone).
    func unmetDescription(_ job: Job, at now: Date) -> String {
        switch verdict(for: job, at: now) {
        case .satisfied: return "satisfied"
        case .blocked(let reason): return reason
        case .unmet(let ids):
            let zone =
                job.timezone.flatMap { TimeZone(identifier: $0) } ?? configuration.defaultTimeZone
            return ids.map { id in
                guard let success = dependencies.lastSuccess[id] else { return "\(id), never succeeded" }
                return "\(id), last success \(Self.shortTime(success.endedAt, in: zone))"
            }.joined(separator: "; ")
        }
    }

    /// `Mon 02:41`.
    static func shortTime(_ date: Date, in zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let day = days[((parts.weekday ?? 1) - 1) % 7]
        return "\(day) " + String(format: "%02d:%02d", parts.hour ?? 0, parts.minute ?? 0)
    }

    // MARK: - Graph and status

    func rebuildDependencyGraphIfStale() {
        guard dependencies.graphIsStale else { return }
        dependencies.graphIsStale = false
        let old = dependencies.graph
        let graph = DependencyGraph(upstreams: jobs.upstreams)
        dependencies.graph = graph
        dependencies.downstream = graph.downstream()
        dependencies.cycles = graph.cycles()
        guard graph != old else { return }
        // Every job on either side of an edge, before or after: their `downstream` or `blocked` may have moved.
        var touched = Set(old.upstreams.keys).union(graph.upstreams.keys)
        for ups in old.upstreams.values { touched.formUnion(ups) }
        for ups in graph.upstreams.values { touched.formUnion(ups) }
        for id in touched { noteChanged(id) }
        for (id, _) in graph.upstreams { dependencies.dirty.insert(id) }
        for (id, cycle) in dependencies.cycles where old.upstreams[id] != graph.upstreams[id] {
            logger.error(
                "job dependencies form a cycle: the job is blocked",
                metadata: ["job.id": "\(id)", "cycle": "\(DependencyGraph.describe(cycle))"])
        }
    }

    /// The job's dependencies as readers see them.
    func dependencyStatus(of job: Job) -> DependencyStatus {
        rebuildDependencyGraphIfStale()
        var status = DependencyStatus()
        status.downstream = dependencies.downstream[job.id] ?? []
        guard !job.after.isEmpty else { return status }
        let now = clock.now
        for upstream in job.after {
            status.edges.append(
                DependencyStatus.Edge(
                    jobID: upstream, known: jobs[upstream] != nil,
                    satisfied: satisfyingSuccess(of: upstream, for: job, at: now) != nil,
                    lastSuccess: dependencies.lastSuccess[upstream]?.endedAt))
        }
        if case .blocked(let reason) = verdict(for: job, at: now) {
            status.blocked = reason
        } else if let disabled = job.after.first(where: { jobs[$0]?.enabled == false }) {
            // Shown, not enforced: a manual run of a disabled upstream still counts.
            status.blocked = "upstream '\(disabled)' is disabled"
        }
        status.gateWaiting = dependencies.waits[job.id] != nil
        return status
    }

    /// Each job's upstreams (for the catalog's cycle check of a job created or replaced through the API).
    public func dependencyGraph() -> DependencyGraph {
        rebuildDependencyGraphIfStale()
        return dependencies.graph
    }
}
