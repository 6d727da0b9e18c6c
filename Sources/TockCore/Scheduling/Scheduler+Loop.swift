import CronKit
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

extension Scheduler {
    /// Runs until cancelled or asked to shut down gracefully (SIGTERM/SIGINT through a `ServiceGroup`): stops
    /// firing, lets running jobs finish within `shutdownGrace`, then stops them and records everything.
    public func run() async throws {
        coordinator.onFenceChange { [signals, runControls, coordinator] in
            // Stop the runs at once: the loop may be waiting on the unreachable database for its request timeout,
            // and another node may reap this one a quarter of the lease after the fence.
            if coordinator.fencedReason != nil { runControls.stopAll() }
            signals.wake.signal()
        }
        await startUp()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                while !Task.isCancelled && !signals.shuttingDown {
                    await stopRunsIfFenced()
                    await claimAhead()
                    // A burst of due instants is fired a slice at a time, each slice's runs started before the
                    // next is planned: the first process of a burst of 1,000 starts after one instant's work.
                    var slice = Self.firstFireSlice
                    while true {
                        let more = await fireDueInstants(limit: slice)
                        if !more {
                            await retryUnclaimed()
                            await retryDeadNodesRuns()
                            await startDelayedRuns()
                            await evaluateDependencies()
                        }
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
                    let now = clock.now
                    configuration.metrics.beat(now)
                    let heartbeat = now.addingTimeInterval(Self.heartbeatInterval)
                    await sleepUntilNextEvent(deadline: min(nextDeadline() ?? heartbeat, heartbeat))
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
        // The table's boxes, shared (copying 100,000 jobs into an array and a dictionary of their own for the few
        // interrupted runs was a third of a start-up's time and ~200 MB of memory touched).
        let knownJobs = jobs.boxes
        guard
            let interrupted = await retryingRead(
                "recover interrupted executions",
                { [configuration, coordinator] _ in
                    try await Self.recoverInterrupted(
                        coordinator, at: now, jobs: knownJobs, planner: configuration.notifications)
                })
        else { return }
        configuration.notifications?.enqueued()
        await stopLeftovers(of: interrupted)
        noteInterruptedBeforeStart(interrupted)
        guard let states = await retryingRead("read the jobs' runtime state", { try await $0.allStates() }) else {
            return
        }
        for (id, state) in states {
            if state.paused { jobs.pause(id) }
            if let last = state.lastScheduledAt { jobs.lastScheduled[id] = last }
        }
        await loadDependencyState()
        // Whether a job with `after` is blocked is known from now on: readers who kept its catalog entry (a list
        // request before the start) read it again.
        rebuildDependencyGraphIfStale()
        for id in dependencies.graph.upstreams.keys { revisions.catalogChanged(id) }
        // The ids sorted, not the jobs: sorting 100,000 `Job` values moved ~1 GB of memory.
        let ids = jobs.ids.sorted()
        // Scheduling 100,000 jobs holds the actor a while: readers of the catalog read this meanwhile.
        let snapshot = catalogSnapshot(sortedIDs: ids)
        startCatalog.withLock { $0 = snapshot }
        signals.started = true
        // Every job's next instant changes now: one note for all of them at the end.
        revisions.suspendNotes()
        defer {
            revisions.everythingChanged()
            startCatalog.withLock { $0 = nil }
        }
        for id in ids {
            guard let job = jobs[id] else { continue }
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

    func nextDeadline() -> Date? {
        let candidates = [
            agenda.earliest, runs.nextDelayedStart, signals.nextPrune, writes.retry.at, dependencies.nextWaitDeadline,
            unclaimed.retryAt, claimAheadDeadline(), nextRetryCheck,
        ]
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
        await settleStaleClaims(reason: "the node shut down before this claimed instant")
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
