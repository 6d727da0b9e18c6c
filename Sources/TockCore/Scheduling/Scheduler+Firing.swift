import CronKit
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Putting instants on the agenda, catching up after downtime, and firing due instants: recording their rows,
/// claiming their slots on a cluster, and acting on what was won.
extension Scheduler {
    func prepareSchedule(_ job: Job) {
        let zone =
            job.timezone.flatMap { ZoneRules.rules(forIdentifier: $0)?.timeZone } ?? configuration.defaultTimeZone
        agenda.setSchedule(job.parsedSchedule, in: zone, of: job.id)
        trackHealth(job.id)
    }

    /// Puts the job's first instant after `date` on the agenda.
    func reschedule(_ jobID: String, after date: Date) {
        if jobs[jobID]?.enabled == true {
            agenda.reschedule(jobID, after: date)
        } else {
            agenda.drop(jobID)
        }
        revisions.noteChanged(jobID, onlyNextInstant: true)
    }

    /// Takes the job's instant off the agenda.
    func dropNextInstant(_ jobID: String) {
        agenda.drop(jobID)
        revisions.noteChanged(jobID, onlyNextInstant: true)
    }

    /// Puts an instant on the agenda (after ``dropNextInstant(_:)``).
    func push(_ jobID: String, _ date: Date) { agenda.push(jobID, date) }

    /// Handles the instants of a job between `last` and now, after downtime, a stall or a clock step forward.
    ///
    /// The rule, the same for all three: an instant is *missed* when the scheduler comes to it more than
    /// `lateTolerance` after it, or when a later instant of the job is already due by then (only the newest due
    /// instant can still run on time). Missed instants follow `catchup`: `skip` records each as `missed` (the most
    /// recent `maxMissedRecords`), `latest` runs the newest missed one, `all` runs each one in order (both within
    /// `catchup_window`). The newest due instant, when not late beyond the tolerance, goes back on the agenda and
    /// runs as usual.
    func catchUp(_ job: Job, after last: Date, now: Date) async {
        guard let schedule = agenda.schedule(of: job.id) else { return }
        let cutoff = now.addingTimeInterval(-configuration.lateTolerance.timeInterval)
        let windowStart = now.addingTimeInterval(-job.catchupWindow.timeInterval)
        var missed: [Date] = []
        var overflow = 0
        var newestMissed: Date?
        func miss(_ instant: Date) {
            newestMissed = instant
            if instant < windowStart && job.catchup != .skip { return }
            // Keep the most recent instants when there are more than can be recorded.
            missed.append(instant)
            if missed.count > max(configuration.maxMissedRecords, 1) {
                missed.removeFirst()
                overflow += 1
            }
        }
        var cursor = last
        var newestDue: Date?
        var examined = 0
        while let next = schedule.nextFireDate(after: cursor), next <= now {
            if let previous = newestDue { miss(previous) }
            newestDue = next
            cursor = next
            examined += 1
            if examined > 1_000_000 { break }
        }
        var onTime: Date?
        if let newest = newestDue {
            if newest < cutoff || examined > 1_000_000 { miss(newest) } else { onTime = newest }
        }
        dropNextInstant(job.id)
        // `all` runs the on-time instant after the missed ones, in the same queue (none is skipped for another);
        // `skip` and `latest` leave it to the loop, which fires it like any other instant. With an on-time run
        // coming, `latest` has nothing to add: that run is the one run the gap asks for.
        let onTimeQueued = job.catchup == .all && onTime != nil && !jobs.paused.contains(job.id)
        if let onTime, !onTimeQueued {
            push(job.id, onTime)
        } else if let next = schedule.nextFireDate(after: cursor) {
            push(job.id, next)
        }
        // An on-time instant left to the loop is not dealt with yet: the loop records it when it fires it.
        let dealtWith = onTime == nil || onTimeQueued ? cursor : (newestMissed ?? last)
        if overflow > 0 {
            logger.warning(
                "more missed instants than recorded", metadata: ["job.id": "\(job.id)", "not.recorded": "\(overflow)"])
        }
        var missedRecords: [ExecutionRecord] = []
        var runs: [ExecutionRecord] = []
        if !jobs.paused.contains(job.id) {
            for (index, instant) in missed.enumerated() {
                let runIt =
                    job.catchup == .all || (job.catchup == .latest && onTime == nil && index == missed.count - 1)
                if runIt {
                    runs.append(
                        ExecutionRecord(
                            jobID: job.id, state: .scheduled, trigger: .catchup, scheduledAt: instant,
                            host: configuration.host))
                    continue
                }
                var record = ExecutionRecord(
                    jobID: job.id, state: .missed, trigger: .schedule, scheduledAt: instant, host: configuration.host)
                record.message =
                    instant < cutoff
                    ? "the daemon was not running (or was stalled) at this instant"
                    : "a later instant was already due when the scheduler came to this one"
                missedRecords.append(record)
            }
            if onTimeQueued, let onTime {
                runs.append(
                    ExecutionRecord(
                        jobID: job.id, state: .scheduled, trigger: .schedule, scheduledAt: onTime,
                        host: configuration.host))
            }
        }
        // Each instant is acted on by the node that wins it, whichever node noticed the gap.
        let slots = (missedRecords + runs).map { PendingRun(job: job, record: $0, control: RunControl()) }
        // Catching up on every missed instant means running them one after another, not skipping them.
        let overlap: OverlapPolicy = job.catchup == .all && job.overlap != .allow ? .queue : job.overlap
        let won = await claimSlots(slots) ?? []
        await actOnClaimed(won, overlap: overlap)
        if dealtWith > last { await markScheduled(job.id, dealtWith) }
        // The missed instants this node recorded (on a cluster, the node that won them alerts).
        let recordedMissed = won.filter { $0.record.state == .missed }.map(\.record.scheduledAt)
        if !recordedMissed.isEmpty {
            configuration.notifications?.missed(job, instants: recordedMissed, notRecorded: overflow, at: now)
        }
    }

    func markScheduled(_ jobID: String, _ date: Date) async {
        if date > jobs.lastScheduled[jobID] ?? .distantPast { jobs.lastScheduled[jobID] = date }
        writes.markInstant(date, of: jobID)
    }

    /// Writes the last instants dealt with. Until written, a crash can only make an instant look missed; its
    /// execution row, written before its process starts, keeps it from running twice (see `startUp`).
    func flushLastScheduled() async {
        let dates = writes.takeInstants()
        guard !dates.isEmpty else { return }
        do { try await store.setLastScheduled(dates) } catch {
            writes.restoreInstants(dates)
            writeFailed("could not record the last instants", count: dates.count, error)
        }
    }

    /// Runs recorded per transaction when many start at once.
    static let startChunk = 100

    /// Marks runs as running and writes them in one transaction.
    func recordStarting(_ batch: [PendingRun]) async -> [PendingRun] {
        guard !batch.isEmpty else { return [] }
        let now = clock.now
        let started = batch.map { pending -> PendingRun in
            var pending = pending
            pending.record.state = .running
            pending.record.startedAt = now
            pending.record.message = nil
            // In the first `running` row already: a crash mid-run still says which definition ran.
            pending.record.definitionDigest = definitionDigest(of: pending.job)
            configuration.metrics.recordStart(pending.record, at: now)
            liveOutput.open(pending.record.id)
            return pending
        }
        // A scheduled instant claimed through a shared store already has its row, naming this node, written by the
        // claim (a crash leaves it `scheduled`, recovered as `interrupted`): its process starts without waiting for a
        // round trip to the database; `running` is written with the loop turn's other updates.
        let claimed = !(coordinator is LocalSlotCoordinator)
        var synchronous: [ExecutionRecord] = []
        for run in started {
            if claimed && [.schedule, .catchup].contains(run.record.trigger) {
                writes.markIfAbsent(run.record)
            } else {
                synchronous.append(run.record)
            }
        }
        guard !synchronous.isEmpty else { return started }
        do { try await store.save(synchronous) } catch {
            // The runs start all the same (a full disk must not stop cron); their rows follow with the retries.
            for record in synchronous { writes.markIfAbsent(record) }
            writeFailed("could not record starting runs", count: synchronous.count, error)
        }
        return started
    }

    /// Instants fired before the first runs of a burst start (see `run()`).
    static let firstFireSlice = 1

    /// Fires the agenda entries that are due, at most `limit` of them: claims those due instants together, then
    /// dispatches those won. Returns whether more may be due.
    @discardableResult
    func fireDueInstants(limit: Int = .max) async -> Bool {
        let now = clock.now
        let cutoff = now.addingTimeInterval(-configuration.lateTolerance.timeInterval)
        var due: [PendingRun] = []
        var ready: [PendingRun] = []
        var fired = 0
        while fired < limit, let entry = agenda.popDue(at: now) {
            fired += 1
            guard let job = jobs[entry.jobID], job.enabled else { continue }
            let following = agenda.schedule(of: job.id)?.nextFireDate(after: entry.date)
            if entry.date < cutoff || following.map({ $0 <= now }) == true {
                // Late beyond tolerance, or superseded by a later instant already due: the rules of downtime.
                await settleLateClaim(job.id, entry.date)
                await catchUp(job, after: entry.date.addingTimeInterval(-0.001), now: now)
                continue
            }
            // The next instant is the one just computed: put it on the agenda without computing it again.
            agenda.drop(job.id)
            if let following { agenda.push(job.id, following) }
            noteChanged(job.id)
            await markScheduled(job.id, entry.date)
            let paused = jobs.paused.contains(job.id)
            if let claimed = await claimedAhead(job, at: entry.date, paused: paused) {
                ready += claimed.won
                due += claimed.toClaim
                continue
            }
            if paused { continue }
            let record = ExecutionRecord(
                jobID: job.id, state: .scheduled, trigger: .schedule, scheduledAt: entry.date, host: configuration.host)
            due.append(PendingRun(job: job, record: record, control: RunControl()))
        }
        let more = fired >= limit && agenda.earliest.map { $0 <= now } == true
        // Those claimed ahead first: they are on time.
        if !ready.isEmpty { await actOnClaimed(ready) }
        guard !due.isEmpty else { return more }
        guard let won = await claimSlots(due) else {
            unclaimed.keep(due, retryAt: clock.now.addingTimeInterval(UnclaimedSlots.retryDelay))
            return more
        }
        await actOnClaimed(won)
        return more
    }

    /// Claims again the due instants whose claim failed: those still within the late tolerance run if won; older
    /// ones are claimed as `missed`, so that each still gets its one row.
    func retryUnclaimed() async {
        let now = clock.now
        guard let at = unclaimed.retryAt, at <= now else { return }
        let cutoff = now.addingTimeInterval(-configuration.lateTolerance.timeInterval)
        let waiting = unclaimed.take().map { pending -> PendingRun in
            guard pending.record.scheduledAt < cutoff else { return pending }
            var late = pending
            late.record.state = .missed
            late.record.message = "the store could not be reached to claim this instant in time"
            return late
        }
        guard let won = await claimSlots(waiting) else {
            unclaimed.keep(waiting, retryAt: now.addingTimeInterval(UnclaimedSlots.retryDelay))
            return
        }
        await actOnClaimed(won)
    }

    /// The slots this node won, in the order given (all of them, unchanged, alone on a store); a slot whose job runs
    /// on another node and whose overlap is `skip` comes back `skipped`. `nil` when the claim's outcome is unknown
    /// (the store could not be reached): the caller claims the same records again later, as running an instant
    /// another node may run too would break "exactly once".
    func claimSlots(_ slots: [PendingRun]) async -> [PendingRun]? {
        guard !slots.isEmpty else { return [] }
        if coordinator is LocalSlotCoordinator { return slots }
        let exclusive = Set(slots.lazy.filter { $0.job.overlap == .skip }.map(\.job.id))
        do {
            let claims = try await coordinator.claim(slots.map(\.record), skipWhileRunningElsewhere: exclusive)
            let now = clock.now
            return slots.compactMap { pending in
                guard claims.won.contains(pending.record.id) else { return nil }
                guard let reason = claims.skipped[pending.record.id] else { return pending }
                var skipped = pending
                skipped.record.state = .skipped
                skipped.record.message = reason
                skipped.record.endedAt = now
                return skipped
            }
        } catch {
            logger.error(
                "could not claim scheduled instants; trying again",
                metadata: ["count": "\(slots.count)", "error": "\(error)"])
            return nil
        }
    }

    /// Records the won slots that are already final (`missed`, `skipped`) and dispatches the others.
    func actOnClaimed(_ won: [PendingRun], overlap: OverlapPolicy? = nil) async {
        for pending in won {
            switch pending.record.state {
            case .missed, .skipped:
                await persist(pending.record)
                configuration.metrics.recordEnd(pending.record)
                if pending.record.state == .skipped {
                    logger.info(
                        "run skipped: previous run still running on another node",
                        metadata: ["job.id": "\(pending.job.id)", "execution.id": "\(pending.record.id)"])
                }
            default:
                await dispatch(pending, overlapApplies: true, overlap: overlap)
            }
        }
    }

    /// While this node has lost its lease, stops every run it has and drops those not started yet (before another
    /// node could be told they ended, or run the next instants of their jobs), once per fenced period.
    func stopRunsIfFenced() async {
        guard let reason = coordinator.fencedReason else {
            signals.fenceHandled = false
            return
        }
        guard !signals.fenceHandled else { return }
        signals.fenceHandled = true
        await settleStaleClaims(reason: "this node lost its lease on the store before this claimed instant")
        logger.error(
            "this node lost its lease on the store: stopping its runs",
            metadata: ["reason": "\(reason)", "running": "\(runs.running.count)"])
        for var pending in runs.drainNotStarted() {
            pending.record.state = .interrupted
            pending.record.message = "this node lost its lease on the store before this run started"
            pending.record.endedAt = clock.now
            await persist(pending.record)
        }
        for (id, run) in runs.running {
            logger.warning(
                "stopping a run: node fenced", metadata: ["job.id": "\(run.jobID)", "execution.id": "\(id)"])
            run.control.stop()
        }
    }
}
