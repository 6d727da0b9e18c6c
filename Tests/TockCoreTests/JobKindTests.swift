import CronKit
import Foundation
import Synchronization
import Testing

@testable import TockCore

/// Job kinds of an embedding package: parsed from job files, run with the same timeout and capture.
struct JobKindTests {
    struct Echo: JobKind {
        let name = "echo"
        func run(_ invocation: JobKindInvocation) async -> AttemptOutcome {
            let start = Date()
            invocation.print("hello \(invocation.arguments["who"] ?? "?") from \(invocation.jobID)\n")
            invocation.printError("note\n")
            return AttemptOutcome(
                termination: .exited(invocation.arguments["fail"] == nil ? 0 : 1), startedAt: start, endedAt: Date())
        }
    }

    /// Runs until stopped.
    struct Forever: JobKind {
        let name = "forever"
        func run(_ invocation: JobKindInvocation) async -> AttemptOutcome {
            let start = Date()
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                invocation.control.whenStopped { continuation.resume() }
            }
            return AttemptOutcome(termination: .signaled(15), startedAt: start, endedAt: Date(), stopped: true)
        }
    }

    @Test func jobFile_withRegisteredKind_parsesKindAndArgs() throws {
        let text = "[job.greet]\nschedule = \"@daily\"\nkind = \"echo\"\nargs = { who = \"world\" }\n"
        let (jobs, errors) = JobDefinitionReader.parse(text, file: "f.toml", kinds: ["echo"])
        #expect(errors.isEmpty)
        #expect(jobs.first?.action == .custom(kind: "echo", arguments: ["who": "world"]))
        let unknown = JobDefinitionReader.parse(
            text.replacingOccurrences(of: "\"echo\"", with: "\"ech\""), file: "f.toml", kinds: ["echo"])
        #expect(
            unknown.errors.map(\.description) == ["f.toml:3: job 'greet': kind: unknown kind 'ech' (registered: echo)"])
        let withoutKinds = JobDefinitionReader.parse(text, file: "f.toml")
        #expect(withoutKinds.errors.map(\.description).contains("f.toml:3: job 'greet': kind: unknown key"))
    }

    @Test func router_runsKindsAndProcesses() async throws {
        let runner = KindRoutingJobRunner(kinds: [Echo()])
        var job = Job(id: "greet", schedule: .reboot, action: .custom(kind: "echo", arguments: ["who": "world"]))
        let chunks = Mutex<[String]>([])
        let outcome = await runner.run(
            job.attemptRequest(executionID: "e1", scheduledTime: Date()), control: RunControl(),
            output: { chunk in chunks.withLock { $0.append(String(decoding: chunk.bytes, as: UTF8.self)) } })
        #expect(outcome.state == .succeeded)
        #expect(outcome.stdout.text == "hello world from greet\n" && outcome.stderr.text == "note\n")
        #expect(chunks.withLock { $0 } == ["hello world from greet\n", "note\n"])
        job.action = .command("echo from a process", shell: "/bin/sh")
        let process = await runner.run(
            job.attemptRequest(executionID: "e2", scheduledTime: Date()), control: RunControl(), output: { _ in })
        #expect(process.stdout.text == "from a process\n")
        job.action = .custom(kind: "missing", arguments: [:])
        let missing = await runner.run(
            job.attemptRequest(executionID: "e3", scheduledTime: Date()), control: RunControl(), output: { _ in })
        #expect(missing.termination == .spawnFailed("no job kind 'missing' is registered"))
    }

    @Test func router_appliesTimeoutToKinds() async {
        let runner = KindRoutingJobRunner(kinds: [Forever()])
        var job = Job(id: "slow", schedule: .reboot, action: .custom(kind: "forever", arguments: [:]))
        job.timeout = .milliseconds(100)
        let outcome = await runner.run(
            job.attemptRequest(executionID: "e", scheduledTime: Date()), control: RunControl(), output: { _ in })
        #expect(outcome.state == .timeout)
    }
}
