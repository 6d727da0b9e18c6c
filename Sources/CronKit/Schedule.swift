import Foundation

/// When something fires: one pure method, shared by cron expressions, fixed intervals and one-shot schedules.
public protocol Schedule: Sendable {
    /// The first fire time strictly after `date`, or `nil` when the schedule never fires again.
    ///
    /// Pure: the same input gives the same answer, and the clock is never read. Fire times are whole seconds.
    func nextFireDate(after date: Date) -> Date?
}

extension Schedule {
    /// The next `count` fire times strictly after `date`, fewer when the schedule ends.
    public func nextFireDates(after date: Date, count: Int) -> [Date] {
        var result: [Date] = []
        result.reserveCapacity(max(0, count))
        var cursor = date
        while result.count < count, let next = nextFireDate(after: cursor) {
            result.append(next)
            cursor = next
        }
        return result
    }
}
