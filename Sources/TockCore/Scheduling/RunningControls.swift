import Synchronization

/// The controls of the runs in progress, reachable from any thread: when the node loses its lease, the coordinator's
/// watchdog stops them at once through this, without waiting for the scheduler loop, which may be blocked for up to
/// the store's request timeout in a call to a database that no longer answers. The loop still records them.
final class RunningControls: Sendable {
    private let controls = Mutex<[String: RunControl]>([:])

    func insert(_ executionID: String, _ control: RunControl) {
        controls.withLock { $0[executionID] = control }
    }

    func remove(_ executionID: String) {
        _ = controls.withLock { $0.removeValue(forKey: executionID) }
    }

    /// Stops every run in progress (SIGTERM, then SIGKILL after each job's `kill_grace`); returns how many.
    @discardableResult
    func stopAll() -> Int {
        let all = controls.withLock { Array($0.values) }
        for control in all { control.stop() }
        return all.count
    }
}
