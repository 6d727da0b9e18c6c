import Foundation
import Logging

extension Scheduler {
    /// Retries elsewhere: on a shared store, every `coordinator.retryCheckInterval` this node asks for runs that were
    /// interrupted because their node died (the reaper recorded them after the node's lease lapsed) and whose job,
    /// as this node has it, allows another attempt. It claims each retry (at most one per original, by a unique rule
    /// in the store) and starts the ones it won after the job's retry delay, and never sooner than its `kill_grace`
    /// after the claim: the dead node fenced itself a quarter of the lease before the reap and killed its runs within
    /// `kill_grace` of that, so the original process has ended before the retry starts (ARCHITECTURE.md, "Retries of
    /// a dead node's runs").
    func retryDeadNodesRuns() async {
        guard let interval = coordinator.retryCheckInterval, coordinator.fencedReason == nil,
            !signals.shuttingDown
        else { return }
        let now = clock.now
        if let next = nextRetryCheck, next > now { return }
        nextRetryCheck = now.addingTimeInterval(interval)
        var policies: [String: RetryPolicy] = [:]
        for job in jobs.values where job.enabled && job.retry.retries > 0 && !jobs.paused.contains(job.id) {
            policies[job.id] = job.retry
        }
        guard !policies.isEmpty else { return }
        let retryable = policies
        let host = configuration.host
        let won: [ExecutionRecord]
        do {
            won = try await coordinator.claimRetries(ofJobs: Set(retryable.keys)) { original in
                guard let policy = retryable[original.jobID], original.attempt <= policy.retries else { return nil }
                return Self.retryRecord(of: original, host: host)
            }
        } catch {
            logger.warning("could not look for dead nodes' runs to retry", metadata: ["error": "\(error)"])
            return
        }
        for record in won {
            guard let job = jobs[record.jobID] else { continue }
            let wait = max(job.retry.delay(beforeAttempt: record.attempt), job.killGrace)
            var pending = PendingRun(job: job, record: record, control: RunControl())
            pending.startAt = now.addingTimeInterval(wait.timeInterval)
            runs.delay(pending)
            noteChanged(job.id)
            logger.notice(
                "retrying a run interrupted on a dead node",
                metadata: [
                    "job.id": "\(job.id)", "execution.id": "\(record.id)", "attempt": "\(record.attempt)",
                    "in": "\(wait)",
                ])
        }
    }

    /// The retry of `original` (its instant, the next attempt number), to run on `host`.
    static func retryRecord(of original: ExecutionRecord, host: String) -> ExecutionRecord {
        var record = ExecutionRecord(
            jobID: original.jobID, state: .scheduled, trigger: .retry, scheduledAt: original.scheduledAt, host: host)
        record.attempt = original.attempt + 1
        record.message = "retry of execution \(original.id), interrupted on node \(original.host)"
        return record
    }
}
