import CTockSpawn
import Foundation
import Synchronization

/// Runs attempts as real processes.
///
/// Why not Foundation's `Process`: on Linux the child inherits the spawning thread's signal mask — in an async
/// program SIGTERM, SIGCHLD and others are blocked — so terminating it does nothing to `sleep` or `bash`; its
/// pipes are not close-on-exec, so concurrent jobs inherit each other's pipes; and it reports the exit only when
/// every holder of an inherited descriptor has exited. Instead each attempt is started by a small C shim
/// (`tock_spawn`: vfork + exec) in its **own session** with a clean signal mask and default dispositions and
/// nothing but stdin/stdout/stderr open, and is watched by ``ProcessMonitor`` (epoll + pidfd).
///
/// Timeouts and stops signal the **whole process group**: SIGTERM, then SIGKILL after `killGrace`; the attempt
/// ends only when no process of the group is left. A grandchild that calls `setsid()` itself escapes the group
/// and is not reached (only a cgroup per run would catch it).
public struct ProcessJobRunner: JobRunner {
    let monitor: ProcessMonitor
    let effectiveUserID: uid_t
    let programs: ResolvedPrograms

    /// - Parameter effectiveUserID: whose privileges the daemon has; `user` is refused unless it is 0 (root).
    public init(effectiveUserID: UInt32 = geteuid()) {
        self.init(effectiveUserID: effectiveUserID, programs: .shared)
    }

    /// With its own cache of PATH lookups (tests choose how long it keeps them).
    init(effectiveUserID: UInt32 = geteuid(), programs: ResolvedPrograms) {
        self.monitor = .shared
        self.effectiveUserID = effectiveUserID
        self.programs = programs
    }

    /// Makes this process adopt orphaned descendants of its jobs (PR_SET_CHILD_SUBREAPER), so that a job's
    /// background processes are reaped by Tock, not left as zombies when PID 1 does not reap them.
    public static func becomeSubreaper() {
        _ = tock_become_subreaper()
    }

    public func run(
        _ request: AttemptRequest, control: RunControl, output: @escaping @Sendable (OutputChunk) -> Void
    ) async -> AttemptOutcome {
        await run(request, control: control, onOutput: output)
    }

    /// Runs without a live-output observer (the captured output is still in the outcome).
    public func run(_ request: AttemptRequest, control: RunControl = RunControl()) async -> AttemptOutcome {
        await run(request, control: control, onOutput: nil)
    }

    private func run(
        _ request: AttemptRequest, control: RunControl, onOutput: (@Sendable (OutputChunk) -> Void)?
    ) async -> AttemptOutcome {
        let startedAt = Date()
        var attempt = spawn(request)
        // A program found in PATH a moment ago (see `ResolvedPrograms`) may have moved since: looked up again.
        if case .failure(let failure) = attempt, failure.resolvedFromCache {
            attempt = spawn(request, lookUpAgain: true)
        }
        let spawned: SpawnedProcess
        switch attempt {
        case .success(let process): spawned = process
        case .failure(let failure):
            return AttemptOutcome(termination: .spawnFailed(failure.message), startedAt: startedAt, endedAt: Date())
        }
        let id = monitor.makeID()
        let timedOut = AtomicFlag()
        // Register before anything can ask to terminate: the monitor handles commands in order.
        let ended = OneShot<ProcessMonitor.Result>()
        monitor.watch(
            .init(
                id: id, pid: spawned.pid, pidFD: spawned.pidFD, stdoutFD: spawned.stdoutFD,
                stderrFD: spawned.stderrFD, maxOutput: request.maxOutput, onOutput: onOutput,
                completion: { ended.deliver($0) }))
        control.attach(monitor, watch: id, grace: request.killGrace, pid: spawned.pid)
        let result: ProcessMonitor.Result
        if let timeout = request.timeout {
            result = await withTaskGroup(of: Void.self) { [monitor] group in
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    if !Task.isCancelled {
                        timedOut.set()
                        monitor.terminate(id, grace: request.killGrace)
                    }
                }
                let value = await ended.value
                group.cancelAll()
                return value
            }
        } else {
            result = await ended.value
        }
        control.detach()
        var termination = AttemptOutcome.Termination.exited(0)
        let status = result.waitStatus
        if status & 0x7f == 0 {
            termination = .exited((status >> 8) & 0xff)
        } else {
            termination = .signaled(status & 0x7f)
        }
        return AttemptOutcome(
            termination: termination, startedAt: startedAt, endedAt: result.endedAt, pid: spawned.pid,
            timedOut: timedOut.isSet, stopped: control.isStopped, stdout: result.stdout,
            stderr: result.stderr, survivors: result.survivors)
    }

    struct SpawnedProcess: Sendable {
        let pid: pid_t
        let pidFD: Int32
        let stdoutFD: Int32
        let stderrFD: Int32
    }

    struct SpawnFailure: Error {
        let message: String
        /// The program's path came from the lookup cache (the spawn is worth one more try with a fresh lookup).
        var resolvedFromCache = false
    }

    /// /dev/null, opened once: the stdin of every run without `stdin` (an open and a close less per run); never
    /// closed. -1 if that open failed: each run then opens its own.
    static let devNull: Int32 = open("/dev/null", O_RDONLY | O_CLOEXEC)

    private func spawn(_ request: AttemptRequest, lookUpAgain: Bool = false) -> Result<SpawnedProcess, SpawnFailure> {
        let argv: [String]
        let path: String
        var resolvedFromCache = false
        switch request.program {
        case .shell(let command, let shell):
            path = shell
            argv = [shell, "-c", command]
        case .exec(let arguments):
            guard let first = arguments.first, !first.isEmpty else {
                return .failure(SpawnFailure(message: "exec is empty: nothing to run"))
            }
            guard
                let resolved = programs.resolve(
                    first, path: request.environment["PATH"], fresh: lookUpAgain)
            else {
                return .failure(SpawnFailure(message: "\(first): command not found in PATH"))
            }
            path = resolved.path
            resolvedFromCache = resolved.cached
            argv = arguments
        case .custom(let kind, _):
            return .failure(SpawnFailure(message: "job kind '\(kind)' needs a KindRoutingJobRunner"))
        }

        var account: UserAccount?
        if let user = request.user {
            guard effectiveUserID == 0 else {
                return .failure(
                    SpawnFailure(
                        message: "cannot run as user '\(user)': tock is not running as root (uid \(effectiveUserID))"))
            }
            guard let found = UserAccount.lookup(user) else {
                return .failure(SpawnFailure(message: "cannot run as user '\(user)': no such user"))
            }
            account = found
        }

        var fds: [Int32] = []  // parent-side descriptors to close on failure
        func fail(_ message: String, retryable: Bool = false) -> Result<SpawnedProcess, SpawnFailure> {
            for fd in fds { close(fd) }
            return .failure(SpawnFailure(message: message, resolvedFromCache: retryable && resolvedFromCache))
        }
        let stdinFD: Int32
        // Every stdin but the shared /dev/null is this run's own, closed once the child has it.
        var ownsStdin = true
        if let text = request.stdin {
            stdinFD = Array(text.utf8).withUnsafeBytes { tock_memfd_with_bytes($0.baseAddress, $0.count) }
            guard stdinFD >= 0 else { return fail("cannot prepare stdin: \(Self.describe(errno))") }
            fds.append(stdinFD)
        } else if Self.devNull >= 0 {
            stdinFD = Self.devNull
            ownsStdin = false
        } else {
            // The shared descriptor could not be opened (e.g. out of descriptors then): one for this run.
            stdinFD = open("/dev/null", O_RDONLY | O_CLOEXEC)
            guard stdinFD >= 0 else { return fail("cannot open /dev/null for stdin: \(Self.describe(errno))") }
            fds.append(stdinFD)
        }
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard tock_pipe_cloexec(&outPipe) == 0 else { return fail("cannot create a pipe: \(Self.describe(errno))") }
        fds += outPipe
        guard tock_pipe_cloexec(&errPipe) == 0 else { return fail("cannot create a pipe: \(Self.describe(errno))") }
        fds += errPipe

        var pid: pid_t = 0
        var error: Int32 = 0
        let step: Int32 = Self.withCStrings(argv) { argvPointer in
            Self.withEnvironmentBlock(request.environment) { envPointer in
                let groups = account?.groups ?? []
                return groups.withUnsafeBufferPointer { groupPointer in
                    path.withCString { cPath in
                        Self.withOptionalCString(request.workingDirectory) { cDir in
                            var spawnRequest = tock_spawn_request(
                                path: cPath, argv: argvPointer, envp: envPointer, working_dir: cDir,
                                stdin_fd: stdinFD, stdout_fd: outPipe[1], stderr_fd: errPipe[1],
                                switch_user: account == nil ? 0 : 1, uid: account?.uid ?? 0, gid: account?.gid ?? 0,
                                groups: groupPointer.baseAddress, group_count: Int32(groups.count))
                            return tock_spawn(&spawnRequest, &pid, &error)
                        }
                    }
                }
            }
        }
        if ownsStdin { close(stdinFD) }
        close(outPipe[1])
        close(errPipe[1])
        fds = [outPipe[0], errPipe[0]]
        switch Int(step) {
        case Int(TOCK_SPAWN_OK): break
        case Int(TOCK_SPAWN_CHDIR):
            return fail("working directory '\(request.workingDirectory ?? "")': \(Self.describe(error))")
        case Int(TOCK_SPAWN_USER):
            return fail("cannot switch to user '\(request.user ?? "")': \(Self.describe(error))")
        case Int(TOCK_SPAWN_EXEC):
            return fail("\(path): \(Self.describe(error))", retryable: error == ENOENT || error == EACCES)
        default:
            return fail("cannot start a process: \(Self.describe(error))")
        }
        let pidFD = tock_pidfd_open(pid)
        guard pidFD >= 0 else {
            // Without a pidfd the exit cannot be watched; kill and reap so nothing is left behind.
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            return fail("pidfd_open: \(Self.describe(errno))")
        }
        for fd in [outPipe[0], errPipe[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        return .success(SpawnedProcess(pid: pid, pidFD: pidFD, stdoutFD: outPipe[0], stderrFD: errPipe[0]))
    }

    /// Programs found in PATH, kept a second: a burst of 1,000 runs of the same program looks it up once instead of
    /// making a thousand `access` calls per PATH entry. Only what was found is kept (a program not found is looked
    /// up again at its next run); a kept path that no longer execs is looked up again before the run fails.
    final class ResolvedPrograms: Sendable {
        static let shared = ResolvedPrograms()
        let lifetime: Duration
        private let kept = Mutex<[String: (path: String, at: ContinuousClock.Instant)]>([:])
        private let hitCount = Atomic<Int>(0)
        /// Lookups answered from what was kept (for tests).
        var hits: Int { hitCount.load(ordering: .relaxed) }

        init(lifetime: Duration = .seconds(1)) { self.lifetime = lifetime }

        func resolve(_ program: String, path: String?, fresh: Bool = false) -> (path: String, cached: Bool)? {
            if program.contains("/") { return (program, false) }
            let key = program + "\0" + (path ?? "")
            let now = ContinuousClock.now
            if !fresh, let known = kept.withLock({ $0[key] }), known.at.duration(to: now) < lifetime {
                hitCount.add(1, ordering: .relaxed)
                return (known.path, true)
            }
            guard let found = ProcessJobRunner.resolve(program, path: path) else {
                kept.withLock { $0[key] = nil }
                return nil
            }
            kept.withLock { kept in
                if kept.count >= 256 { kept.removeAll(keepingCapacity: true) }
                kept[key] = (found, now)
            }
            return (found, false)
        }
    }

    /// `execvp`'s lookup, done before spawning so that "not found" is a clear outcome.
    static func resolve(_ program: String, path: String?) -> String? {
        if program.contains("/") { return program }
        for directory in (path ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    static func describe(_ code: Int32) -> String {
        switch code {
        case ENOENT: "no such file or directory"
        case EACCES: "permission denied"
        case ENOTDIR: "not a directory"
        case ENOEXEC: "not an executable format"
        default: String(cString: strerror(code)).lowercased()
        }
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R)
        -> R
    {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for p in pointers { free(p) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// `environment` as `envp`: every `KEY=value` in one allocation (a String and a `strdup` each were ~70 small
    /// allocations a run with a daemon's usual environment).
    static func withEnvironmentBlock<R>(
        _ environment: [String: String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
    ) -> R {
        let size = environment.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 2 }
        let strings = UnsafeMutablePointer<CChar>.allocate(capacity: max(size, 1))
        defer { strings.deallocate() }
        var pointers: [UnsafeMutablePointer<CChar>?] = []
        pointers.reserveCapacity(environment.count + 1)
        var at = 0
        func put(_ text: String) {
            var text = text
            text.withUTF8 { bytes in
                bytes.withMemoryRebound(to: CChar.self) { chars in
                    if let base = chars.baseAddress { (strings + at).initialize(from: base, count: chars.count) }
                }
                at += bytes.count
            }
        }
        for (key, value) in environment {
            pointers.append(strings + at)
            put(key)
            strings[at] = CChar(UInt8(ascii: "="))
            at += 1
            put(value)
            strings[at] = 0
            at += 1
        }
        pointers.append(nil)
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    private static func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let string else { return body(nil) }
        return string.withCString { body($0) }
    }
}
