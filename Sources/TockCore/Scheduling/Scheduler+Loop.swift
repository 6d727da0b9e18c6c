import CronKit
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

extension Scheduler {
    /// Runs until cancelled or asked to shut down gracefully (SIGTERM/SIGINT through a `ServiceGroup`): stops
    /// firing, lets running jobs finish within `shutdownGrace`, then stops them and records everything.
    public func run() async throws {
        await startUp()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                while !Task.isCancelled && !signals.shuttingDown {
                    // A burst of due instants is fired a slice at a time, each slice's runs started before the
                    // next is planned: the first process of a burst of 1,000 starts after one instant's work.
                    var slice = Self.firstFireSlice
                    while true {
                        let more = await fireDueInstants(limit: slice)
                        if !more { await startDelayedRuns() }
                        // Runs about to start are recorded before their processes start (a crash after that leaves
                        // rows that the next start marks interrupted). A burst is written in chunks, each chunk's
                        // processes starting while the next chunk is written.
                        var startable = runs.takeStartable()[...]
                        while !startable.isEmpty {
                            let chunk = startable.prefix(Self.startChunk)
                            startable = startable.dropFirst(chunk.count)
                            for pending in await recordStarting(Array(chunk)) {
                                group.addTask { await self.execute(pending) }
                            }
                        }
                        guard more else { break }
                        slice = Self.startChunk
                    }
                    if writes.retry.at.map({ $0 <= clock.now }) ?? true {
                        writes.retry.at = nil
                        await flushLastScheduled()
                        await flushExecutions()
                    }
                    await pruneIfDue()
                    await sleepUntilNextEvent(deadline: nextDeadline())
                }
                await drain()
            }
            // Every run has ended (its task group is done): write what they recorded last.
            await flushExecutions()
            await flushLastScheduled()
        } onGracefulShutdown: { [self] in
            signals.shuttingDown = true
            wake()
        }
    }

    /// Loads runtime state, marks what a dead daemon left running as interrupted, catches up, starts @reboot jobs.
    func startUp() async {
        let now = clock.now
        // API jobs first: an interrupted execution's on_failure needs its job.
        await loadAPIJobs()
        let knownJobs = jobs.values
        guard
            let interrupted = await retryingRead(
                "recover interrupted executions",
                { [configuration] store in
                    try await Self.recoverInterrupted(
                        store, at: now, jobs: knownJobs, planner: configuration.notifications)
                })
        else { return }
        configuration.notifications?.enqueued()
        await stopLeftovers(of: interrupted)
        guard let states = await retryingRead("read the jobs' runtime state", { try await $0.allStates() }) else {
            return
        }
        for (id, state) in states {
            if state.paused { jobs.paused.insert(id) }
            if let last = state.lastScheduledAt { jobs.lastScheduled[id] = last }
        }
        signals.started = true
        for job in jobs.values.sorted(by: { $0.id < $1.id }) {
            prepareSchedule(job)
            guard job.enabled else { continue }
            if job.parsedSchedule == .reboot {
                if !jobs.paused.contains(job.id) {
                    let record = ExecutionRecord(
                        jobID: job.id, state: .scheduled, trigger: .reboot, scheduledAt: now, host: configuration.host)
                    await dispatch(PendingRun(job: job, record: record, control: RunControl()), overlapApplies: true)
                }
                continue
            }
            if let last = jobs.lastScheduled[job.id] {
                await catchUp(job, after: last, now: now)
            } else {
                reschedule(job.id, after: now)
            }
        }
        logger.info("scheduler started", metadata: ["jobs": "\(jobs.count)", "scheduled": "\(agenda.count)"])
    }

    /// Reads from the store at start-up, trying again every second while it fails: scheduling without knowing
    /// what was paused and which instants were dealt with would run paused jobs and repeat instants. `nil` when
    /// the daemon is asked to stop meanwhile.
    func retryingRead<T: Sendable>(
        _ what: String, _ read: @Sendable (any JobStore) async throws -> T
    ) async -> T? {
        var failures = 0
        while !Task.isCancelled && !signals.shuttingDown {
            do { return try await read(store) } catch {
                if failures % 30 == 0 {
                    logger.error(
                        "could not \(what); retrying", metadata: ["error": "\(error)", "failures": "\(failures)"])
                }
                failures += 1
                try? await clock.sleep(until: clock.now.addingTimeInterval(1))
            }
        }
        return nil
    }

    /// Ends what the runs a previous daemon left `running` still have alive, and says so on their records.
    func stopLeftovers(of interrupted: [ExecutionRecord]) async {
        guard !interrupted.isEmpty else { return }
        var recorded: [String: pid_t] = [:]
        for execution in interrupted {
            logger.warning(
                "execution interrupted by a previous stop of the daemon",
                metadata: ["job.id": "\(execution.jobID)", "execution.id": "\(execution.id)"])
            if let pid = execution.pid { recorded[execution.id] = pid }
        }
        let stopped = runner.stopLeftovers(
            of: Set(interrupted.map(\.id)), recordedGroups: recorded, grace: .seconds(10))
        for var execution in interrupted {
            guard let groups = stopped[execution.id], !groups.isEmpty else { continue }
            let list = groups.sorted().map(String.init).joined(separator: ", ")
            logger.warning(
                "stopped the leftover processes of an interrupted execution",
                metadata: ["execution.id": "\(execution.id)", "pgid": "\(list)"])
            execution.state = .interrupted
            execution.pid = execution.pid ?? groups.min()
            execution.endedAt = execution.endedAt ?? clock.now
            execution.message =
                "the daemon stopped while this execution was running; its leftover processes (group \(list)) were "
                + "sent SIGTERM at the next start (SIGKILL after 10 s)"
            await persist(execution)
        }
    }

    /// Adds the jobs created through the API, read again from their stored definitions.
    func loadAPIJobs() async {
        let definitions: [APIJobDefinition]
        do { definitions = try await store.apiJobs() } catch {
            logger.error("could not read the jobs created through the API", metadata: ["error": "\(error)"])
            return
        }
        for definition in definitions {
            do {
                let job = try definition.job(kinds: configuration.jobKinds)
                if let existing = jobs[job.id], existing.source != .api {
                    logger.error(
                        "a job file and a job created through the API share an id; the API job wins",
                        metadata: ["job.id": "\(job.id)"])
                }
                jobs[job.id] = job
            } catch {
                logger.error(
                    "a stored API job cannot be read; it is not scheduled",
                    metadata: ["job.id": "\(definition.id)", "error": "\(error)"])
            }
        }
        configuration.metrics.jobCount(jobs.count)
    }

    func prepareSchedule(_ job: Job) {
        let zone =
            job.timezone.flatMap { ZoneRules.rules(forIdentifier: $0)?.timeZone } ?? configuration.defaultTimeZone
        agenda.setSchedule(job.parsedSchedule.schedule(in: zone), of: job.id)
    }

    /// Puts the job's first instant after `date` on the agenda.
    func reschedule(_ jobID: String, after date: Date) {
        if jobs[jobID]?.enabled == true {
            agenda.reschedule(jobID, after: date)
        } else {
            agenda.drop(jobID)
        }
        noteChanged(jobID)
    }

    /// Takes the job's instant off the agenda.
    func dropNextInstant(_ jobID: String) {
        agenda.drop(jobID)
        noteChanged(jobID)
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
        var runs: [(Date, ExecutionTrigger)] = []
        if !jobs.paused.contains(job.id) {
            for (index, instant) in missed.enumerated() {
                let runIt =
                    job.catchup == .all || (job.catchup == .latest && onTime == nil && index == missed.count - 1)
                if runIt {
                    runs.append((instant, .catchup))
                    continue
                }
                var record = ExecutionRecord(
                    jobID: job.id, state: .missed, trigger: .schedule, scheduledAt: instant, host: configuration.host)
                record.message =
                    instant < cutoff
                    ? "the daemon was not running (or was stalled) at this instant"
                    : "a later instant was already due when the scheduler came to this one"
                await persist(record)
                configuration.metrics.recordEnd(record)
            }
            if onTimeQueued, let onTime { runs.append((onTime, .schedule)) }
        }
        for (instant, trigger) in runs {
            let record = ExecutionRecord(
                jobID: job.id, state: .scheduled, trigger: trigger, scheduledAt: instant, host: configuration.host)
            // Catching up on every missed instant means running them one after another, not skipping them.
            let overlap: OverlapPolicy = job.catchup == .all && job.overlap != .allow ? .queue : job.overlap
            await dispatch(
                PendingRun(job: job, record: record, control: RunControl()), overlapApplies: true, overlap: overlap)
        }
        if dealtWith > last { await markScheduled(job.id, dealtWith) }
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
            configuration.metrics.recordStart(pending.record, at: now)
            liveOutput.open(pending.record.id)
            return pending
        }
        do { try await store.save(started.map(\.record)) } catch {
            // The runs start all the same (a full disk must not stop cron); their rows follow with the retries.
            for run in started { writes.markIfAbsent(run.record) }
            writeFailed("could not record starting runs", count: started.count, error)
        }
        return started
    }

    /// Instants fired before the first runs of a burst start (see `run()`).
    static let firstFireSlice = 1

    /// Fires the agenda entries that are due, at most `limit` of them; returns whether more may be due.
    func fireDueInstants(limit: Int = .max) async -> Bool {
        let now = clock.now
        let cutoff = now.addingTimeInterval(-configuration.lateTolerance.timeInterval)
        var fired = 0
        while fired < limit, let due = agenda.popDue(at: now) {
            fired += 1
            guard let job = jobs[due.jobID], job.enabled else { continue }
            let following = agenda.schedule(of: job.id)?.nextFireDate(after: due.date)
            if due.date < cutoff || following.map({ $0 <= now }) == true {
                // Late beyond tolerance, or superseded by a later instant already due: the rules of downtime.
                await catchUp(job, after: due.date.addingTimeInterval(-0.001), now: now)
                continue
            }
            // The next instant is the one just computed: put it on the agenda without computing it again.
            agenda.drop(job.id)
            if let following { agenda.push(job.id, following) }
            noteChanged(job.id)
            await markScheduled(job.id, due.date)
            if jobs.paused.contains(job.id) { continue }
            let record = ExecutionRecord(
                jobID: job.id, state: .scheduled, trigger: .schedule, scheduledAt: due.date, host: configuration.host)
            await dispatch(PendingRun(job: job, record: record, control: RunControl()), overlapApplies: true)
        }
        return fired >= limit && agenda.earliest.map { $0 <= now } == true
    }

    func nextDeadline() -> Date? {
        let candidates = [agenda.earliest, runs.nextDelayedStart, signals.nextPrune, writes.retry.at]
        return candidates.compactMap { $0 }.min()
    }

    /// Sleeps until `deadline` or until something wakes the loop (a command, a finished run, shutdown).
    func sleepUntilNextEvent(deadline: Date?) async {
        if !runs.startable.isEmpty { return }
        let clock = self.clock
        let wakes = signals.wake
        await withTaskGroup(of: Void.self) { group in
            if let deadline { group.addTask { try? await clock.sleep(until: deadline) } }
            group.addTask { await wakes.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    func pruneIfDue() async {
        let now = clock.now
        guard now >= signals.nextPrune, !signals.pruning else { return }
        signals.nextPrune = now.addingTimeInterval(3600)
        signals.pruning = true
        // Off the loop: pruning a million rows takes seconds (in short transactions, see the store), and due runs
        // must not wait for it.
        let (store, logger, configuration, signals) = (self.store, self.logger, self.configuration, self.signals)
        Task.detached {
            defer { signals.pruning = false }
            do {
                let deleted = try await store.prune(
                    keepPerJob: configuration.retentionPerJob,
                    olderThan: now.addingTimeInterval(-configuration.retentionAge.timeInterval))
                if deleted > 0 { logger.info("pruned old executions", metadata: ["count": "\(deleted)"]) }
            } catch {
                logger.error("pruning failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// After the loop: give running jobs `shutdownGrace`, then stop them; their tasks record the outcome.
    func drain() async {
        for var pending in runs.drainNotStarted() {
            pending.record.state = .interrupted
            pending.record.message = "the daemon shut down before this run started"
            pending.record.endedAt = clock.now
            await persist(pending.record)
        }
        guard !runs.running.isEmpty else { return }
        logger.info(
            "shutting down: waiting for running jobs",
            metadata: ["running": "\(runs.running.count)", "grace": "\(configuration.shutdownGrace)"])
        let deadline = clock.now.addingTimeInterval(configuration.shutdownGrace.timeInterval)
        while !runs.running.isEmpty && clock.now < deadline {
            await flushExecutions()
            await sleepUntilNextEvent(deadline: deadline)
        }
        await flushExecutions()
        for (id, run) in runs.running {
            logger.warning("stopping a job at shutdown", metadata: ["job.id": "\(run.jobID)", "execution.id": "\(id)"])
            run.control.stop()
        }
    }
}
