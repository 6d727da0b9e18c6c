import TockCore
import TockJSON

/// Every job's health as job lists need it (the `health` filter, the counts per state, the failing count), kept
/// between requests and brought up to date with only the jobs noted changed since (``Scheduler/jobsChanged(since:)``).
///
/// Made whole from the store once (every job's newest execution), then patched: with jobs running all the time the
/// scheduler's version moves every second, and making it whole for each list request cost ~100 ms at 100,000 jobs
/// and 10,000,000 executions (issue 18: lists within 20 ms, warm).
struct HealthView: Sendable {
    /// The scheduler version it is exact for.
    var version: Int
    /// The scheduler's note version it has taken in (read before the store was).
    var noteVersion: Int
    /// The catalog version of the index it was made with.
    var indexVersion: Int
    /// The jobs of the index that have run, and those whose newest execution is a failure.
    var ran: Set<String> = []
    var failing: Set<String> = []
    var states: [String: JobHealth.State] = [:]
    var counts: [JobHealth.State: Int] = [:]
    /// When it was last made whole: what no note says (executions recorded by another node of a cluster, rows
    /// deleted by hand) is read again every ``JobsController/healthRefresh``.
    var madeWhole: ContinuousClock.Instant

    var failingCount: Int { failing.count }

    var countsJSON: JSONValue {
        .object(JobHealth.State.allCases.map { ($0.rawValue, .int(counts[$0] ?? 0)) })
    }

    mutating func set(_ id: String, _ state: JobHealth.State?) {
        if let old = states[id] { counts[old, default: 0] -= 1 }
        states[id] = state
        if let state { counts[state, default: 0] += 1 }
    }
}

extension JobsController {
    /// A patch of more jobs than this reads them all again.
    static var healthPatchLimit: Int { 2_000 }
    static var healthRefresh: Duration { .seconds(300) }

    /// The health view of the scheduler's version now, for `index`.
    func healthView(_ index: JobRenderCache.Index) async throws -> HealthView {
        let version = scheduler.version
        let kept = api.cache.health
        if let kept, kept.version == version, kept.indexVersion == index.version { return kept }
        if let kept, kept.madeWhole.duration(to: .now) < Self.healthRefresh,
            var changed = scheduler.jobsChanged(since: kept.noteVersion)
        {
            if kept.indexVersion != index.version {
                // Added, removed, paused or resumed since: those entries (and every dependent's blocked) moved.
                if let catalog = scheduler.catalogChanges(since: kept.indexVersion) {
                    changed.ids.formUnion(catalog.ids)
                    changed.ids.formUnion(index.dependentIDs)
                } else {
                    changed.ids = Set(index.entries.map(\.id))
                }
            }
            if changed.ids.count <= Self.healthPatchLimit {
                var view = kept
                view.version = version
                view.noteVersion = changed.version
                view.indexVersion = index.version
                try await update(&view, ids: changed.ids, index: index)
                api.cache.keepHealth(view)
                return view
            }
        }
        // Read before the store: a job noted after this is taken in by the next patch.
        let noteVersion = scheduler.changeVersion
        var view = HealthView(
            version: version, noteVersion: noteVersion, indexVersion: index.version, madeWhole: .now)
        let ran = try await store.jobsWithNewestExecution(in: Set(ExecutionState.allCases))
        let failing = try await store.jobsWithNewestExecution(in: Self.failingStates)
        let alerts = api.notifications?.allOpenAlerts() ?? [:]
        let down = try await downJobs(index.entries.filter { $0.alertAfterFailures != nil })
        view.states.reserveCapacity(index.entries.count)
        for entry in index.entries {
            if ran.contains(entry.id) { view.ran.insert(entry.id) }
            if failing.contains(entry.id) { view.failing.insert(entry.id) }
            view.set(entry.id, Self.state(of: entry, in: view, alerts: alerts[entry.id] ?? [], down: down))
        }
        api.cache.keepHealth(view)
        return view
    }

    /// Reads again what decides these jobs' health: their newest execution, streaks, alerts.
    private func update(_ view: inout HealthView, ids: Set<String>, index: JobRenderCache.Index) async throws {
        var entries: [JobRenderCache.Entry] = []
        for id in ids {
            let slot = index.slot(of: id)
            if slot.found {
                entries.append(index.entries[slot.at])
            } else {
                view.ran.remove(id)
                view.failing.remove(id)
                view.set(id, nil)
            }
        }
        guard !entries.isEmpty else { return }
        let newest = try await store.recentExecutions(jobIDs: entries.map(\.id), perJob: 1)
        let alerts = api.notifications?.allOpenAlerts() ?? [:]
        let down = try await downJobs(entries.filter { $0.alertAfterFailures != nil })
        for entry in entries {
            if let last = newest[entry.id]?.first {
                view.ran.insert(entry.id)
                if Self.failingStates.contains(last.state) {
                    view.failing.insert(entry.id)
                } else {
                    view.failing.remove(entry.id)
                }
            } else {
                view.ran.remove(entry.id)
                view.failing.remove(entry.id)
            }
            view.set(entry.id, Self.state(of: entry, in: view, alerts: alerts[entry.id] ?? [], down: down))
        }
    }

    /// The jobs with `alert_after_failures` that have failed that many times in a row.
    private func downJobs(_ streaked: [JobRenderCache.Entry]) async throws -> Set<String> {
        guard !streaked.isEmpty else { return [] }
        let most = streaked.compactMap(\.alertAfterFailures).max() ?? 1
        let recent = try await store.recentExecutions(jobIDs: streaked.map(\.id), perJob: most + 20)
        var down: Set<String> = []
        for entry in streaked {
            if let threshold = entry.alertAfterFailures,
                JobHealth.failingStreak(recent[entry.id] ?? []).count >= threshold
            {
                down.insert(entry.id)
            }
        }
        return down
    }

    /// One job's health state: from its newest execution (failing, ok, new), whether it is paused or blocked, the
    /// alerts open on it, and for jobs with `alert_after_failures` their failing streak. (A job's own JSON has its
    /// full `health`.)
    static func state(
        of entry: JobRenderCache.Entry, in view: HealthView, alerts: [JobAlert], down: Set<String>
    ) -> JobHealth.State {
        var state: JobHealth.State =
            view.ran.contains(entry.id) ? (view.failing.contains(entry.id) ? .failing : .ok) : .new
        if entry.paused { state = max(state, .paused) }
        if entry.blocked { state = max(state, .blocked) }
        for alert in alerts { state = max(state, alert.kind.state) }
        if down.contains(entry.id) { state = .down }
        return state
    }
}
