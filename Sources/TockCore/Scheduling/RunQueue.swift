import Foundation

/// A run the scheduler has decided on but not finished: its job (as it was when due), its record, its control.
struct PendingRun: Sendable {
    var job: Job
    var record: ExecutionRecord
    var control: RunControl
    /// With jitter: when it may start.
    var startAt: Date?
}

/// Where every run is between being due and ending: running, about to start, waiting for its jitter delay,
/// for a free slot (`max_concurrent_runs`), or behind the job's current run (`overlap = "queue"`).
///
/// A plain value — tested synchronously, without a clock or tasks; the scheduler persists what it decides.
struct RunQueue {
    struct Running: Sendable {
        var jobID: String
        var control: RunControl
    }

    let maxConcurrentRuns: Int
    /// Running executions by execution id (including those about to start).
    private(set) var running: [String: Running] = [:]
    /// The same by job (a burst of a thousand runs must not scan all running ones for each).
    private var runningByJob: [String: Set<String>] = [:]
    /// Admitted runs the loop starts on its next turn (also in `running`).
    private(set) var startable: [PendingRun] = []
    /// Runs waiting for their jitter delay.
    private(set) var delayed: [PendingRun] = []
    /// Runs waiting for a free slot, in order.
    private(set) var waitingForSlot: [PendingRun] = []
    /// `overlap = "queue"`: runs waiting for the job's current run to end.
    private var queuedBehindJob: [String: [PendingRun]] = [:]

    init(maxConcurrentRuns: Int) { self.maxConcurrentRuns = max(1, maxConcurrentRuns) }

    func runningIDs(of jobID: String) -> Set<String> { runningByJob[jobID] ?? [] }

    /// Whether a run of the job waits for its jitter delay or for a slot.
    func isWaiting(_ jobID: String) -> Bool {
        delayed.contains { $0.job.id == jobID } || waitingForSlot.contains { $0.job.id == jobID }
    }

    /// A run admitted now would not exceed `max_concurrent_runs` (runs about to start count: they are running).
    var hasFreeSlot: Bool { running.count < maxConcurrentRuns }

    /// Admits a run (it must have a free slot): running from now, started on the loop's next turn.
    mutating func start(_ run: PendingRun) {
        running[run.record.id] = Running(jobID: run.job.id, control: run.control)
        runningByJob[run.job.id, default: []].insert(run.record.id)
        startable.append(run)
    }

    mutating func waitForSlot(_ run: PendingRun) { waitingForSlot.append(run) }
    mutating func delay(_ run: PendingRun) { delayed.append(run) }
    mutating func queueBehindJob(_ run: PendingRun) { queuedBehindJob[run.job.id, default: []].append(run) }

    mutating func takeStartable() -> [PendingRun] {
        defer { startable = [] }
        return startable
    }

    /// Delayed runs whose time has come, taken off the list.
    mutating func takeDelayed(dueAt now: Date) -> [PendingRun] {
        let due = delayed.filter { ($0.startAt ?? now) <= now }
        if !due.isEmpty { delayed.removeAll { ($0.startAt ?? now) <= now } }
        return due
    }

    /// The earliest start of a delayed run.
    var nextDelayedStart: Date? { delayed.compactMap(\.startAt).min() }

    /// A run ended: frees its slot. Returns the run queued behind it, if its job has no other run going.
    mutating func finish(_ executionID: String, jobID: String) -> PendingRun? {
        running[executionID] = nil
        runningByJob[jobID]?.remove(executionID)
        if runningByJob[jobID]?.isEmpty == true { runningByJob[jobID] = nil }
        guard var queue = queuedBehindJob[jobID], !queue.isEmpty, runningIDs(of: jobID).isEmpty else { return nil }
        let next = queue.removeFirst()
        queuedBehindJob[jobID] = queue.isEmpty ? nil : queue
        return next
    }

    /// The next run waiting for a slot, when there is a free one.
    mutating func nextWaitingForSlot() -> PendingRun? {
        guard hasFreeSlot, !waitingForSlot.isEmpty else { return nil }
        return waitingForSlot.removeFirst()
    }

    /// Takes a run that has not started (delayed, waiting for a slot, queued) off its list.
    mutating func removePending(_ executionID: String) -> [PendingRun] {
        var found: [PendingRun] = []
        func take(_ list: inout [PendingRun]) {
            found += list.filter { $0.record.id == executionID }
            list.removeAll { $0.record.id == executionID }
        }
        take(&delayed)
        take(&waitingForSlot)
        for key in queuedBehindJob.keys { take(&queuedBehindJob[key, default: []]) }
        return found
    }

    /// Every run that has not started (at shutdown), taken off the lists.
    mutating func drainNotStarted() -> [PendingRun] {
        defer {
            delayed = []
            waitingForSlot = []
            queuedBehindJob = [:]
            startable = []
        }
        return delayed + waitingForSlot + queuedBehindJob.values.flatMap { $0 } + startable
    }
}
