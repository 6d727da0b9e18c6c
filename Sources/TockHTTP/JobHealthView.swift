import TockCore
import TockJSON

/// Every job's health as job lists need it (the `health` filter, the counts per state, the failing count), kept
/// between requests and brought up to date with only the jobs noted changed since (``Scheduler/jobsChanged(since:)``).
///
/// Made whole from the store once (every job's newest execution), then patched: with jobs running all the time the
/// scheduler's version moves every second, and making it whole for each list request cost ~100 ms at 100,000 jobs
/// and 10,000,000 executions (issue 18: lists within 20 ms, warm). One byte a job, in the index's order (two sets
/// and a dictionary by id were ~9 MB at 100,000 jobs).
struct HealthView: Sendable {
    /// The scheduler version it is exact for.
    var version: Int
    /// The scheduler's note version it has taken in (read before the store was).
    var noteVersion: Int
    /// The catalog version of the index it is aligned with.
    var indexVersion: Int
    /// The index's entries when it was aligned (the index's own array: no copy), and a code per job: its state,
    /// whether it ran and whether its newest execution failed. (A copy of the ids was 2 MB at 100,000 jobs.) Only
    /// their ids are read; after a patch of the index this array is the old index's until the view is aligned again,
    /// which the same list request does.
    private(set) var entries: [JobRenderCache.Entry] = []
    private(set) var codes: [UInt8] = []
    private(set) var counts: [JobHealth.State: Int] = [:]
    private(set) var failingCount = 0
    /// When it was last made whole: what no note says (executions recorded by another node of a cluster, rows
    /// deleted by hand) is read again every ``JobsController/healthRefresh``.
    var madeWhole: ContinuousClock.Instant

    static let ranBit: UInt8 = 0x40
    static let failingBit: UInt8 = 0x80
    static let states = JobHealth.State.allCases

    /// An empty view of `index`, to be filled by ``append(state:ran:failing:)`` in the index's order.
    init(version: Int, noteVersion: Int, index: JobRenderCache.Index, madeWhole: ContinuousClock.Instant) {
        self.version = version
        self.noteVersion = noteVersion
        self.indexVersion = index.version
        self.entries = index.entries
        self.madeWhole = madeWhole
        codes.reserveCapacity(index.entries.count)
    }

    /// The state of the job at position `n` of the index.
    func state(at n: Int) -> JobHealth.State { Self.states[Int(codes[n] & 0x3F)] }
    func isFailing(at n: Int) -> Bool { codes[n] & Self.failingBit != 0 }
    func ran(at n: Int) -> Bool { codes[n] & Self.ranBit != 0 }

    var countsJSON: JSONValue {
        .object(JobHealth.State.allCases.map { ($0.rawValue, .int(counts[$0] ?? 0)) })
    }

    /// Appends the next job of the index (when made whole).
    mutating func append(state: JobHealth.State, ran: Bool, failing: Bool) {
        precondition(codes.count < entries.count, "more jobs than the index has")
        codes.append(0)
        set(codes.count - 1, state: state, ran: ran, failing: failing, counted: false)
    }

    /// Sets the job at `n`.
    mutating func set(_ n: Int, state: JobHealth.State, ran: Bool, failing: Bool, counted: Bool = true) {
        if counted { uncount(n) }
        let index = UInt8(Self.states.firstIndex(of: state) ?? 0)
        codes[n] = index | (ran ? Self.ranBit : 0) | (failing ? Self.failingBit : 0)
        counts[state, default: 0] += 1
        if failing { failingCount += 1 }
    }

    private mutating func uncount(_ n: Int) {
        counts[state(at: n), default: 0] -= 1
        if isFailing(at: n) { failingCount -= 1 }
    }

    /// Aligned with `index` (entries sorted by id, as ``entries``): a job kept keeps its code, a new one starts
    /// `new` (its entry must be patched), a removed one is dropped.
    mutating func align(with index: JobRenderCache.Index) {
        var newCodes: [UInt8] = []
        newCodes.reserveCapacity(index.entries.count)
        counts = [:]
        failingCount = 0
        var old = 0
        for entry in index.entries {
            while old < entries.count && entries[old].id < entry.id { old += 1 }
            let code: UInt8 = old < entries.count && entries[old].id == entry.id ? codes[old] : 0
            newCodes.append(code)
            counts[Self.states[Int(code & 0x3F)], default: 0] += 1
            if code & Self.failingBit != 0 { failingCount += 1 }
        }
        entries = index.entries
        codes = newCodes
        indexVersion = index.version
    }
}

extension JobsController {
    /// A patch of more jobs than this reads them all again.
    static var healthPatchLimit: Int { 2_000 }
    static var healthRefresh: Duration { .seconds(300) }

    /// The health view of the scheduler's version now, aligned with `index`.
    func healthView(_ index: JobRenderCache.Index, waited: Bool = false) async throws -> HealthView {
        let version = scheduler.version
        let kept = api.cache.health
        if let kept, kept.version == version, kept.indexVersion == index.version { return kept }
        // (An index older than the kept view's, from a request that overlapped a change, is served whole.)
        if let kept, kept.madeWhole.duration(to: .now) < Self.healthRefresh, kept.indexVersion <= index.version,
            var changed = scheduler.jobsChanged(since: kept.noteVersion)
        {
            var view = kept
            if kept.indexVersion != index.version {
                // Added, removed, paused or resumed since: those entries (and every dependent's blocked) moved.
                if let catalog = scheduler.catalogChanges(since: kept.indexVersion) {
                    changed.ids.formUnion(catalog.ids)
                    changed.ids.formUnion(index.dependentIDs)
                } else {
                    changed.ids = Set(index.entries.map(\.id))
                }
                if changed.ids.count <= Self.healthPatchLimit { view.align(with: index) }
            }
            if changed.ids.count <= Self.healthPatchLimit {
                view.version = version
                view.noteVersion = changed.version
                try await update(&view, ids: changed.ids, index: index)
                api.cache.keepHealth(view)
                return view
            }
        }
        // One whole view made at a time: a request meanwhile waits for it, then patches it.
        if !waited, let building = api.cache.wholeHealthBuild {
            // (If it fails, this request tries its own.)
            _ = try? await building.value
            return try await healthView(index, waited: true)
        }
        return try await api.cache.buildWholeHealth { try await wholeHealthView(index: { index }) }
    }

    /// Every job's health read from the store, for the index `index` gives (the store is read meanwhile).
    func wholeHealthView(index: () async throws -> JobRenderCache.Index) async throws -> HealthView {
        // Read before the store: a job noted after this is taken in by the next patch.
        let version = scheduler.version
        let noteVersion = scheduler.changeVersion
        async let ranRead = store.jobsWithNewestExecution(in: Set(ExecutionState.allCases))
        async let failingRead = store.jobsWithNewestExecution(in: Self.failingStates)
        let index = try await index()
        let (ran, failing) = try await (ranRead, failingRead)
        var view = HealthView(version: version, noteVersion: noteVersion, index: index, madeWhole: .now)
        let alerts = api.notifications?.allOpenAlerts() ?? [:]
        let down = try await downJobs(index.entries.filter { $0.alertAfterFailures != nil })
        for entry in index.entries {
            let (ran, failing) = (ran.contains(entry.id), failing.contains(entry.id))
            let state = Self.state(of: entry, ran: ran, failing: failing, alerts: alerts[entry.id] ?? [], down: down)
            view.append(state: state, ran: ran, failing: failing)
        }
        api.cache.keepHealth(view)
        return view
    }

    /// Reads again what decides these jobs' health: their newest execution, streaks, alerts.
    private func update(_ view: inout HealthView, ids: Set<String>, index: JobRenderCache.Index) async throws {
        let positions = ids.compactMap { id -> Int? in
            let slot = index.slot(of: id)
            return slot.found ? slot.at : nil
        }
        guard !positions.isEmpty else { return }
        let entries = positions.map { index.entries[$0] }
        let newest = try await store.recentExecutions(jobIDs: entries.map(\.id), perJob: 1)
        let alerts = api.notifications?.allOpenAlerts() ?? [:]
        let down = try await downJobs(entries.filter { $0.alertAfterFailures != nil })
        for (n, entry) in zip(positions, entries) {
            let last = newest[entry.id]?.first
            let failing = last.map { Self.failingStates.contains($0.state) } ?? false
            let state = Self.state(
                of: entry, ran: last != nil, failing: failing, alerts: alerts[entry.id] ?? [], down: down)
            view.set(n, state: state, ran: last != nil, failing: failing)
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
        of entry: JobRenderCache.Entry, ran: Bool, failing: Bool, alerts: [JobAlert], down: Set<String>
    ) -> JobHealth.State {
        var state: JobHealth.State = ran ? (failing ? .failing : .ok) : .new
        if entry.paused { state = max(state, .paused) }
        if entry.blocked { state = max(state, .blocked) }
        for alert in alerts { state = max(state, alert.kind.state) }
        if down.contains(entry.id) { state = .down }
        return state
    }
}
