import Foundation
import Logging
import Synchronization

extension Scheduler {
    /// Applies a gated job's dependencies (see `holdAtGate`), the overlap policy, then jitter and the
    /// concurrency limit, to a run that is due.
    func dispatch(
        _ pending: PendingRun, overlapApplies: Bool, overlap override: OverlapPolicy? = nil,
        checkDependencies: Bool = true
    ) async {
        if checkDependencies, !pending.job.after.isEmpty,
            pending.record.trigger == .schedule || pending.record.trigger == .catchup, await holdAtGate(pending)
        {
            return
        }
        var pending = pending
        let job = pending.job
        let overlap = override ?? job.overlap
        let current = runs.runningIDs(of: job.id).compactMap { id in runs.running[id].map { (id, $0) } }
        if overlapApplies && (!current.isEmpty || runs.isWaiting(job.id)) {
            switch overlap {
            case .skip:
                pending.record.state = .skipped
                pending.record.message = "the previous run was still running (overlap = \"skip\")"
                pending.record.endedAt = clock.now
                await persist(pending.record)
                configuration.metrics.recordEnd(pending.record)
                configuration.notifications?.instantSkipped(jobID: job.id, instant: pending.record.scheduledAt)
                logger.info(
                    "run skipped: previous run still running",
                    metadata: ["job.id": "\(job.id)", "execution.id": "\(pending.record.id)"])
                return
            case .allow:
                break
            case .queue:
                pending.record.message = "queued behind the running execution (overlap = \"queue\")"
                await persist(pending.record)
                runs.queueBehindJob(pending)
                return
            case .replace:
                for (id, run) in current {
                    logger.info(
                        "replacing the running execution", metadata: ["job.id": "\(job.id)", "execution.id": "\(id)"])
                    run.control.stop()
                }
            }
        }
        if job.jitter > .zero && pending.record.trigger == .schedule {
            let seconds = job.jitter.timeInterval * min(1, max(0, configuration.jitterFraction()))
            pending.startAt = clock.now.addingTimeInterval(seconds)
            await persist(pending.record)
            runs.delay(pending)
            return
        }
        await admit(pending)
    }

    /// Starts the run if a slot is free, else lets it wait (recorded as `scheduled`).
    func admit(_ pending: PendingRun) async {
        guard runs.hasFreeSlot else {
            var waiting = pending
            waiting.record.message =
                "waiting for a free slot (max_concurrent_runs = \(configuration.maxConcurrentRuns))"
            await persist(waiting.record)
            runs.waitForSlot(waiting)
            return
        }
        runs.start(pending)
        noteChanged(pending.job.id)
    }

    func startDelayedRuns() async {
        for pending in runs.takeDelayed(dueAt: clock.now) { await admit(pending) }
    }

    /// Runs one execution to its end (all attempts) and records it. Runs in the loop's task group, off the actor
    /// until its end (`finished`): a burst's runs start their processes without queueing on the actor behind the
    /// loop, which meanwhile writes the next chunk's rows. Its record comes from `recordStarting` (with the
    /// definition's digest).
    nonisolated func execute(_ pending: PendingRun) async {
        var record = pending.record
        let job = pending.job
        var metadata: Logger.Metadata = [
            "job.id": "\(job.id)", "execution.id": "\(record.id)", "trigger": "\(record.trigger.rawValue)",
        ]
        logger.info("run started", metadata: metadata)
        configuration.notifications?.runStarted(job: job, record: record, at: clock.now)

        let request = job.attemptRequest(
            executionID: record.id, scheduledTime: record.scheduledAt, daemonEnvironment: configuration.environment)
        let clock = self.clock
        let box = RecordBox(record)
        let control = pending.control
        runControls.insert(record.id, control)
        defer { runControls.remove(record.id) }
        // Fenced between its dispatch and now: it must not start (stopped before its process exists).
        if coordinator.fencedReason != nil { control.stop() }
        // The pid is recorded as soon as the process exists: crash recovery needs it.
        control.whenProcessStarts { [self] pid in
            _ = box.update { $0.pid = pid }
            markUnsaved(box)
        }
        let live = liveOutput
        let executionID = record.id
        let outcomes = await runner.runWithRetries(
            request, policy: job.retry, control: control,
            firstAttempt: record.trigger == .retry ? record.attempt : 1,
            output: { chunk in live.append(executionID, chunk) },
            sleep: { delay in try await clock.sleep(until: clock.now.addingTimeInterval(delay.timeInterval)) },
            onAttempt: { [self] number, outcome in
                // The final attempt: the notifications it causes are attached before the record is final in the box,
                // so that they are written in the same transaction as the final record.
                if let planner = configuration.notifications,
                    !(job.retry.shouldRetry(after: outcome, attempt: number) && !control.isStopped)
                {
                    var final = box.value
                    final.apply(outcome, attempt: number)
                    let deliveries = await planner.deliveries(for: final, job: job, store: store, at: clock.now)
                    writes.attach(deliveries, to: final.id)
                }
                _ = box.update { record in
                    record.apply(outcome, attempt: number)
                    if job.retry.shouldRetry(after: outcome, attempt: number) && !control.isStopped {
                        record.state = .running
                        record.message = "attempt \(number) ended \(outcome.state.rawValue); retrying"
                    }
                }
                markUnsaved(box)
            })
        record = box.value
        markUnsaved(box)
        if let last = outcomes.last {
            metadata["exit.status"] = "\(last.shellStatus)"
            metadata["state"] = "\(record.state.rawValue)"
            metadata["duration"] = "\(last.duration)"
            metadata["attempts"] = "\(outcomes.count)"
        }
        if record.state == .succeeded {
            logger.info("run finished", metadata: metadata)
        } else {
            logger.warning("run finished", metadata: metadata)
        }
        await finished(record)
    }

    /// Marks a run's record for the loop's next write (and wakes the loop). The write reads the box then, so it
    /// always stores the latest state, whatever order the updates came in.
    nonisolated func markUnsaved(_ box: RecordBox) {
        writes.mark(box)
        wake()
    }

    /// Writes the marked execution records in one transaction. When the store cannot write (a full disk), they
    /// stay marked and the loop tries again, backing off up to 30 s, until it can.
    func flushExecutions() async {
        let boxes = writes.takeRecords()
        guard !boxes.isEmpty else { return }
        let records = boxes.values.map(\.value)
        defer { for record in records { noteChanged(record.jobID) } }
        let deliveries = writes.takeDeliveries(for: records)
        do {
            try await save(records, enqueuing: deliveries)
            writeSucceeded()
            upstreamsRecorded(records)
            // The store answers for these now: the live hub lets go of their final records (and output).
            liveOutput.forget(records.lazy.filter(\.state.isFinal).map(\.id))
        } catch {
            // Put them back, unless a newer update of the same run was marked meanwhile.
            writes.restore(boxes)
            writes.restoreDeliveries(deliveries)
            writeFailed("could not record executions", count: records.count, error)
        }
    }

    /// Writes one record now; when the store cannot write, it is kept and written with the next retry.
    func persist(_ record: ExecutionRecord) async {
        do {
            try await store.save(record)
        } catch {
            writes.markIfAbsent(record)
            writeFailed("could not record an execution", count: 1, error)
        }
        // The job's newest execution may be this one (`missed`, `skipped`, waiting, interrupted): readers of its
        // health read it again — also during start-up, whose catch-up writes such rows.
        noteChanged(record.jobID)
    }

    func writeFailed(_ message: Logger.Message, count: Int, _ error: any Error) {
        var retry = writes.retry
        if retry.failures == 0 {
            logger.error(message, metadata: ["count": "\(count)", "error": "\(error)", "retrying": "true"])
        }
        retry.failures += 1
        let backoff = min(30, pow(2, Double(min(retry.failures - 1, 5))))
        retry.at = clock.now.addingTimeInterval(backoff)
        writes.retry = retry
    }

    func writeSucceeded() {
        let failures = writes.retry.failures
        guard failures > 0 else { return }
        logger.notice("the store writes again; pending records written", metadata: ["after": "\(failures) failures"])
        writes.retry = PendingWrites.Retry()
    }

    /// Frees the run's slot and starts whatever waited for it.
    func finished(_ record: ExecutionRecord) async {
        let queuedNext = runs.finish(record.id, jobID: record.jobID)
        dependentFinished(record.jobID)
        liveOutput.finish(record)
        configuration.metrics.recordEnd(record)
        noteChanged(record.jobID)
        if let queuedNext { await admit(queuedNext) }
        while let waiting = runs.nextWaitingForSlot() { await admit(waiting) }
        wake()
    }
}

/// The execution record shared between the attempt callbacks of one run.
final class RecordBox: Sendable {
    private let state: Mutex<ExecutionRecord>
    let id: String
    init(_ record: ExecutionRecord) {
        state = Mutex(record)
        id = record.id
    }
    var value: ExecutionRecord { state.withLock { $0 } }
    func update(_ change: (inout ExecutionRecord) -> Void) -> ExecutionRecord {
        state.withLock { record in
            change(&record)
            return record
        }
    }
}
