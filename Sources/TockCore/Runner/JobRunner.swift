import Foundation

/// Runs one attempt of a job and reports how it ended.
///
/// Expected outcomes — a non-zero exit, a timeout, a stop, a program that cannot be started — are values in
/// ``AttemptOutcome``, never thrown. Implementations: ``ProcessJobRunner`` (real processes); tests use recording
/// fakes; a library user can register their own job kinds.
public protocol JobRunner: Sendable {
    /// Runs the attempt to its end.
    ///
    /// - Parameters:
    ///   - request: what to run and how.
    ///   - control: lets another task stop the attempt while it runs.
    ///   - output: called with each chunk of output as it arrives (from a background thread; keep it quick).
    func run(_ request: AttemptRequest, control: RunControl, output: @escaping @Sendable (OutputChunk) -> Void) async
        -> AttemptOutcome

    /// Ends what runs of a previous daemon left behind (the scheduler calls it at start for the executions it
    /// marked interrupted). Returns, per execution id, the process groups found and signalled.
    ///
    /// The default finds processes by the `TOCK_EXECUTION_ID` in their environment and by the recorded groups,
    /// and sends SIGTERM, SIGKILL after `grace` (``ProcessGroup/stopLeftovers(executionIDs:recordedGroups:grace:)``).
    func stopLeftovers(of executionIDs: Set<String>, recordedGroups: [String: Int32], grace: Duration)
        -> [String: Set<Int32>]
}

extension JobRunner {
    public func stopLeftovers(of executionIDs: Set<String>, recordedGroups: [String: Int32], grace: Duration)
        -> [String: Set<Int32>]
    {
        ProcessGroup.stopLeftovers(executionIDs: executionIDs, recordedGroups: recordedGroups, grace: grace)
    }
}

/// A piece of a run's output, as the process wrote it.
public struct OutputChunk: Sendable {
    public enum Stream: String, Sendable, Codable { case stdout, stderr }
    public let stream: Stream
    public let bytes: [UInt8]
    public init(stream: Stream, bytes: [UInt8]) {
        self.stream = stream
        self.bytes = bytes
    }
}
