import Foundation
import Synchronization
import TockCore

/// A runner for scheduler tests: records what it was asked to run and finishes each attempt when the test says
/// (or at once, with a scripted outcome). No process is started.
public final class RecordingJobRunner: JobRunner {
    public struct Call: Sendable {
        public let request: AttemptRequest
        public let executionID: String
        public let jobID: String
        public let control: RunControl
    }

    /// How an attempt ends.
    public enum Script: Sendable {
        /// Exits at once with this code.
        case exit(Int32)
        /// Runs until the test calls `finish` (or the run is stopped).
        case hold
    }

    private struct State {
        var calls: [Call] = []
        var holds: [String: CheckedContinuation<Int32, Never>] = [:]
        var finishedEarly: [String: Int32] = [:]
        var scripts: [String: [Script]] = [:]
    }

    private let state = Mutex(State())
    private let clock: any WallClock
    public let events: AsyncStream<Call>
    private let eventContinuation: AsyncStream<Call>.Continuation

    public init(clock: any WallClock) {
        self.clock = clock
        (events, eventContinuation) = AsyncStream.makeStream(of: Call.self)
    }

    /// Sets how the attempts of a job end, in order; the last one repeats. Default: `.exit(0)`.
    public func script(_ jobID: String, _ scripts: [Script]) {
        state.withLock { $0.scripts[jobID] = scripts }
    }

    public var calls: [Call] { state.withLock { $0.calls } }

    /// Ends a held attempt of an execution with an exit code.
    public func finish(executionID: String, exitCode: Int32 = 0) {
        let continuation = state.withLock { s -> CheckedContinuation<Int32, Never>? in
            if let c = s.holds.removeValue(forKey: executionID) { return c }
            s.finishedEarly[executionID] = exitCode
            return nil
        }
        continuation?.resume(returning: exitCode)
    }

    public func run(_ request: AttemptRequest, control: RunControl, output: @escaping @Sendable (OutputChunk) -> Void)
        async -> AttemptOutcome
    {
        let executionID = request.executionID
        let jobID = request.jobID
        let call = Call(request: request, executionID: executionID, jobID: jobID, control: control)
        let script = state.withLock { s -> Script in
            s.calls.append(call)
            guard var list = s.scripts[jobID], !list.isEmpty else { return .exit(0) }
            let next = list.count > 1 ? list.removeFirst() : list[0]
            s.scripts[jobID] = list
            return next
        }
        let startedAt = clock.now
        eventContinuation.yield(call)
        var code: Int32 = 0
        switch script {
        case .exit(let value): code = value
        case .hold:
            control.whenStopped { [self] in finish(executionID: executionID, exitCode: 143) }
            code = await withCheckedContinuation { continuation in
                let early = state.withLock { s -> Int32? in
                    if let code = s.finishedEarly.removeValue(forKey: executionID) { return code }
                    s.holds[executionID] = continuation
                    return nil
                }
                if let early { continuation.resume(returning: early) }
            }
        }
        var outcome = AttemptOutcome(
            termination: .exited(code), startedAt: startedAt, endedAt: clock.now, pid: 4242)
        if control.isStopped {
            outcome.termination = .signaled(15)
            outcome.stopped = true
        }
        return outcome
    }
}
