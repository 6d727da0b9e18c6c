import Foundation
import Logging

/// Claims made before the instant (several nodes on one store): see ``ClaimsAhead``.
extension Scheduler {
    /// Claims the agenda's instants due within ``SlotCoordinator/claimLookahead`` of now that are not claimed yet,
    /// and finishes off the claims whose instant passed without firing.
    func claimAhead() async {
        let lookahead = coordinator.claimLookahead
        guard lookahead > 0, coordinator.fencedReason == nil else { return }
        let now = clock.now
        // An instant that passed a minute ago without firing will not fire (its job changed, or was removed).
        await settleStaleClaims(before: now.addingTimeInterval(-60 - configuration.lateTolerance.timeInterval))
        let horizon = now.addingTimeInterval(lookahead)
        var slots: [PendingRun] = []
        for (jobID, date) in agenda.upcoming(through: horizon) where date > now && !ahead.has(jobID, date) {
            guard let job = jobs[jobID], job.enabled, !jobs.paused.contains(jobID) else { continue }
            let record = ExecutionRecord(
                jobID: jobID, state: .scheduled, trigger: .schedule, scheduledAt: date, host: configuration.host)
            slots.append(PendingRun(job: job, record: record, control: RunControl()))
        }
        ahead.claimed(through: horizon)
        guard !slots.isEmpty else { return }
        guard let won = await claimSlots(slots) else {
            for slot in slots { ahead.record(.unknown(slot), slot.job.id, slot.record.scheduledAt) }
            return
        }
        let wonIDs = Dictionary(won.map { ($0.record.id, $0) }, uniquingKeysWith: { first, _ in first })
        for slot in slots {
            let outcome: ClaimsAhead.Outcome = wonIDs[slot.record.id].map { .won($0) } ?? .lost
            ahead.record(outcome, slot.job.id, slot.record.scheduledAt)
        }
    }

    /// When the loop should wake to claim ahead: the earliest instant not claimed yet, less the lookahead.
    func claimAheadDeadline() -> Date? {
        let lookahead = coordinator.claimLookahead
        guard lookahead > 0, coordinator.fencedReason == nil, let earliest = agenda.earliest else { return nil }
        if let through = ahead.claimedThrough, earliest <= through { return nil }
        return earliest.addingTimeInterval(-lookahead)
    }

    /// What to do with a due instant that may have been claimed ahead: `nil` when it was not (claim it now); else
    /// the runs to act on (empty when another node won it).
    func claimedAhead(_ job: Job, at date: Date, paused: Bool) async -> (won: [PendingRun], toClaim: [PendingRun])? {
        guard let outcome = ahead.take(job.id, date) else { return nil }
        switch outcome {
        case .lost:
            return ([], [])
        case .unknown(let slot):
            // Claimed again with the same record (a row that did commit is found as this node's own).
            var record = slot.record
            if paused {
                record.state = .skipped
                record.message = "the job was paused after this node claimed the instant"
                record.endedAt = clock.now
            }
            return ([], [PendingRun(job: job, record: record, control: RunControl())])
        case .won(let slot):
            var run = PendingRun(job: job, record: slot.record, control: RunControl())
            if paused && run.record.state == .scheduled {
                run.record.state = .skipped
                run.record.message = "the job was paused after this node claimed the instant"
                run.record.endedAt = clock.now
            }
            return ([run], [])
        }
    }

    /// An instant claimed ahead that came due too late to run (the loop stalled): its row is recorded `missed`
    /// (the catch-up that follows finds the slot taken, by this row).
    func settleLateClaim(_ jobID: String, _ date: Date) async {
        guard let outcome = ahead.take(jobID, date) else { return }
        await settle([outcome], as: .missed, message: "this node claimed the instant but came to it too late")
    }

    /// Records as final the rows of instants won ahead that will not run: their instant passed without firing (the
    /// job changed, was disabled or removed), the node is fenced, or it shuts down. Unknown claims are claimed again
    /// as final records (a row that did commit is found by its id; else the slot gets this final row or another
    /// node's).
    func settleStaleClaims(before date: Date = .distantFuture, reason: String? = nil) async {
        guard !ahead.isEmpty else { return }
        await settle(
            ahead.takeStale(before: date), as: .skipped,
            message: reason ?? "the job changed before this claimed instant")
    }

    func settle(_ outcomes: [ClaimsAhead.Outcome], as state: ExecutionState, message: String) async {
        var unknown: [PendingRun] = []
        for outcome in outcomes {
            switch outcome {
            case .lost: continue
            case .won(var run):
                guard run.record.state == .scheduled else { continue }
                run.record.state = state
                run.record.message = message
                run.record.endedAt = clock.now
                await persist(run.record)
                configuration.metrics.recordEnd(run.record)
            case .unknown(var run):
                run.record.state = state
                run.record.message = message
                run.record.endedAt = clock.now
                unknown.append(run)
            }
        }
        if !unknown.isEmpty, coordinator.fencedReason == nil, let won = await claimSlots(unknown) {
            await actOnClaimed(won)
        }
    }
}
