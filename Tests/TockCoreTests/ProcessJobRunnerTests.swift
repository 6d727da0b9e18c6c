import Foundation
import Synchronization
import Testing

@testable import TockCore

/// The runner against real processes: `/bin/sh`, `sleep`, `head`, `yes`.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ProcessJobRunnerTests {
    let runner = ProcessJobRunner()

    func shell(_ command: String, _ configure: (inout AttemptRequest) -> Void = { _ in }) -> AttemptRequest {
        var request = AttemptRequest(program: .shell(command: command, shell: "/bin/sh"))
        configure(&request)
        return request
    }

    @Test func run_reportsExitCodes() async {
        let ok = await runner.run(shell("true"))
        #expect(ok.termination == .exited(0) && ok.state == .succeeded)
        let three = await runner.run(shell("exit 3"))
        #expect(three.termination == .exited(3) && three.state == .failed)
        #expect(three.pid != nil && three.endedAt >= three.startedAt)
    }

    @Test func run_reportsTerminatingSignal() async {
        let term = await runner.run(shell("kill -TERM $$"))
        #expect(term.termination == .signaled(SIGTERM) && term.state == .failed)
        #expect(term.shellStatus == 128 + SIGTERM)
        let killed = await runner.run(shell("kill -KILL $$"))
        #expect(killed.termination == .signaled(SIGKILL))
    }

    @Test func run_keepsStdoutAndStderrApart() async {
        let outcome = await runner.run(shell("echo out; echo err >&2; printf 'no newline'"))
        #expect(outcome.stdout.text == "out\nno newline")
        #expect(outcome.stderr.text == "err\n")
        #expect(outcome.stdout.totalBytes == 14 && outcome.stdout.droppedBytes == 0)
    }

    @Test func run_execRunsArgvWithoutShell() async {
        let outcome = await runner.run(AttemptRequest(program: .exec(["printf", "%s|", "a b", "$HOME", "*"])))
        #expect(outcome.stdout.text == "a b|$HOME|*|")
    }

    @Test func run_appliesWorkingDirectoryStdinAndEnvironment() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tock-wd-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outcome = await runner.run(
            shell("pwd; cat; echo \"[$GREETING]\"") {
                $0.workingDirectory = dir.path
                $0.stdin = "line one\nline two\n"
                $0.environment = ["GREETING": "hello world", "PATH": "/usr/bin:/bin"]
            })
        #expect(outcome.stdout.text == "\(dir.path)\nline one\nline two\n[hello world]\n")
    }

    /// The environment handed to exec, built in one block: every pair, as `KEY=value`, whatever its characters.
    @Test func environmentBlock_holdsEveryPair() async {
        let environment = [
            "A": "1", "EMPTY": "", "UNICODE": "héllo wörld ✓", "SPACES": "a b  c", "PATH": "/usr/bin:/bin",
        ]
        let strings = ProcessJobRunner.withEnvironmentBlock(environment) { envp in
            var strings: [String] = []
            var n = 0
            while let pointer = envp[n] {
                strings.append(String(cString: pointer))
                n += 1
            }
            return strings
        }
        #expect(Set(strings) == Set(environment.map { "\($0.key)=\($0.value)" }) && strings.count == environment.count)
        let outcome = await runner.run(AttemptRequest(program: .exec(["/usr/bin/env"]), environment: environment))
        #expect(Set(outcome.stdout.text.split(separator: "\n").map(String.init)) == Set(strings))
    }

    @Test func run_withoutStdin_readsEndOfFile() async {
        let outcome = await runner.run(shell("cat; echo done"))
        #expect(outcome.stdout.text == "done\n")
    }

    @Test func run_startsEachJobInItsOwnSessionWithCleanSignals() async {
        // Each check is the spawned process itself, read from its own /proc entry (a shell would be
        // caught mid-fork with its signals briefly blocked).
        let ids = await runner.run(AttemptRequest(program: .exec(["cut", "-d ", "-f1,5,6", "/proc/self/stat"])))
        let fields = ids.stdout.text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        #expect(fields.count == 3 && Set(fields).count == 1, "pid = pgid = sid: \(ids.stdout.text)")
        let signals = await runner.run(
            AttemptRequest(program: .exec(["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"])))
        #expect(signals.stdout.text == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n")
        // ls holds one descriptor of its own (3) for the directory it lists; nothing else is inherited.
        let descriptors = await runner.run(AttemptRequest(program: .exec(["ls", "/proc/self/fd"])))
        #expect(descriptors.stdout.text == "0\n1\n2\n3\n")
    }

    @Test func run_capsHugeOutputKeepingHeadAndTail_withBoundedMemory() async throws {
        let before = try residentMemoryBytes()
        let outcome = await runner.run(
            shell("printf 'FIRST'; head -c 100000000 /dev/zero | tr '\\0' 'x'; printf 'LAST'") {
                $0.maxOutput = 1 << 20
            })
        let after = try residentMemoryBytes()
        #expect(outcome.state == .succeeded)
        #expect(outcome.stdout.totalBytes == 100_000_009)
        #expect(outcome.stdout.droppedBytes == 100_000_009 - (1 << 20))
        let bytes = outcome.stdout.bytes
        let marker = Array("\n[tock: \(100_000_009 - (1 << 20)) bytes dropped]\n".utf8)
        #expect(bytes.count == (1 << 20) + marker.count)
        #expect(bytes.starts(with: Array("FIRSTxxx".utf8)))
        #expect(Array(bytes.suffix(7)) == Array("xxxLAST".utf8))
        #expect(Array(bytes[(1 << 19)..<((1 << 19) + marker.count)]) == marker)
        // 100 MB went through; the runner kept about 1 MiB of it. Allow slack for allocator noise and for the tests
        // running beside this one in the same process (the RSS is the whole process's).
        #expect(after - before < 48 << 20, "RSS grew by \(after - before) bytes")
    }

    @Test func timeout_killsWholeProcessTree() async throws {
        let outcome = await runner.run(
            shell("sleep 300 & sleep 300 & echo started; wait") {
                $0.timeout = .milliseconds(300)
                $0.killGrace = .seconds(5)
            })
        #expect(outcome.state == .timeout)
        #expect(outcome.termination == .signaled(SIGTERM))
        #expect(outcome.stdout.text == "started\n")
        let pgid = try #require(outcome.pid)
        #expect(ProcessGroup.livingMembers(pgid) == 0)
        #expect(outcome.endedAt.timeIntervalSince(outcome.startedAt) < 5, "SIGTERM sufficed; no grace needed")
    }

    @Test func timeout_jobIgnoringSIGTERM_isKilledAfterGrace() async throws {
        // The timeout leaves the shell a second to reach its `trap` (200 ms was not always enough while the whole
        // suite loaded the machine: the SIGTERM then came first and ended it).
        let outcome = await runner.run(
            shell("trap '' TERM; sleep 300 & sleep 300; echo never") {
                $0.timeout = .seconds(1)
                $0.killGrace = .milliseconds(700)
            })
        #expect(outcome.state == .timeout)
        #expect(outcome.termination == .signaled(SIGKILL))
        #expect(outcome.endedAt.timeIntervalSince(outcome.startedAt) >= 1.65)
        let pgid = try #require(outcome.pid)
        #expect(ProcessGroup.livingMembers(pgid) == 0)
    }

    @Test func stop_terminatesRunningTree() async throws {
        let control = RunControl()
        let started = AsyncStream<Void>.makeStream()
        async let outcome = runner.run(
            shell("sleep 300 & echo ready; wait"), control: control,
            output: { chunk in if chunk.stream == .stdout { started.continuation.yield() } })
        for await _ in started.stream { break }
        control.stop()
        let result = await outcome
        #expect(result.state == .stopped)
        #expect(result.termination == .signaled(SIGTERM))
        let pgid = try #require(result.pid)
        #expect(ProcessGroup.livingMembers(pgid) == 0)
    }

    @Test func stop_beforeStart_stopsAtOnce() async {
        let control = RunControl()
        control.stop()
        let outcome = await runner.run(shell("sleep 300"), control: control)
        #expect(outcome.state == .stopped)
        #expect(outcome.endedAt.timeIntervalSince(outcome.startedAt) < 10)
    }

    @Test func output_isStreamedWhileTheProcessRuns() async throws {
        let mark = FileManager.default.temporaryDirectory.appendingPathComponent("tock-mark-\(UUID())").path
        defer { unlink(mark) }
        let seen = AsyncStream<String>.makeStream()
        let control = RunControl()
        async let outcome = runner.run(
            shell(
                "echo first; n=0; while [ ! -e '\(mark)' ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done; echo second"
            ) {
                $0.timeout = .seconds(30)
            }, control: control,
            output: { seen.continuation.yield(String(decoding: $0.bytes, as: UTF8.self)) })
        // The job waits for the mark; only output delivered live lets the test create it.
        var first = ""
        for await text in seen.stream {
            first = text
            break
        }
        #expect(first == "first\n")
        _ = FileManager.default.createFile(atPath: mark, contents: nil)
        let result = await outcome
        #expect(result.stdout.text == "first\nsecond\n")
    }

    @Test(arguments: [
        (AttemptRequest.Program.exec(["/nonexistent/tool"]), "/nonexistent/tool: no such file or directory"),
        (.exec(["no-such-command-tock"]), "no-such-command-tock: command not found in PATH"),
        (.exec([]), "exec is empty: nothing to run"),
        (.shell(command: "true", shell: "/bin/no-shell"), "/bin/no-shell: no such file or directory"),
    ])
    func spawnFailure_isAClearOutcome(_ program: AttemptRequest.Program, _ message: String) async {
        let outcome = await runner.run(AttemptRequest(program: program))
        #expect(outcome.state == .scheduledError)
        #expect(outcome.termination == .spawnFailed(message))
    }

    @Test func spawnFailure_fileNotExecutable() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tock-exec-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = dir.appendingPathComponent("plain").path
        let garbage = dir.appendingPathComponent("garbage").path
        _ = FileManager.default.createFile(
            atPath: plain, contents: Data("echo hi\n".utf8), attributes: [.posixPermissions: 0o644])
        _ = FileManager.default.createFile(
            atPath: garbage, contents: Data([0x7f, 0x00, 0x01]), attributes: [.posixPermissions: 0o755])
        let denied = await runner.run(AttemptRequest(program: .exec([plain])))
        #expect(denied.termination == .spawnFailed("\(plain): permission denied"))
        let notExecutable = await runner.run(AttemptRequest(program: .exec([garbage])))
        #expect(notExecutable.termination == .spawnFailed("\(garbage): not an executable format"))
    }

    /// PATH lookups are kept a second (a burst looks a program up once), yet a program that moved to another PATH
    /// directory meanwhile still runs from where it is now, and one that is gone fails as "not found".
    @Test func pathLookup_keptBriefly_followsAProgramThatMoved() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("tock-path-\(UUID())")
        let (first, second) = (base.appendingPathComponent("a"), base.appendingPathComponent("b"))
        for dir in [first, second] {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        }
        defer { try? FileManager.default.removeItem(at: base) }
        let name = "tock-moving-\(UUID().uuidString.prefix(8))"
        func install(_ dir: URL, _ text: String) {
            _ = FileManager.default.createFile(
                atPath: dir.appendingPathComponent(name).path, contents: Data("#!/bin/sh\necho \(text)\n".utf8),
                attributes: [.posixPermissions: 0o755])
        }
        let request = AttemptRequest(
            program: .exec([name]), environment: ["PATH": "\(first.path):\(second.path):/usr/bin:/bin"])
        // Kept a minute here, so that a slow machine cannot let the kept path expire between the runs.
        let programs = ProcessJobRunner.ResolvedPrograms(lifetime: .seconds(60))
        let runner = ProcessJobRunner(programs: programs)
        install(first, "first")
        #expect(await runner.run(request).stdout.text == "first\n")
        #expect(await runner.run(request).stdout.text == "first\n")
        #expect(programs.hits == 1, "the second run used the kept path")
        try FileManager.default.removeItem(at: first.appendingPathComponent(name))
        install(second, "second")
        let moved = await runner.run(request)
        #expect(moved.stdout.text == "second\n", "\(moved.termination)")
        #expect(programs.hits == 2, "the kept path was tried, failed, and was looked up again")
        try FileManager.default.removeItem(at: second.appendingPathComponent(name))
        let gone = await runner.run(request)
        #expect(gone.termination == .spawnFailed("\(name): command not found in PATH"))
    }

    @Test func spawnFailure_badWorkingDirectory() async {
        let outcome = await runner.run(shell("true") { $0.workingDirectory = "/nonexistent-dir" })
        #expect(outcome.termination == .spawnFailed("working directory '/nonexistent-dir': no such file or directory"))
    }

    @Test func user_whenNotRoot_isRefusedClearly() async {
        let unprivileged = ProcessJobRunner(effectiveUserID: 1000)
        let outcome = await unprivileged.run(shell("id -u") { $0.user = "nobody" })
        #expect(outcome.state == .scheduledError)
        #expect(
            outcome.termination == .spawnFailed("cannot run as user 'nobody': tock is not running as root (uid 1000)"))
    }

    @Test func user_unknown_isRefusedClearly() async {
        let outcome = await ProcessJobRunner(effectiveUserID: 0).run(shell("id -u") { $0.user = "no-such-user-tock" })
        #expect(outcome.termination == .spawnFailed("cannot run as user 'no-such-user-tock': no such user"))
    }

    @Test(.enabled(if: geteuid() == 0, "switching users needs root"))
    func user_whenRoot_switchesUidGidAndGroups() async {
        let outcome = await runner.run(shell("id -u; id -g; id -G") { $0.user = "nobody" })
        #expect(outcome.stdout.text == "65534\n65534\n65534\n", "\(outcome.stderr.text)")
    }

    @Test func retries_failTwiceThenSucceed_giveThreeAttempts() async throws {
        let counter = FileManager.default.temporaryDirectory.appendingPathComponent("tock-count-\(UUID())").path
        defer { unlink(counter) }
        let waits = Mutex<[Duration]>([])
        let attempts = Mutex<[Int]>([])
        let texts = Mutex<[String]>([])
        let outcomes = await runner.runWithRetries(
            shell(
                "n=$(cat '\(counter)' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '\(counter)'; echo attempt $n; [ $n -ge 3 ]"
            ),
            policy: RetryPolicy(retries: 5, delay: .milliseconds(10), maxDelay: .seconds(1)),
            sleep: { wait in waits.withLock { $0.append(wait) } },
            onAttempt: { number, outcome in
                attempts.withLock { $0.append(number) }
                texts.withLock { $0.append(outcome.stdout.text) }
            })
        #expect(outcomes.map(\.state) == [.failed, .failed, .succeeded])
        // Each attempt's output goes to `onAttempt`; the list returned keeps only its counts.
        #expect(texts.withLock { $0 } == ["attempt 1\n", "attempt 2\n", "attempt 3\n"])
        #expect(outcomes.map(\.stdout.text) == ["", "", ""])
        #expect(
            outcomes.map(\.stdout.totalBytes) == [10, 10, 10] && outcomes.allSatisfy { $0.stdout.droppedBytes == 0 })
        #expect(attempts.withLock { $0 } == [1, 2, 3])
        #expect(waits.withLock { $0 } == [.milliseconds(10), .milliseconds(20)])
    }

    @Test func retries_areNotMadeForStopsOrSpawnFailures() async {
        let control = RunControl()
        control.stop()
        let stopped = await runner.runWithRetries(shell("sleep 300"), policy: RetryPolicy(retries: 3), control: control)
        #expect(stopped.count == 1)
        let missing = await runner.runWithRetries(
            AttemptRequest(program: .exec(["/nonexistent"])), policy: RetryPolicy(retries: 3), sleep: { _ in })
        #expect(missing.count == 1)
    }

    @Test func manyRuns_leaveNoZombieAndNoDescriptor() async throws {
        let descriptorsBefore = try openDescriptorCount()
        let pidfdsBefore = try pidfdCount()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for _ in 0..<2_500 {
                        let outcome = await runner.run(AttemptRequest(program: .exec(["/bin/true"])))
                        guard outcome.state == .succeeded else {
                            throw RunnerTestFailure(message: "worker \(worker): \(outcome.state)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        // Other suites open files and pipes and run processes (the API tests) in this same process meanwhile, so
        // the counts may move a little; a leak in these 10,000 runs would be thousands.
        #expect(try openDescriptorCount() - descriptorsBefore < 50)
        #expect(try pidfdCount() - pidfdsBefore < 16)
        #expect(zombieChildren() == 0)
    }
}

struct RunnerTestFailure: Error {
    let message: String
}

func residentMemoryBytes() throws -> Int {
    let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
}

func openDescriptorCount() throws -> Int {
    try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
}

func pidfdCount() throws -> Int {
    try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").filter { fd in
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")) == "anon_inode:[pidfd]"
    }.count
}

func zombieChildren() -> Int {
    ProcessTable.all().filter { $0.parent == getpid() && !$0.isAlive }.count
}
