import Foundation

/// `@every DURATION`: fires at a fixed interval of real time after the previous fire (or start).
public struct IntervalSchedule: Schedule, Hashable {
    /// The interval in whole seconds (at least 1).
    public let seconds: Int64

    public init(seconds: Int64) {
        precondition(seconds > 0, "an interval must be positive")
        self.seconds = seconds
    }

    public func nextFireDate(after date: Date) -> Date? {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 + Double(seconds)).rounded(.down))
    }
}
