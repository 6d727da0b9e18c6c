import Foundation
import Synchronization

/// Flood control: at most `max_per_hour` events to one target in any hour (a sliding window). Those over the limit
/// are held back (`suppressed` in the delivery log), and an hour after the first of them the target gets one
/// `notifications.suppressed` summary of what was held back — the level-triggered flood (the same mail every
/// run) is what this prevents. The window lives in memory: a restart starts it afresh.
final class FloodGate: Sendable {
    struct Held: Sendable {
        var count = 0
        var byType: [String: Int] = [:]
        var firstAt: Date
        var limit: Int
        /// A delivery held back, as the pattern of the summary (channel, target, options).
        var sample: NotificationDelivery
    }

    private struct State {
        var sent: [String: [Date]] = [:]
        var held: [String: Held] = [:]
    }

    private let state = Mutex(State())
    static let window: TimeInterval = 3600

    /// Whether a first attempt to `delivery.target` may go now under `limit` (0: no limit). Counts it when it may;
    /// remembers it for the summary when it may not.
    func admit(_ delivery: NotificationDelivery, limit: Int, at now: Date) -> Bool {
        guard limit > 0 else { return true }
        let key = delivery.target
        return state.withLock { state in
            var times = state.sent[key, default: []]
            times.removeAll { now.timeIntervalSince($0) >= Self.window }
            if times.count < limit {
                times.append(now)
                state.sent[key] = times
                return true
            }
            state.sent[key] = times
            var held = state.held[key] ?? Held(firstAt: now, limit: limit, sample: delivery)
            held.count += 1
            held.byType[delivery.eventType, default: 0] += 1
            state.held[key] = held
            return false
        }
    }

    /// The summaries due at `now` (an hour after the first event held back), taken.
    func dueSummaries(at now: Date) -> [Held] {
        state.withLock { state in
            let due = state.held.filter { now.timeIntervalSince($0.value.firstAt) >= Self.window }
            for key in due.keys { state.held[key] = nil }
            return Array(due.values)
        }
    }

    /// When the next summary is due.
    var nextSummary: Date? {
        state.withLock { $0.held.values.map { $0.firstAt.addingTimeInterval(Self.window) }.min() }
    }
}
