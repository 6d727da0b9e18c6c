import CTockSpawn
import Foundation
import Synchronization

/// Watches running processes on one thread with epoll: drains their stdout and stderr while they run, learns of
/// their exit through a pidfd (never `waitpid(-1)`), and carries out group terminations with their kill grace.
///
/// One thread serves every run, so a thousand concurrent jobs cost a thousand descriptors, not a thousand
/// threads. Callers hand work over through a locked inbox and an eventfd that wakes the loop.
public final class ProcessMonitor: @unchecked Sendable {
    // @unchecked: everything below `inbox` is touched only by the monitor thread; `inbox` is behind a Mutex and
    // the descriptors are immutable after init.
    public typealias WatchID = Int

    /// The process-wide monitor.
    public static let shared = ProcessMonitor()

    struct Registration {
        let id: WatchID
        let pid: pid_t
        let pidFD: Int32
        let stdoutFD: Int32
        let stderrFD: Int32
        let maxOutput: Int
        let onOutput: (@Sendable (OutputChunk) -> Void)?
        let completion: @Sendable (Result) -> Void
        /// Made on the spawning thread, just after the spawn (not when the monitor thread takes it in).
        let madeAt = Date()
    }

    struct Result: Sendable {
        var waitStatus: Int32
        var endedAt: Date
        var stdout: OutputCapture
        var stderr: OutputCapture
        var survivors: Int
    }

    private enum Command {
        case watch(Registration)
        case terminate(WatchID, Duration)
    }

    private final class Watch {
        let registration: Registration
        var stdoutFD: Int32
        var stderrFD: Int32
        var pidFD: Int32
        var stdout: OutputCapture
        var stderr: OutputCapture
        var waitStatus: Int32?
        var endedAt = Date()
        var drainDeadline: ContinuousClock.Instant?
        var terminating = false
        var killDeadline: ContinuousClock.Instant?
        var killed = false

        init(_ r: Registration) {
            registration = r
            stdoutFD = r.stdoutFD
            stderrFD = r.stderrFD
            pidFD = r.pidFD
            stdout = OutputCapture(limit: r.maxOutput)
            stderr = OutputCapture(limit: r.maxOutput)
        }
    }

    /// How long to keep reading a stream after the main process exited: output still buffered in the pipe is
    /// collected, but a background process that keeps the pipe open does not keep the run going.
    static let drainAfterExit: Duration = .milliseconds(250)

    private let epollFD: Int32
    private let wakeFD: Int32
    private let inbox = Mutex<[Command]>([])
    private let nextID = Atomic<Int>(1)
    private var watches: [WatchID: Watch] = [:]
    private var owners: [Int32: WatchID] = [:]
    /// Watches with a deadline to keep (exited and draining, or terminating): the only ones the loop scans, so
    /// a thousand running jobs cost nothing per wake-up.
    private var pending: Set<WatchID> = []
    private let clock = ContinuousClock()

    init() {
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        precondition(epollFD >= 0 && wakeFD >= 0, "epoll/eventfd unavailable: \(String(cString: strerror(errno)))")
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: wakeFD))
        epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event)
        let thread = Thread { [self] in loop() }
        thread.name = "tock-process-monitor"
        thread.start()
    }

    func makeID() -> WatchID { nextID.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// Starts watching a process. Its descriptors join the epoll set from the caller's thread and the
    /// registration waits in the inbox without waking the loop: the process's first event (output or exit)
    /// wakes it, and the loop takes the inbox before it sleeps again — one context switch less per run.
    func watch(_ registration: Registration) {
        inbox.withLock { $0.append(.watch(registration)) }
        for fd in [registration.stdoutFD, registration.stderrFD, registration.pidFD] where fd >= 0 {
            var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: fd))
            epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event)
        }
    }

    /// SIGTERM to the group now; SIGKILL once `grace` has passed and any member still lives.
    func terminate(_ id: WatchID, grace: Duration) { send(.terminate(id, grace)) }

    private func send(_ command: Command) {
        inbox.withLock { $0.append(command) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    // MARK: - The monitor thread

    private func loop() {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = epoll_wait(epollFD, &events, Int32(events.count), waitTimeoutMilliseconds())
            if count < 0 && errno != EINTR { fatalError("epoll_wait: \(String(cString: strerror(errno)))") }
            for i in 0..<max(0, Int(count)) {
                let fd = events[i].data.fd
                if fd == wakeFD {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                    continue
                }
                // An fd whose registration is still in the inbox is skipped; level-triggered, it fires again.
                guard let id = owners[fd], let watch = watches[id] else { continue }
                if fd == watch.pidFD {
                    collectExit(watch)
                } else {
                    drain(fd, of: watch, buffer: &buffer)
                }
            }
            for command in inbox.withLock({ inbox in
                defer { inbox.removeAll() }; return inbox
            }) {
                switch command {
                case .watch(let registration): add(registration)
                case .terminate(let id, let grace): startTermination(id, grace: grace)
                }
            }
            advanceDeadlines()
        }
    }

    private func add(_ registration: Registration) {
        let watch = Watch(registration)
        watches[registration.id] = watch
        for fd in [watch.stdoutFD, watch.stderrFD, watch.pidFD] where fd >= 0 { owners[fd] = registration.id }
    }

    private func drain(_ fd: Int32, of watch: Watch, buffer: inout [UInt8]) {
        // A bounded number of reads per wake-up keeps one chatty job from starving the others.
        for _ in 0..<16 {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                let isStdout = fd == watch.stdoutFD
                buffer.withUnsafeBytes { raw in
                    let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                    if isStdout { watch.stdout.append(chunk) } else { watch.stderr.append(chunk) }
                    if let onOutput = watch.registration.onOutput {
                        onOutput(OutputChunk(stream: isStdout ? .stdout : .stderr, bytes: Array(chunk)))
                    }
                }
                continue
            }
            if n == 0 || (errno != EAGAIN && errno != EINTR) { closeStream(fd, of: watch) }
            return
        }
    }

    private func closeStream(_ fd: Int32, of watch: Watch) {
        epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
        owners[fd] = nil
        close(fd)
        if fd == watch.stdoutFD { watch.stdoutFD = -1 }
        if fd == watch.stderrFD { watch.stderrFD = -1 }
    }

    private func collectExit(_ watch: Watch) {
        // Read before reaping: a zombie still tells when it last ran. Only for a run that seems to have lasted
        // more than a second (an exit seen late makes it seem so): reading /proc for each of a burst's thousand
        // short runs would cost the burst real time.
        let exitedAgo =
            Date().timeIntervalSince(watch.registration.madeAt) > 1
            ? ProcessTable.secondsSinceLastRan(watch.registration.pid) : nil
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(watch.registration.pid, &status, 0) } while result < 0 && errno == EINTR
        watch.waitStatus = status
        // Normally the exit is seen within milliseconds. When it was seen late — the daemon was stopped
        // (SIGSTOP, a frozen cgroup, a suspended VM) — the run ended when it ended, not when the daemon woke.
        if let exitedAgo, exitedAgo > 1 {
            watch.endedAt = Date().addingTimeInterval(-exitedAgo)
        } else {
            watch.endedAt = Date()
        }
        pending.insert(watch.registration.id)
        watch.drainDeadline = clock.now.advanced(by: Self.drainAfterExit)
        epoll_ctl(epollFD, EPOLL_CTL_DEL, watch.pidFD, nil)
        owners[watch.pidFD] = nil
        close(watch.pidFD)
        watch.pidFD = -1
    }

    private func startTermination(_ id: WatchID, grace: Duration) {
        guard let watch = watches[id], !watch.terminating else { return }
        watch.terminating = true
        watch.killDeadline = clock.now.advanced(by: grace)
        pending.insert(id)
        kill(-watch.registration.pid, SIGTERM)
    }

    private func advanceDeadlines() {
        let now = clock.now
        for id in pending {
            guard let watch = watches[id] else {
                pending.remove(id)
                continue
            }
            let pgid = watch.registration.pid
            if watch.terminating, !watch.killed, let deadline = watch.killDeadline, now >= deadline {
                // The grace is over: whatever of the group still lives is killed.
                kill(-pgid, SIGKILL)
                watch.killed = true
            }
            guard watch.waitStatus != nil else { continue }
            let streamsDone = (watch.stdoutFD < 0 && watch.stderrFD < 0) || now >= (watch.drainDeadline ?? now)
            guard streamsDone else { continue }
            ProcessGroup.reapExitedMembers(pgid)
            let living = ProcessGroup.livingMembers(pgid)
            // A terminated run ends only when no descendant in its group survives.
            if watch.terminating && living > 0 { continue }
            finish(id, watch, survivors: living)
        }
    }

    private func finish(_ id: WatchID, _ watch: Watch, survivors: Int) {
        for fd in [watch.stdoutFD, watch.stderrFD] where fd >= 0 { closeStream(fd, of: watch) }
        watches[id] = nil
        pending.remove(id)
        watch.stdout.consolidate()
        watch.stderr.consolidate()
        watch.registration.completion(
            Result(
                waitStatus: watch.waitStatus ?? 0, endedAt: watch.endedAt, stdout: watch.stdout, stderr: watch.stderr,
                survivors: survivors))
    }

    private func waitTimeoutMilliseconds() -> Int32 {
        let now = clock.now
        var nearest: Duration?
        func consider(_ instant: ContinuousClock.Instant) {
            let wait = max(.zero, instant - now)
            nearest = nearest.map { min($0, wait) } ?? wait
        }
        for id in pending {
            guard let watch = watches[id] else { continue }
            if watch.terminating && !watch.killed, let d = watch.killDeadline { consider(d) }
            if watch.waitStatus != nil {
                if let d = watch.drainDeadline, watch.stdoutFD >= 0 || watch.stderrFD >= 0 { consider(d) }
                // Waiting for a terminated group to die: look again shortly.
                if watch.terminating { consider(now.advanced(by: .milliseconds(10))) }
            }
        }
        guard let nearest else { return -1 }
        let ms = nearest.components.seconds * 1000 + nearest.components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: ms + 1)
    }
}
