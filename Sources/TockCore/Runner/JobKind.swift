import CronKit
import Foundation
import Synchronization

/// A kind of job defined by a package that embeds Tock, next to the built-in `command` and `exec`
/// (ndscheduler's "build your own job class").
///
/// A job file names it with `kind = "NAME"` and passes `args = { … }` (strings); the scheduler applies the same
/// policies as to any job (timeout, retries, overlap, catch-up) and records the outcome.
///
/// ```swift
/// struct Ping: JobKind {
///     let name = "ping"
///     func run(_ invocation: JobKindInvocation) async -> AttemptOutcome {
///         let start = Date()
///         invocation.print("pong \(invocation.arguments["target"] ?? "")\n")
///         return AttemptOutcome(termination: .exited(0), startedAt: start, endedAt: Date())
///     }
/// }
/// ```
public protocol JobKind: Sendable {
    /// The value of `kind` in job files.
    var name: String { get }
    /// Runs one attempt. Write output through the invocation, stop early when its control is stopped
    /// (`invocation.control.whenStopped` / `isStopped`), and return how it ended.
    func run(_ invocation: JobKindInvocation) async -> AttemptOutcome
}

/// One attempt of a custom job kind.
public struct JobKindInvocation: Sendable {
    public let jobID: String
    public let executionID: String
    public let scheduledTime: String
    public let arguments: [String: String]
    public let control: RunControl
    let output: @Sendable (OutputChunk) -> Void

    /// Writes to the attempt's stdout (captured, and streamed live).
    public func print(_ text: String) { output(OutputChunk(stream: .stdout, bytes: Array(text.utf8))) }
    /// Writes to the attempt's stderr.
    public func printError(_ text: String) { output(OutputChunk(stream: .stderr, bytes: Array(text.utf8))) }
}

/// Runs processes for `command`/`exec` jobs and hands `kind` jobs to their ``JobKind``, with the same timeout
/// and output capture.
public struct KindRoutingJobRunner: JobRunner {
    let kinds: [String: any JobKind]
    let processes: ProcessJobRunner

    public init(kinds: [any JobKind], processes: ProcessJobRunner = ProcessJobRunner()) {
        var table: [String: any JobKind] = [:]
        for kind in kinds { table[kind.name] = kind }
        self.kinds = table
        self.processes = processes
    }

    public func run(_ request: AttemptRequest, control: RunControl, output: @escaping @Sendable (OutputChunk) -> Void)
        async -> AttemptOutcome
    {
        guard case .custom(let name, let arguments) = request.program else {
            return await processes.run(request, control: control, output: output)
        }
        let startedAt = Date()
        guard let kind = kinds[name] else {
            return AttemptOutcome(
                termination: .spawnFailed("no job kind '\(name)' is registered"), startedAt: startedAt, endedAt: Date())
        }
        let captures = CaptureBox(limit: request.maxOutput)
        let invocation = JobKindInvocation(
            jobID: request.jobID, executionID: request.executionID,
            scheduledTime: request.scheduledTime.map { Timestamp.string(for: $0, in: .utc) } ?? "",
            arguments: arguments,
            control: control,
            output: { chunk in
                captures.append(chunk)
                output(chunk)
            })
        let timedOut = AtomicFlag()
        var outcome = await withTaskGroup(of: AttemptOutcome?.self) { group in
            group.addTask { await kind.run(invocation) }
            if let timeout = request.timeout {
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    if !Task.isCancelled {
                        timedOut.set()
                        control.stop()
                    }
                    return nil
                }
            }
            var result: AttemptOutcome?
            for await value in group where value != nil {
                result = value
                group.cancelAll()
            }
            return result!
        }
        outcome.stdout = captures.stdout
        outcome.stderr = captures.stderr
        outcome.timedOut = timedOut.isSet
        if timedOut.isSet { outcome.stopped = false }
        return outcome
    }
}

/// Output captures written from a custom kind's task.
final class CaptureBox: Sendable {
    private let state: Mutex<(stdout: OutputCapture, stderr: OutputCapture)>
    init(limit: Int) { state = Mutex((OutputCapture(limit: limit), OutputCapture(limit: limit))) }
    func append(_ chunk: OutputChunk) {
        state.withLock { s in
            if chunk.stream == .stdout { s.stdout.append(chunk.bytes) } else { s.stderr.append(chunk.bytes) }
        }
    }
    var stdout: OutputCapture { state.withLock { $0.stdout } }
    var stderr: OutputCapture { state.withLock { $0.stderr } }
}
