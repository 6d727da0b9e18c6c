import Foundation
import Synchronization

/// The scheduler loop's flags and its wake-up, reachable from any thread: the signal handler's graceful shutdown,
/// runs ending on the runner's thread, commands from the API.
final class LoopSignals: Sendable {
    let wake = WakeSignal()
    private let flags = Mutex((started: false, shuttingDown: false, nextPrune: Date.distantPast, pruning: false))
    private let fence = Mutex(false)

    var started: Bool {
        get { flags.withLock { $0.started } }
        set { flags.withLock { $0.started = newValue } }
    }

    var shuttingDown: Bool {
        get { flags.withLock { $0.shuttingDown } }
        set { flags.withLock { $0.shuttingDown = newValue } }
    }

    /// When retention runs next.
    var nextPrune: Date {
        get { flags.withLock { $0.nextPrune } }
        set { flags.withLock { $0.nextPrune = newValue } }
    }

    /// Whether the runs were already stopped for the current loss of the node's lease.
    var fenceHandled: Bool {
        get { fence.withLock { $0 } }
        set { fence.withLock { $0 = newValue } }
    }

    /// A prune is running (off the loop).
    var pruning: Bool {
        get { flags.withLock { $0.pruning } }
        set { flags.withLock { $0.pruning = newValue } }
    }
}
