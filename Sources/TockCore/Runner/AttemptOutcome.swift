import Foundation

/// How one attempt ended.
public struct AttemptOutcome: Sendable {
    public enum Termination: Sendable, Hashable {
        case exited(Int32)
        case signaled(Int32)
        /// The process could not be started; the message says why (`no such file: /usr/bin/nope`).
        case spawnFailed(String)
    }

    public var termination: Termination
    public var startedAt: Date
    public var endedAt: Date
    public var pid: Int32?
    /// The timeout expired and the process group was terminated.
    public var timedOut: Bool
    /// Someone stopped the attempt.
    public var stopped: Bool
    public var stdout: OutputCapture
    public var stderr: OutputCapture
    /// Processes of the run's group still alive when the main process exited normally (left running).
    public var survivors: Int

    public init(
        termination: Termination, startedAt: Date, endedAt: Date, pid: Int32? = nil, timedOut: Bool = false,
        stopped: Bool = false, stdout: OutputCapture = OutputCapture(limit: 0),
        stderr: OutputCapture = OutputCapture(limit: 0), survivors: Int = 0
    ) {
        self.termination = termination
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.pid = pid
        self.timedOut = timedOut
        self.stopped = stopped
        self.stdout = stdout
        self.stderr = stderr
        self.survivors = survivors
    }

    public var duration: Duration {
        .milliseconds(Int64((endedAt.timeIntervalSince(startedAt) * 1000).rounded()))
    }

    /// The execution state this outcome stands for (SPEC §4).
    public var state: ExecutionState {
        if case .spawnFailed = termination { return .scheduledError }
        if stopped { return .stopped }
        if timedOut { return .timeout }
        if case .exited(0) = termination { return .succeeded }
        return .failed
    }

    public var succeeded: Bool { state == .succeeded }

    /// The exit status a shell would report: the code, or 128 + signal.
    public var shellStatus: Int32 {
        switch termination {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        case .spawnFailed: 127
        }
    }
}
