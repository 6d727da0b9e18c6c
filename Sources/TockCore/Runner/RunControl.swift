import Synchronization

/// A handle to stop a running attempt — or a chain of attempts — from elsewhere (the API's stop,
/// `overlap = "replace"`, shutdown).
///
/// Stopping sends SIGTERM to the running attempt's whole process group and SIGKILL after its kill grace, and no
/// further retry starts. A stop asked before the process has started takes effect as soon as it starts.
public final class RunControl: Sendable {
    private struct State {
        var stopRequested = false
        var target: (monitor: ProcessMonitor, watch: ProcessMonitor.WatchID, grace: Duration)?
        var handlers: [@Sendable () -> Void] = []
        var startHandler: (@Sendable (Int32) -> Void)?
    }

    private let state = Mutex(State())

    public init() {}

    /// Stops the attempt: SIGTERM to its process group now, SIGKILL after the grace.
    public func stop() {
        let (target, handlers) = state.withLock { s in
            s.stopRequested = true
            defer { s.handlers = [] }
            return (s.target, s.handlers)
        }
        if let (monitor, watch, grace) = target { monitor.terminate(watch, grace: grace) }
        for handler in handlers { handler() }
    }

    /// Calls `handler` once when the attempt is stopped (at once if it already was). For runners of other job
    /// kinds than processes.
    public func whenStopped(_ handler: @escaping @Sendable () -> Void) {
        let already = state.withLock { s -> Bool in
            if !s.stopRequested { s.handlers.append(handler) }
            return s.stopRequested
        }
        if already { handler() }
    }

    /// Whether a stop was asked for.
    public var isStopped: Bool { state.withLock { $0.stopRequested } }

    /// Calls `handler` with the pid of each attempt's process as soon as it exists (to record it).
    public func whenProcessStarts(_ handler: @escaping @Sendable (Int32) -> Void) {
        state.withLock { $0.startHandler = handler }
    }

    func attach(_ monitor: ProcessMonitor, watch: ProcessMonitor.WatchID, grace: Duration, pid: Int32) {
        let (pending, startHandler) = state.withLock { s in
            s.target = (monitor, watch, grace)
            return (s.stopRequested, s.startHandler)
        }
        startHandler?(pid)
        if pending { monitor.terminate(watch, grace: grace) }
    }

    func detach() {
        state.withLock { $0.target = nil }
    }
}
