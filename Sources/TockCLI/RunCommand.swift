import ArgumentParser
import CronKit
import Foundation
import TockCore

/// `tock run JOB_ID [--jobs-dir DIR]`: one run, now, in the foreground, through the daemon's runner.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run one job from jobs.d once, now, in the foreground.",
        discussion: """
            Uses the same runner as the daemon (timeout, retries, output cap), streams the job's output as it is \
            written, and exits with the job's exit status (128 + N when it was killed by signal N). Needs no daemon.
            """
    )

    @Argument(help: "The job's id.")
    var jobID: String

    @Option(help: "The directory of job files.")
    var jobsDir = "./jobs.d"

    func run() async throws {
        let directory = JobDirectory.load(jobsDir)
        guard let job = directory.job(jobID) else {
            let fileErrors = directory.errors.map(\.description).joined(separator: "\n")
            let known = directory.jobs.map(\.id).sorted().joined(separator: ", ")
            fail(
                "no job '\(jobID)' in \(jobsDir)" + (known.isEmpty ? "" : " (jobs: \(known))")
                    + (fileErrors.isEmpty ? "" : "\n" + fileErrors))
        }
        ProcessJobRunner.becomeSubreaper()
        let control = RunControl()
        let signals = SignalForwarder(control: control)
        defer { withExtendedLifetime(signals) {} }

        let request = job.attemptRequest(executionID: "run-\(UUID().uuidString.lowercased())", scheduledTime: Date())
        let outcomes = await ProcessJobRunner().runWithRetries(
            request, policy: job.retry, control: control,
            output: { chunk in
                chunk.bytes.withUnsafeBytes { raw in
                    _ = write(chunk.stream == .stdout ? 1 : 2, raw.baseAddress, raw.count)
                }
            },
            onAttempt: { number, outcome in
                let total = job.retry.retries + 1
                if total > 1 || outcome.state != .succeeded {
                    note("attempt \(number)/\(total): \(Self.summary(outcome))")
                }
            })
        guard let last = outcomes.last else { throw ExitCode(1) }
        if last.stdout.droppedBytes > 0 || last.stderr.droppedBytes > 0 {
            note("output exceeded max_output; the stored copy keeps the first and last halves")
        }
        throw ExitCode(last.shellStatus)
    }

    static func summary(_ outcome: AttemptOutcome) -> String {
        let seconds = String(format: "%.2fs", outcome.endedAt.timeIntervalSince(outcome.startedAt))
        switch (outcome.state, outcome.termination) {
        case (_, .spawnFailed(let message)): return "could not start: \(message)"
        case (.timeout, _): return "timed out after \(seconds)"
        case (.stopped, _): return "stopped after \(seconds)"
        case (_, .exited(let code)): return "exit status \(code) after \(seconds)"
        case (_, .signaled(let signal)): return "killed by signal \(signal) after \(seconds)"
        }
    }
}

private func note(_ message: String) {
    FileHandle.standardError.write(Data("tock run: \(message)\n".utf8))
}

private func fail(_ message: String) -> Never {
    note(message)
    Foundation.exit(2)
}

/// Ctrl-C or SIGTERM stops the job's whole process group (which is in its own session and would not see the
/// terminal's signal) before `tock run` exits.
final class SignalForwarder {
    private let sources: [any DispatchSourceSignal]

    init(control: RunControl) {
        sources = [SIGINT, SIGTERM, SIGHUP].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { control.stop() }
            source.resume()
            return source
        }
    }
}
