import CronKit
import Foundation
import Logging
import ServiceLifecycle

extension Scheduler {
    /// Runs until cancelled or asked to shut down gracefully (SIGTERM/SIGINT through a `ServiceGroup`): stops
    /// firing, lets running jobs finish within `shutdownGrace`, then stops them and records everything.
    public func run() async throws {
        await startUp()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                while !Task.isCancelled && !shuttingDown.withLock({ $0 }) {
                    await fireDueInstants()
                    await startDelayedRuns()
                    // Runs about to start are recorded before their processes start (a crash after that leaves
                    // rows that the next start marks interrupted). A burst is written in chunks, each chunk's
                    // processes starting while the next chunk is written.
                    var startable = takeStartable()[...]
                    while !startable.isEmpty {
                        let chunk = startable.prefix(Self.startChunk)
                        startable = startable.dropFirst(chunk.count)
                        for pending in await recordStarting(Array(chunk)) {
                            group.addTask { await self.execute(pending) }
                        }
                    }
                    await flushLastScheduled()
                    await flushExecutions()
                    await pruneIfDue()
                    await sleepUntilNextEvent(deadline: nextDeadline())
                }
                await drain()
            }
            // Every run has ended (its task group is done): write what they recorded last.
            await flushExecutions()
            await flushLastScheduled()
        } onGracefulShutdown: { [self] in
            shuttingDown.withLock { $0 = true }
            wake()
        }
    }

    /// Loads runtime state, marks what a dead daemon left running as interrupted, catches up, starts @reboot jobs.
    func startUp() async {
        let now = clock.now
        do {
            let interrupted = try await store.recoverInterruptedExecutions(at: now)
            for execution in interrupted {
                logger.warning(
                    "execution interrupted by a previous stop of the daemon",
                    metadata: ["job.id": "\(execution.jobID)", "execution.id": "\(execution.id)"])
                // Its process group may have outlived the daemon: end it, as a restart would end a service.
                if let pid = execution.pid, pid > 1, ProcessGroup.livingMembers(pid) > 0 {
                    kill(-pid, SIGTERM)
                    logger.warning("sent SIGTERM to the leftover process group", metadata: ["pgid": "\(pid)"])
                }
            }
        } catch {
            logger.error("could not recover interrupted executions", metadata: ["error": "\(error)"])
        }
        await loadAPIJobs()
        let states = (try? await store.allStates()) ?? [:]
        for (id, state) in states {
            if state.paused { paused.insert(id) }
            if let last = state.lastScheduledAt { lastScheduled[id] = last }
        }
        started = true
        for job in jobs.values.sorted(by: { $0.id < $1.id }) {
            prepareSchedule(job)
            guard job.enabled else { continue }
            if job.parsedSchedule == .reboot {
                if !paused.contains(job.id) {
                    let record = ExecutionRecord(
                        jobID: job.id, state: .scheduled, trigger: .reboot, scheduledAt: now, host: configuration.host)
                    await dispatch(Pending(job: job, record: record, control: RunControl()), overlapApplies: true)
                }
                continue
            }
            if let last = lastScheduled[job.id] {
                await catchUp(job, after: last, now: now)
            } else {
                reschedule(job.id, after: now)
            }
        }
        logger.info("scheduler started", metadata: ["jobs": "\(jobs.count)", "scheduled": "\(agenda.count)"])
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
        generations[job.id, default: 0] += 1
        let zone =
            job.timezone.flatMap { ZoneRules.rules(forIdentifier: $0)?.timeZone } ?? configuration.defaultTimeZone
        schedules[job.id] = job.parsedSchedule.schedule(in: zone)
    }

    /// Puts the job's first instant after `date` on the agenda.
    func reschedule(_ jobID: String, after date: Date) {
        dropNextInstant(jobID)
        guard let job = jobs[jobID], job.enabled, let schedule = schedules[jobID],
            let next = schedule.nextFireDate(after: date)
        else { return }
        push(jobID, next)
    }

    /// Invalidates the job's agenda entry (a new generation; the heap drops stale entries as they surface).
    func dropNextInstant(_ jobID: String) {
        generations[jobID, default: 0] += 1
        nextFire[jobID] = nil
        touch(jobID)
    }

    /// Puts an instant on the agenda under the job's current generation (after ``dropNextInstant(_:)``).
    func push(_ jobID: String, _ date: Date) {
        agenda.push(.init(date: date, jobID: jobID, generation: generations[jobID, default: 0]))
        nextFire[jobID] = date
    }

    /// Handles the instants a job missed between `last` and now (downtime, a stall, a clock step forward).
    func catchUp(_ job: Job, after last: Date, now: Date) async {
        guard let schedule = schedules[job.id] else { return }
        let cutoff = now.addingTimeInterval(-configuration.lateTolerance.timeInterval)
        let windowStart = now.addingTimeInterval(-job.catchupWindow.timeInterval)
        var missed: [Date] = []
        var cursor = last
        var overflow = 0
        while let next = schedule.nextFireDate(after: cursor), next <= cutoff {
            cursor = next
            if next < windowStart && job.catchup != .skip { continue }
            // Keep the most recent instants when there are more than can be recorded.
            missed.append(next)
            if missed.count > max(configuration.maxMissedRecords, 1) {
                missed.removeFirst()
                overflow += 1
            }
            if missed.count + overflow > 1_000_000 { break }
        }
        // Instants after the cutoff but already due are fired normally by the loop.
        dropNextInstant(job.id)
        if let next = schedule.nextFireDate(after: cursor) { push(job.id, next) }
        guard !missed.isEmpty, !paused.contains(job.id) else {
            if cursor > last { await markScheduled(job.id, cursor) }
            return
        }
        if overflow > 0 {
            logger.warning(
                "more missed instants than recorded", metadata: ["job.id": "\(job.id)", "not.recorded": "\(overflow)"])
        }
        for (index, instant) in missed.enumerated() {
            let runIt = job.catchup == .all || (job.catchup == .latest && index == missed.count - 1)
            var record = ExecutionRecord(
                jobID: job.id, state: runIt ? .scheduled : .missed, trigger: runIt ? .catchup : .schedule,
                scheduledAt: instant, host: configuration.host)
            if runIt {
                // Catching up on every missed instant means running them one after another, not skipping them.
                let overlap: OverlapPolicy = job.catchup == .all && job.overlap != .allow ? .queue : job.overlap
                await dispatch(
                    Pending(job: job, record: record, control: RunControl()), overlapApplies: true, overlap: overlap)
            } else {
                record.message = "the daemon was not running (or was stalled) at this instant"
                try? await store.save(record)
                configuration.metrics.recordEnd(record)
            }
        }
        await markScheduled(job.id, cursor)
    }

    func markScheduled(_ jobID: String, _ date: Date) async {
        if date > lastScheduled[jobID] ?? .distantPast { lastScheduled[jobID] = date }
        if date > unsavedLastScheduled[jobID] ?? .distantPast { unsavedLastScheduled[jobID] = date }
    }

    /// Writes the last instants dealt with. Until written, a crash can only make an instant look missed; its
    /// execution row, written before its process starts, keeps it from running twice (see `startUp`).
    func flushLastScheduled() async {
        guard !unsavedLastScheduled.isEmpty else { return }
        let dates = unsavedLastScheduled
        unsavedLastScheduled = [:]
        do { try await store.setLastScheduled(dates) } catch {
            logger.error("could not record the last instants", metadata: ["error": "\(error)"])
        }
    }

    /// Runs recorded per transaction when many start at once.
    static let startChunk = 100

    /// Marks runs as running and writes them in one transaction.
    func recordStarting(_ batch: [Pending]) async -> [Pending] {
        guard !batch.isEmpty else { return [] }
        let now = clock.now
        let started = batch.map { pending -> Pending in
            var pending = pending
            pending.record.state = .running
            pending.record.startedAt = now
            pending.record.message = nil
            configuration.metrics.recordStart(pending.record, at: now)
            liveOutput.open(pending.record.id)
            return pending
        }
        do { try await store.save(started.map(\.record)) } catch {
            logger.error("could not record starting runs", metadata: ["error": "\(error)"])
        }
        return started
    }

    /// Fires every agenda entry that is due.
    func fireDueInstants() async {
        let now = clock.now
        let cutoff = now.addingTimeInterval(-configuration.lateTolerance.timeInterval)
        while let top = agenda.first, top.date <= now {
            _ = agenda.pop()
            guard generations[top.jobID, default: 0] == top.generation, let job = jobs[top.jobID], job.enabled else {
                continue
            }
            if top.date < cutoff {
                // Late beyond tolerance: the same rules as downtime.
                await catchUp(job, after: top.date.addingTimeInterval(-0.001), now: now)
                continue
            }
            reschedule(job.id, after: top.date)
            await markScheduled(job.id, top.date)
            if paused.contains(job.id) { continue }
            let record = ExecutionRecord(
                jobID: job.id, state: .scheduled, trigger: .schedule, scheduledAt: top.date, host: configuration.host)
            await dispatch(Pending(job: job, record: record, control: RunControl()), overlapApplies: true)
        }
    }

    func nextDeadline() -> Date? {
        var deadline = agenda.first?.date
        for pending in delayed {
            if let at = pending.startAt, at < deadline ?? .distantFuture { deadline = at }
        }
        if nextPrune < deadline ?? .distantFuture { deadline = nextPrune }
        return deadline
    }

    /// Sleeps until `deadline` or until something wakes the loop (a command, a finished run, shutdown).
    func sleepUntilNextEvent(deadline: Date?) async {
        if !startable.isEmpty { return }
        let clock = self.clock
        let wakes = wakeSignal
        await withTaskGroup(of: Void.self) { group in
            if let deadline { group.addTask { try? await clock.sleep(until: deadline) } }
            group.addTask { await wakes.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    func pruneIfDue() async {
        let now = clock.now
        guard now >= nextPrune else { return }
        nextPrune = now.addingTimeInterval(3600)
        do {
            let deleted = try await store.prune(
                keepPerJob: configuration.retentionPerJob,
                olderThan: now.addingTimeInterval(-configuration.retentionAge.timeInterval))
            if deleted > 0 { logger.info("pruned old executions", metadata: ["count": "\(deleted)"]) }
        } catch {
            logger.error("pruning failed", metadata: ["error": "\(error)"])
        }
    }

    /// After the loop: give running jobs `shutdownGrace`, then stop them; their tasks record the outcome.
    func drain() async {
        for var pending in delayed + waitingForSlot + queuedBehindJob.values.flatMap({ $0 }) + startable {
            pending.record.state = .interrupted
            pending.record.message = "the daemon shut down before this run started"
            pending.record.endedAt = clock.now
            try? await store.save(pending.record)
        }
        delayed = []
        waitingForSlot = []
        queuedBehindJob = [:]
        startable = []
        guard !running.isEmpty else { return }
        logger.info(
            "shutting down: waiting for running jobs",
            metadata: ["running": "\(running.count)", "grace": "\(configuration.shutdownGrace)"])
        let deadline = clock.now.addingTimeInterval(configuration.shutdownGrace.timeInterval)
        while !running.isEmpty && clock.now < deadline {
            await flushExecutions()
            await sleepUntilNextEvent(deadline: deadline)
        }
        await flushExecutions()
        for (id, run) in running {
            logger.warning("stopping a job at shutdown", metadata: ["job.id": "\(run.jobID)", "execution.id": "\(id)"])
            run.control.stop()
        }
    }
}

#if canImport(Glibc)
    import Glibc
#endif
