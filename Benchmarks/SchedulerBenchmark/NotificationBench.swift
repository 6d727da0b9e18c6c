// The cost of notifications (issue 14): a 1,000-job burst with and without an `on_success` webhook per job (to a
// receiver that never answers, so every delivery hangs until its timeout while the burst runs), and deliveries to
// a prompt receiver with and without a flood of deliveries to a hanging one.
import CronKit
import Foundation
import Logging
import TockCore
import TockSQLite

/// A socket that listens and never accepts: connections are made by the kernel and then nothing answers.
func hangingListener() -> (fd: Int32, url: String) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(fd, $0, length) }
    }
    listen(fd, 4096)
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
    }
    return (fd, "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))/hook")
}

/// 1,000 jobs due at one second; with `notify`, each has an `on_success` webhook and the delivery worker runs.
/// Returns the start lateness of every run (seconds).
func notifiedBurst(notify: Bool, hangURL: String, work: URL, logger: Logger) async throws -> [Double] {
    let store = try SQLiteJobStore(path: work.appendingPathComponent("\(UUID()).sqlite").path)
    var settings = NotificationSettings()
    settings.webhookTimeout = .seconds(15)
    settings.maxPerHour = 0  // every event sent: no flood control in the way of what is measured
    let worker = NotificationDeliveryService(outbox: store, settings: settings, logger: logger)
    var configuration = SchedulerConfiguration(host: "bench", maxConcurrentRuns: 2000)
    if notify { configuration.notifications = NotificationPlanner(settings: settings, wake: { worker.wake() }) }
    let due = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 2).rounded(.down))
    let jobs = (0..<1000).map { n -> Job in
        var job = job("job\(n)", exactSecond(due))
        if notify { job.onSuccess = Notification(webhook: hangURL) }
        return job
    }
    let scheduler = Scheduler(
        jobs: jobs, store: store, runner: ProcessJobRunner(), configuration: configuration, logger: logger)
    let tasks = [Task { try await scheduler.run() }, Task { if notify { try await worker.run() } }]
    defer { for task in tasks { task.cancel() } }
    while true {
        try await Task.sleep(for: .milliseconds(200))
        let executions = try await store.executions(jobID: nil, limit: 100_000)
        if executions.filter(\.state.isFinal).count >= 1000 {
            if notify {
                // The deliveries were made (in the final records' transactions) and are hanging.
                let pending = try await store.deliveries(matching: NotificationQuery(limit: 1000)).count
                precondition(pending == 1000, "expected 1,000 deliveries, found \(pending)")
            }
            return executions.compactMap { e in e.startedAt.map { $0.timeIntervalSince(e.scheduledAt) } }
        }
    }
}

/// Seconds until 100 deliveries to the prompt receiver are delivered, with `flood` deliveries to the hanging
/// one written before them.
func promptDeliveries(
    flood: Int, hangURL: String, promptURL: String, perTarget: Int = 4, work: URL, logger: Logger
) async throws -> Double {
    let store = try SQLiteJobStore(path: work.appendingPathComponent("\(UUID()).sqlite").path)
    var settings = NotificationSettings()
    settings.webhookTimeout = .seconds(15)
    settings.maxPerHour = 0  // every event sent: no flood control in the way of what is measured
    settings.maxInFlightPerTarget = perTarget
    let now = Date()
    func delivery(_ url: String, _ n: Int) -> NotificationDelivery {
        NotificationDelivery(
            eventID: "evt_bench_\(url.hashValue)_\(n)", eventType: "execution.failed", jobID: "bench",
            executionID: nil, channel: .webhook, target: url, payload: Array(#"{"text":"bench"}"#.utf8),
            createdAt: now.addingTimeInterval(Double(n) * 1e-6))
    }
    try await store.enqueue((0..<flood).map { delivery(hangURL, $0) })
    try await store.enqueue((0..<100).map { delivery(promptURL, flood + $0) })
    let worker = NotificationDeliveryService(outbox: store, settings: settings, logger: logger)
    let start = ContinuousClock.now
    let task = Task { try await worker.run() }
    defer { task.cancel() }
    while true {
        let delivered = try await store.deliveries(matching: NotificationQuery(state: .delivered, limit: 1000)).count
        let elapsed = (ContinuousClock.now - start).timeInterval
        // Given up on after two minutes (the run without a per-target limit starves: retries of the hanging
        // receiver's deliveries keep coming due before the prompt ones).
        if delivered >= 100 || elapsed > 120 { return delivered >= 100 ? elapsed : .infinity }
        try await Task.sleep(for: .milliseconds(10))
    }
}

func notificationBenchmark(work: URL, logger: Logger) async throws {
    let hang = hangingListener()
    defer { close(hang.fd) }
    guard let promptURL = ProcessInfo.processInfo.environment["TOCK_BENCH_PROMPT_URL"] else {
        fatalError("TOCK_BENCH_PROMPT_URL: the URL of a receiver that answers 200 (scripts/bench-notify starts one)")
    }
    var rounds: [(plain: [Double], notified: [Double])] = []
    for _ in 0..<5 {
        let plain = try await notifiedBurst(notify: false, hangURL: hang.url, work: work, logger: logger)
        let notified = try await notifiedBurst(notify: true, hangURL: hang.url, work: work, logger: logger)
        rounds.append((plain, notified))
    }
    func ms(_ s: Double) -> String { s.isFinite ? String(format: "%.1f ms", s * 1000) : "not done after 120 s" }
    print(
        "| round | no notifications: p50 / p99 / last start | 1,000 hanging `on_success` webhooks: p50 / p99 / last start | ratio (last start) |"
    )
    print("|---:|---:|---:|---:|")
    var ratios: [Double] = []
    for (n, round) in rounds.enumerated() {
        let a = round.plain
        let b = round.notified
        let ratio = (b.max() ?? .nan) / (a.max() ?? .nan)
        ratios.append(ratio)
        print(
            "| \(n + 1) | \(ms(percentile(a, 0.5))) / \(ms(percentile(a, 0.99))) / \(ms(a.max() ?? .nan)) | \(ms(percentile(b, 0.5))) / \(ms(percentile(b, 0.99))) / \(ms(b.max() ?? .nan)) | \(String(format: "%.2f", ratio))× |"
        )
    }
    print("| **median** | | | **\(String(format: "%.2f", ratios.sorted()[ratios.count / 2]))×** |")
    print("")
    var alone: [Double] = []
    var flooded: [Double] = []
    for _ in 0..<3 {
        alone.append(
            try await promptDeliveries(flood: 0, hangURL: hang.url, promptURL: promptURL, work: work, logger: logger))
        flooded.append(
            try await promptDeliveries(flood: 1000, hangURL: hang.url, promptURL: promptURL, work: work, logger: logger)
        )
    }
    let a = alone.sorted()[1]
    let b = flooded.sorted()[1]
    // What the limit buys: without it every slot goes to the hanging receiver's older deliveries, 16 at a time for
    // 15 s each (with 1,000 of them that would be 16 minutes; 32 show it in 30 s).
    let limited = try await promptDeliveries(
        flood: 32, hangURL: hang.url, promptURL: promptURL, perTarget: 4, work: work, logger: logger)
    let unlimited = try await promptDeliveries(
        flood: 32, hangURL: hang.url, promptURL: promptURL, perTarget: 16, work: work, logger: logger)
    print("| 100 deliveries to a prompt receiver (median of 3) | time to deliver all | ratio |")
    print("|---|---:|---:|")
    print("| alone | \(ms(a)) | 1.00× |")
    print(
        "| after 1,000 deliveries to a receiver that never answers (15 s timeouts) | \(ms(b)) | \(String(format: "%.2f", b / a))× |"
    )
    print(
        "| after 32 deliveries to the receiver that never answers (one run) | \(ms(limited)) | \(String(format: "%.2f", limited / a))× |"
    )
    print(
        "| the same 32 without the per-target limit (`max_in_flight_per_target = 16`, one run) | \(ms(unlimited)) | \(String(format: "%.2f", unlimited / a))× |"
    )
}
