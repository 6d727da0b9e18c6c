import CronKit
import Foundation

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
