import Foundation

/// The scheduler's source of time. Only ``SystemWallClock`` reads the real clock, so scheduler tests run on a
/// manual clock with no real sleeps.
public protocol WallClock: Sendable {
    /// The current wall-clock time.
    var now: Date { get }
    /// Sleeps until the wall clock reads `deadline` (or later). Throws `CancellationError` when cancelled.
    func sleep(until deadline: Date) async throws
}

/// The real clock.
///
/// Sleeps are cut into slices of at most a second and re-check the wall clock, so that a wall-clock step (NTP,
/// a manual change, a suspended machine) is noticed within a second instead of after a monotonic interval that
/// no longer means what it meant.
public struct SystemWallClock: WallClock {
    public init() {}

    public var now: Date { Date() }

    public func sleep(until deadline: Date) async throws {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return }
            // Zero tolerance: the default lets the timer fire late by a share of the interval, which is
            // lateness for a cron job.
            try await Task.sleep(
                for: .microseconds(Int64((min(remaining, 1.0) * 1_000_000).rounded(.up))), tolerance: .zero)
        }
    }
}
