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
