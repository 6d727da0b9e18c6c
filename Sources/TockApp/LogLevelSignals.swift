import Logging
import ServiceLifecycle
import UnixSignals

/// Changes the log level while the daemon runs: SIGUSR1 one step more verbose (`info` → `debug` → `trace`),
/// SIGUSR2 one step less (`info` → `notice` → `warning` …), SIGHUP the configuration file's `log_level` again
/// (jobs.d is reloaded on SIGHUP too, by ``JobsDirectoryWatcher``). Each change is logged at the new level.
public struct LogLevelSignals: Service {
    let control: LogLevelControl
    /// The level the configuration asks for now (re-read on SIGHUP); `nil`: keep the current one.
    let configuredLevel: @Sendable () -> Logger.Level?
    let logger: Logger
    let signals: UnixSignalsSequence

    /// Traps the signals at once (their default action ends the process), before ``run()`` handles them.
    public init(
        control: LogLevelControl, configuredLevel: @escaping @Sendable () -> Logger.Level?, logger: Logger
    ) async {
        self.control = control
        self.configuredLevel = configuredLevel
        self.logger = logger
        signals = await UnixSignalsSequence(trapping: .sigusr1, .sigusr2, .sighup)
    }

    public func run() async throws {
        for await signal in signals.cancelOnGracefulShutdown() {
            let before = control.level
            let after: Logger.Level
            switch signal {
            case .sigusr1: after = control.moreVerbose()
            case .sigusr2: after = control.lessVerbose()
            default:
                guard let level = configuredLevel() else { continue }
                control.set(level)
                after = level
            }
            guard after != before else { continue }
            logger.log(
                level: after, "log level changed",
                metadata: ["from": "\(before)", "to": "\(after)", "signal": "\(signal)"])
        }
    }
}
