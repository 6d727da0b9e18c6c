import Foundation

/// Scheduled instants claimed shortly before they are due (several nodes on one store), so that the claim's round
/// trip to the database is not part of the run's start lateness: what each claim came to, by job and instant, until
/// the instant fires.
///
/// Alone on a store nothing is claimed ahead (``SlotCoordinator/claimLookahead`` is 0): every slot is its own.
struct ClaimsAhead {
    struct Key: Hashable {
        let jobID: String
        let date: Date
    }

    enum Outcome {
        /// Won: this node's row is written (`scheduled`, or already `skipped` by the claim).
        case won(PendingRun)
        /// Another node won it.
        case lost
        /// The claim's outcome is unknown (the store could not be reached): claimed again at the instant with the
        /// same record, so that a claim that did commit is found as this node's own.
        case unknown(PendingRun)
    }

    private(set) var outcomes: [Key: Outcome] = [:]
    /// The end of the last window claimed: instants up to it have been claimed (or were due by then).
    private(set) var claimedThrough: Date?

    var isEmpty: Bool { outcomes.isEmpty }

    func has(_ jobID: String, _ date: Date) -> Bool { outcomes[Key(jobID: jobID, date: date)] != nil }

    mutating func record(_ outcome: Outcome, _ jobID: String, _ date: Date) {
        outcomes[Key(jobID: jobID, date: date)] = outcome
    }

    mutating func claimed(through date: Date) {
        claimedThrough = max(claimedThrough ?? date, date)
    }

    /// The outcome of this instant's claim, taken off the list (`nil`: not claimed ahead).
    mutating func take(_ jobID: String, _ date: Date) -> Outcome? {
        outcomes.removeValue(forKey: Key(jobID: jobID, date: date))
    }

    /// Takes every outcome of an instant before `date` (their instant passed without firing: the job changed, was
    /// removed or disabled in between) — or all of them.
    mutating func takeStale(before date: Date = .distantFuture) -> [Outcome] {
        let stale = outcomes.filter { $0.key.date < date }
        for key in stale.keys { outcomes[key] = nil }
        return Array(stale.values)
    }
}
