import Foundation
import Synchronization
import TockCore

/// A clock that moves only when a test says so. Sleepers wake when `advance` passes their deadline.
///
/// A sleep in a cancelled task (cancelled before or while it sleeps) throws `CancellationError` at once, as
/// `Task.sleep` does: each sleeper waits on a ``ContinuationSlot``.
public final class ManualWallClock: WallClock {
    private struct Sleeper {
        let id: Int
        let deadline: Date
        let slot: ContinuationSlot<Void>
    }

    private struct State {
        var now: Date
        var sleepers: [Sleeper] = []
        var nextID = 0
    }

    private let state: Mutex<State>

    public init(now: Date) { state = Mutex(State(now: now)) }

    public var now: Date { state.withLock { $0.now } }

    /// How many tasks are sleeping on this clock.
    public var sleeperCount: Int { sleeping.count }

    /// The deadlines tasks are sleeping until.
    public var sleeperDeadlines: [Date] { sleeping.map(\.deadline) }

    /// Sleepers not cancelled: a cancelled one leaves the list only when its task goes on, a moment later.
    private var sleeping: [Sleeper] { state.withLock { $0.sleepers.filter { !$0.slot.isCancelled } } }

    public func sleep(until deadline: Date) async throws {
        let slot = ContinuationSlot<Void>()
        let id = state.withLock { s -> Int? in
            if s.now >= deadline { return nil }
            s.nextID += 1
            s.sleepers.append(Sleeper(id: s.nextID, deadline: deadline, slot: slot))
            return s.nextID
        }
        if let id {
            defer { state.withLock { s in s.sleepers.removeAll { $0.id == id } } }
            try await slot.value()
        }
        try Task.checkCancellation()
    }

    /// Moves the clock to `date` (backwards too, for wall-clock steps) and wakes every sleeper now due.
    public func set(_ date: Date) {
        let due = state.withLock { s -> [Sleeper] in
            s.now = date
            let due = s.sleepers.filter { $0.deadline <= date }
            s.sleepers.removeAll { $0.deadline <= date }
            return due
        }
        for sleeper in due { sleeper.slot.resume(returning: ()) }
    }

    public func advance(by seconds: TimeInterval) { set(now.addingTimeInterval(seconds)) }
}
