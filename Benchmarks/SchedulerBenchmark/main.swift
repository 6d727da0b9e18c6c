// Scheduler benchmarks (release build): lateness of process start after the scheduled instant, for one job and
// for 1,000 jobs due at the same second next to a bare posix_spawn loop; idle CPU and RSS with 100,000 scheduled
// jobs; start-up time with 100,000 jobs in jobs.d. `scripts/bench-scheduler` runs this and records the tables.
import CronKit
import Foundation
import Logging
import TockCore
import TockSQLite

let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
let work = FileManager.default.temporaryDirectory.appendingPathComponent("tock-bench-\(getpid())")
try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: work) }

func milliseconds(_ seconds: Double) -> String { String(format: "%.2f ms", seconds * 1000) }

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func residentMegabytes() -> Double {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Double(line.split(separator: " ").dropFirst().first ?? "0").map { $0 / 1024 } ?? 0
}

func job(_ id: String, _ schedule: String, command: String = "true") -> Job {
    guard let parsed = try? ScheduleExpression(parsing: schedule) else { fatalError("bad schedule \(schedule)") }
    return Job(id: id, schedule: parsed, action: .exec([command]))
}

/// A 6-field expression that fires once, at the whole second `date` (UTC).
func exactSecond(_ date: Date) -> String {
    let utc = ZoneRules.rules(forIdentifier: "UTC")!
    let text = Timestamp.string(for: date, in: utc)  // YYYY-MM-DDTHH:MM:SS+00:00
    let parts = text.split(whereSeparator: { "-T:+".contains($0) }).map { Int($0)! }
    return "\(parts[5]) \(parts[4]) \(parts[3]) \(parts[2]) \(parts[1]) *"
}

/// Runs a scheduler over real processes and a real SQLite file until `done` says so; returns the executions.
/// The store is first read after `quietUntil`: on 2 cores, reading 1,000 executions every 200 ms took CPU from the
/// burst being measured.
func runScheduler(
    jobs: [Job], maxConcurrent: Int, quietUntil: Date? = nil,
    until done: @escaping @Sendable ([ExecutionRecord]) -> Bool
)
    async throws
    -> [ExecutionRecord]
{
    let path = work.appendingPathComponent("\(UUID()).sqlite").path
    let store = try SQLiteJobStore(path: path)
    let scheduler = Scheduler(
        jobs: jobs, store: store, runner: ProcessJobRunner(),
        configuration: SchedulerConfiguration(host: "bench", maxConcurrentRuns: maxConcurrent), logger: logger)
    let task = Task { try await scheduler.run() }
    defer { task.cancel() }
    if let quietUntil, quietUntil > Date() { try await Task.sleep(for: .seconds(quietUntil.timeIntervalSinceNow)) }
    while true {
        try await Task.sleep(for: .milliseconds(200))
        let executions = try await store.executions(jobID: nil, limit: 100_000)
        if done(executions) { return executions }
    }
}

/// The loop's time, and how long its first spawn took to return.
func bareSpawnLoop(_ n: Int) -> (Double, Double) {
    var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
    defer { free(argv[0]) }
    let start = Date()
    var pids: [pid_t] = []
    var first = Double.nan
    for _ in 0..<n {
        var pid: pid_t = 0
        posix_spawn(&pid, "/bin/true", nil, nil, &argv, environ)
        if pids.isEmpty { first = Date().timeIntervalSince(start) }
        pids.append(pid)
    }
    let elapsed = Date().timeIntervalSince(start)
    for pid in pids {
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
    return (elapsed, first)
}

ProcessJobRunner.becomeSubreaper()
let which = CommandLine.arguments.dropFirst().first ?? "all"

if which == "all" || which == "lateness" || which == "burst" {
    // 1. One job, every second, 30 runs (`burst`: the burst rounds alone, e.g. under a profiler).
    let single =
        which == "burst"
        ? []
        : try await runScheduler(jobs: [job("tick", "* * * * * *")], maxConcurrent: 8) {
            $0.filter { $0.state == .succeeded }.count >= 30
        }
    let lateness = single.filter { $0.state == .succeeded }.compactMap { e in
        e.startedAt.map { $0.timeIntervalSince(e.scheduledAt) }
    }
    print("| scenario | runs | p50 | p99 | max |")
    print("|---|---:|---:|---:|---:|")
    print(
        "| 1 job, every second | \(lateness.count) | \(milliseconds(percentile(lateness, 0.5))) | \(milliseconds(percentile(lateness, 0.99))) | \(milliseconds(lateness.max() ?? .nan)) |"
    )

    // 2. 1,000 jobs due at the same second, in rounds alternating with the bare loop: this shared machine's speed
    // drifts by tens of percent within minutes, so each round compares two runs taken seconds apart.
    var rounds:
        [(
            bare: Double, tock: Double, p50: Double, p99: Double, first: Double, bareFirst: Double, bareCPU: Double,
            tockCPU: Double
        )] = []
    for _ in 0..<5 {
        // The process's own CPU (its threads, not the children's): what the spawning side costs each way.
        let cpuBefore = cpuSeconds()
        let (bare, bareFirst) = bareSpawnLoop(1000)
        let bareCPU = cpuSeconds() - cpuBefore
        let due = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 2).rounded(.down))
        let many = (0..<1000).map { job("job\($0)", exactSecond(due)) }
        let tockBefore = cpuSeconds()
        let burst = try await runScheduler(jobs: many, maxConcurrent: 2000, quietUntil: due.addingTimeInterval(1.5)) {
            $0.filter(\.state.isFinal).count >= 1000
        }
        let tockCPU = cpuSeconds() - tockBefore
        let starts = burst.compactMap { e in e.startedAt.map { $0.timeIntervalSince(e.scheduledAt) } }
        rounds.append(
            (
                bare, starts.max() ?? .nan, percentile(starts, 0.5), percentile(starts, 0.99), starts.min() ?? .nan,
                bareFirst, bareCPU, tockCPU
            ))
    }
    let median = rounds.sorted { $0.tock / $0.bare < $1.tock / $1.bare }[rounds.count / 2]
    print(
        "| 1,000 jobs due at the same second (median round) | 1000 | \(milliseconds(median.p50)) | \(milliseconds(median.p99)) | \(milliseconds(median.tock)) |"
    )
    print("")
    print(
        "| round | bare posix_spawn loop, 1,000 processes | Tock, 1,000 jobs due at one second (last start − instant) | ratio | Tock's first start − instant | CPU of the spawning process per run: bare loop / Tock (whole run: rows, spawns, exits, final rows) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    func perRun(_ seconds: Double) -> String { String(format: "%.0f µs", seconds / 1000 * 1e6) }
    for (n, round) in rounds.enumerated() {
        print(
            "| \(n + 1) | \(milliseconds(round.bare)) | \(milliseconds(round.tock)) | \(String(format: "%.2f", round.tock / round.bare))× | \(milliseconds(round.first)) | \(perRun(round.bareCPU)) / \(perRun(round.tockCPU)) |"
        )
    }
    let firsts = rounds.map(\.first).sorted()
    let tockCPUs = rounds.map(\.tockCPU).sorted()
    print(
        "| **median** | | | **\(String(format: "%.2f", median.tock / median.bare))×** | **\(milliseconds(firsts[firsts.count / 2]))** | Tock **\(perRun(tockCPUs[tockCPUs.count / 2]))** |"
    )
}

if which == "notify" {
    try await notificationBenchmark(work: work, logger: logger)
}

if which == "all" || which == "scale" {
    // 3. Start-up with 100,000 jobs in jobs.d, then idle CPU and RSS.
    let jobsDir = work.appendingPathComponent("jobs.d")
    try FileManager.default.createDirectory(at: jobsDir, withIntermediateDirectories: true)
    let zones = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]
    let localHour = zones.map { zone in
        Int(Timestamp.string(for: Date(), in: ZoneRules.rules(forIdentifier: zone)!).dropFirst(11).prefix(2))!
    }
    for file in 0..<100 {
        var text = ""
        for i in 0..<1000 {
            let n = file * 1000 + i
            // Daily jobs over twelve hours starting six hours from now (in each zone): none is due while idle CPU is measured.
            let hour = (localHour[n % 4] + 6 + n / 60 % 12) % 24
            text +=
                "[job.j\(n)]\nschedule = \"\(n % 60) \(hour) * * *\"\ntimezone = \"\(zones[n % 4])\"\ncommand = \"true\"\n\n"
        }
        try text.write(to: jobsDir.appendingPathComponent("jobs\(file).toml"), atomically: true, encoding: .utf8)
    }
    let rssBefore = residentMegabytes()
    let startClock = ContinuousClock.now
    let store = try SQLiteJobStore(path: work.appendingPathComponent("scale.sqlite").path)
    // As `tock serve` does: the loaded directory lives only until the scheduler has its jobs.
    let (scheduler, loaded): (Scheduler, ContinuousClock.Instant) = {
        let directory = JobDirectory.load(jobsDir.path)
        let loaded = ContinuousClock.now
        precondition(directory.errors.isEmpty && directory.jobs.count == 100_000, "\(directory.errors.prefix(3))")
        let scheduler = Scheduler(
            jobs: directory.jobs, store: store, runner: ProcessJobRunner(),
            configuration: SchedulerConfiguration(host: "bench"), logger: logger)
        return (scheduler, loaded)
    }()
    SystemMemory.releaseFreedMemory()
    let task = Task { try await scheduler.run() }
    while await scheduler.nextFireTimes().count < 100_000 { try await Task.sleep(for: .milliseconds(50)) }
    let ready = ContinuousClock.now
    try await Task.sleep(for: .seconds(2))  // let start-up work settle
    let cpuBefore = cpuSeconds()
    let idleStart = Date()
    try await Task.sleep(for: .seconds(20))
    let idleSeconds = Date().timeIntervalSince(idleStart)
    let cpu = cpuSeconds() - cpuBefore
    let rss = residentMegabytes()
    SystemMemory.releaseFreedMemory()
    let trimmed = residentMegabytes()
    task.cancel()
    func seconds(_ d: Duration) -> String { String(format: "%.2f s", d.timeInterval) }
    print("| 100,000 jobs | value |")
    print("|---|---:|")
    print("| load jobs.d (100 files × 1,000 jobs, TOML + schedules) | \(seconds(loaded - startClock)) |")
    print("| scheduler start (state from SQLite, first fire times) | \(seconds(ready - loaded)) |")
    print("| start-up total | \(seconds(ready - startClock)) |")
    print(
        "| idle CPU over \(Int(idleSeconds)) s (no job due in that time) | \(String(format: "%.3f%%", cpu / idleSeconds * 100)) |"
    )
    print(
        "| RSS (process, after start-up; \(String(format: "%.0f", rssBefore)) MB before loading) | \(String(format: "%.0f MB", rss)) |"
    )
    print(
        "| RSS after handing freed heap back (malloc_trim, as `tock serve` does after loading) | \(String(format: "%.0f MB", trimmed)) |"
    )
}
