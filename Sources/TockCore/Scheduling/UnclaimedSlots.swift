import Foundation

/// Due instants whose claim had an unknown outcome (the shared store could not be reached), kept to be claimed
/// again: the same records (the same ids), so that a claim that did commit before the connection broke is found as
/// this node's own and not lost. Never used alone on a store: a local claim cannot fail.
struct UnclaimedSlots {
    static let retryDelay: TimeInterval = 0.5

    private(set) var pending: [PendingRun] = []
    private(set) var retryAt: Date?

    mutating func keep(_ runs: [PendingRun], retryAt date: Date) {
        pending += runs
        retryAt = date
    }

    mutating func take() -> [PendingRun] {
        defer {
            pending = []
            retryAt = nil
        }
        return pending
    }
}
