import CoreMetrics
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TockJSON

/// The delivery worker: sends what the outbox holds, off the scheduler's path.
///
/// A `Service` that sleeps until the earliest due delivery or until it is woken (``wake()``, called when
/// deliveries are written): nothing polls. Up to `maxInFlight` deliveries run at once, each bounded by its
/// timeout, so a receiver that hangs does not hold up the others. Each attempt's result is recorded; a failed one
/// is tried again after the next delay of the retry schedule (± jitter, or the receiver's `Retry-After` if later);
/// after the last, the delivery is abandoned. An HTTP 410 abandons at once. At start, deliveries left
/// `delivering` by a daemon that died are tried again: delivery is at least once, and receivers deduplicate on
/// the event id.
public final class NotificationDeliveryService: Service, Sendable {
    let outbox: any NotificationOutbox
    let settings: NotificationSettings
    let transport: any WebhookTransport
    let runner: any JobRunner
    let clock: any WallClock
    let logger: Logger
    let random: @Sendable () -> Double
    let metrics: any MetricsFactory
    private let signal = WakeSignal()
    private let inFlight = Mutex(0)
    /// Deliveries in flight per target.
    private let busy = Mutex<[String: Int]>([:])
    private let reported = Mutex<Set<String>>([])
    let gate = FloodGate()

    public init(
        outbox: any NotificationOutbox, settings: NotificationSettings,
        transport: any WebhookTransport = URLSessionWebhookTransport(), runner: any JobRunner = ProcessJobRunner(),
        clock: any WallClock = SystemWallClock(), logger: Logger,
        random: @escaping @Sendable () -> Double = { Double.random(in: -1...1) },
        metrics: any MetricsFactory = MetricsSystem.factory
    ) {
        self.metrics = metrics
        self.outbox = outbox
        self.settings = settings
        self.transport = transport
        self.runner = runner
        self.clock = clock
        self.logger = logger
        self.random = random
    }

    /// Wakes the worker: new deliveries are due.
    public func wake() { signal.signal() }

    public func run() async throws {
        await retryingStore("release claimed deliveries") {
            let released = try await self.outbox.releaseClaimedDeliveries()
            if released > 0 {
                self.logger.notice(
                    "deliveries interrupted by the last stop will be tried again", metadata: ["count": "\(released)"])
            }
        }
        let stopping = Mutex(false)
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                while !stopping.withLock({ $0 }) && !Task.isCancelled {
                    await enqueueSummaries()
                    let free = settings.maxInFlight - inFlight.withLock { $0 }
                    var storeFailed = false
                    var claimedAll = true
                    if free > 0 {
                        do {
                            let due = try await outbox.claimDueDeliveries(
                                at: clock.now, limit: free, perTarget: settings.maxInFlightPerTarget,
                                busy: busy.withLock { $0 })
                            claimedAll = due.count == free
                            for delivery in due {
                                inFlight.withLock { $0 += 1 }
                                busy.withLock { $0[delivery.target, default: 0] += 1 }
                                group.addTask {
                                    await self.attempt(delivery)
                                    self.busy.withLock { busy in
                                        busy[delivery.target, default: 1] -= 1
                                        if busy[delivery.target] == 0 { busy[delivery.target] = nil }
                                    }
                                    self.inFlight.withLock { $0 -= 1 }
                                    self.wake()
                                }
                            }
                        } catch {
                            storeFailed = true
                            logger.error("could not read due deliveries", metadata: ["error": "\(error)"])
                        }
                    }
                    var due: Date? =
                        storeFailed
                        ? clock.now.addingTimeInterval(5) : ((try? await outbox.nextDeliveryDue()) ?? nil)
                    // Due now but not claimed though slots were free: those rows' targets have every slot of theirs
                    // taken. A finished attempt wakes the loop; meanwhile look again each second (for other
                    // targets' rows becoming due). A summary due now is not such a row: it is sent at once.
                    if let soon = due, soon <= clock.now, !claimedAll { due = clock.now.addingTimeInterval(1) }
                    let next = [due, gate.nextSummary].compactMap { $0 }.min()
                    // With every slot busy, the next due delivery waits for a slot: a finished one wakes the loop.
                    await sleep(until: inFlight.withLock { $0 } >= settings.maxInFlight ? nil : next)
                }
            }
        } onGracefulShutdown: {
            stopping.withLock { $0 = true }
            self.wake()
        }
    }

    /// Sleeps until `deadline` (`nil`: no deadline) or a wake-up, whichever is first.
    private func sleep(until deadline: Date?) async {
        await signal.wait(orUntil: deadline, on: clock)
    }

    private func retryingStore(_ what: String, _ body: @escaping @Sendable () async throws -> Void) async {
        var delay = 1.0
        while !Task.isCancelled {
            do { return try await body() } catch {
                logger.error("could not \(what); retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(delay))
                delay = min(30, delay * 2)
            }
        }
    }

    /// The `max_per_hour` that applies to a delivery; `nil` for what is never held back (cron's output mail,
    /// summaries, test-sends).
    func floodLimit(_ delivery: NotificationDelivery) -> Int? {
        let exempt: Set<String> = [
            NotificationEventType.executionOutput.rawValue, NotificationEventType.notificationsSuppressed.rawValue,
            NotificationEventType.test.rawValue,
        ]
        guard !exempt.contains(delivery.eventType) else { return nil }
        if delivery.target.hasPrefix("notifier:"),
            let limit = settings.notifiers[String(delivery.target.dropFirst("notifier:".count))]?.maxPerHour
        {
            return limit
        }
        return settings.maxPerHour
    }

    /// Writes the summaries of what `max_per_hour` held back, once they are due.
    private func enqueueSummaries() async {
        let now = clock.now
        let held = gate.dueSummaries(at: now)
        guard !held.isEmpty else { return }
        let summaries = held.map { summary(of: $0, at: now) }
        await retryingStore("record a summary of held-back notifications") {
            try await self.outbox.enqueue(summaries)
        }
        for held in held {
            logger.warning(
                "notifications were held back by max_per_hour",
                metadata: ["target": "\(held.sample.target)", "count": "\(held.count)", "limit": "\(held.limit)"])
        }
    }

    func summary(of held: FloodGate.Held, at now: Date) -> NotificationDelivery {
        let event = NotificationEvent(
            suppressed: held.count, target: held.sample.target, byType: held.byType, limit: held.limit,
            settings: settings, at: now)
        var payload = event.json.jsonBytes
        if held.sample.channel == .mail {
            let name = held.sample.target.hasPrefix("notifier:") ? String(held.sample.target.dropFirst(9)) : nil
            let to = name.flatMap { settings.notifiers[$0]?.mail } ?? held.sample.target
            payload = CronMail.summary(
                eventText: event.json["text"]?.stringValue ?? event.type.rawValue, eventJSON: payload, to: to,
                from: settings.mailFrom, host: settings.host)
        }
        return NotificationDelivery(
            eventID: event.id, eventType: event.type.rawValue, jobID: "", executionID: nil,
            channel: held.sample.channel, target: held.sample.target, options: held.sample.options, payload: payload,
            createdAt: now)
    }

    /// Makes one attempt and records it.
    func attempt(_ delivery: NotificationDelivery) async {
        if delivery.attempts == 0, let limit = floodLimit(delivery), !gate.admit(delivery, limit: limit, at: clock.now)
        {
            let now = clock.now
            let held = DeliveryAttempt(
                .abandoned,
                error: "held back: more than \(limit) notifications to \(delivery.target) in an hour (max_per_hour); "
                    + "counted in the next notifications.suppressed summary")
            Counter(
                label: "tock_notifications_total",
                dimensions: [("channel", delivery.channel.rawValue), ("result", "suppressed")], factory: metrics
            ).increment()
            await retryingStore("record a held-back delivery") {
                try await self.outbox.recordAttempt(
                    deliveryID: delivery.id, state: .suppressed, at: now, nextAttemptAt: nil, attempt: held)
            }
            return
        }
        let result = await send(delivery)
        let now = clock.now
        let attempts = delivery.attempts + 1
        let state: NotificationDelivery.State
        var nextAttempt: Date?
        switch result.result {
        case .delivered: state = .delivered
        case .abandoned: state = .abandoned
        case .failed(let retryAfter):
            if attempts < settings.retryDelays.count {
                state = .failed
                var delay = settings.retryDelays[attempts].timeInterval
                delay *= 1 + settings.retryJitter * random()
                if let retryAfter { delay = max(delay, min(retryAfter.timeInterval, 12 * 3600)) }
                nextAttempt = now.addingTimeInterval(max(0, delay))
            } else {
                state = .abandoned
            }
        }
        var metadata: Logger.Metadata = [
            "delivery.id": "\(delivery.id)", "event.id": "\(delivery.eventID)",
            "channel": "\(delivery.channel.rawValue)",
            "target": "\(delivery.target)", "attempt": "\(attempts)", "state": "\(state.rawValue)",
        ]
        if let status = result.status { metadata["status"] = "\(status)" }
        if let error = result.error { metadata["error"] = "\(error)" }
        // `tock_notifications_total{channel, result}`: result delivered, failed (to be retried) or abandoned.
        Counter(
            label: "tock_notifications_total",
            dimensions: [("channel", delivery.channel.rawValue), ("result", state.rawValue)], factory: metrics
        ).increment()
        switch state {
        case .delivered: logger.info("notification delivered", metadata: metadata)
        case .abandoned: logger.error("notification abandoned", metadata: metadata)
        default: logger.warning("notification attempt failed", metadata: metadata)
        }
        let next = nextAttempt
        await retryingStore("record a delivery attempt") {
            try await self.outbox.recordAttempt(
                deliveryID: delivery.id, state: state, at: now, nextAttemptAt: next, attempt: result)
        }
    }

    /// One attempt, by channel.
    func send(_ delivery: NotificationDelivery) async -> DeliveryAttempt {
        var notifier: NotifierConfiguration?
        if delivery.target.hasPrefix("notifier:") {
            let name = String(delivery.target.dropFirst("notifier:".count))
            guard let named = settings.notifiers[name] else {
                return DeliveryAttempt(.abandoned, error: "no notifier named '\(name)' in the server configuration")
            }
            notifier = named
        }
        switch delivery.channel {
        case .webhook:
            guard let address = notifier?.webhook ?? (notifier == nil ? delivery.target : nil),
                let url = URL(string: address), ["http", "https"].contains(url.scheme ?? "")
            else { return DeliveryAttempt(.abandoned, error: "no webhook URL") }
            let secret = notifier.map(\.secret) ?? settings.inlineWebhookSecret
            let message = WebhookMessage(
                event: delivery.payload, eventID: delivery.eventID, format: notifier?.format ?? .json,
                includeOutput: notifier?.includeOutput ?? true, secret: secret,
                timestamp: Int(clock.now.timeIntervalSince1970), userAgent: "Tock/\(settings.version)")
            let response = await transport.post(
                url: url, body: message.body, headers: message.headers,
                timeout: notifier?.timeout ?? settings.webhookTimeout)
            guard let status = response.status else {
                return DeliveryAttempt(.failed(retryAfter: nil), error: response.error ?? "no response")
            }
            let excerpt = response.excerpt.isEmpty ? nil : response.excerpt
            if (200..<300).contains(status) {
                return DeliveryAttempt(.delivered, status: status, responseExcerpt: excerpt)
            }
            if status == 410 {
                return DeliveryAttempt(
                    .abandoned, status: status, error: "410 Gone: the receiver asked to stop", responseExcerpt: excerpt)
            }
            let error = (300..<400).contains(status) ? "redirect not followed (HTTP \(status))" : "HTTP \(status)"
            return DeliveryAttempt(
                .failed(retryAfter: response.retryAfter.map { .seconds($0) }), status: status, error: error,
                responseExcerpt: excerpt)
        case .command:
            guard let command = notifier?.command ?? (notifier == nil ? delivery.target : nil) else {
                return DeliveryAttempt(.abandoned, error: "no command")
            }
            return await runCommand(command, delivery)
        case .mail:
            return await mail(delivery)
        }
    }

    private func runCommand(_ command: String, _ delivery: NotificationDelivery) async -> DeliveryAttempt {
        let event = try? JSONValue.parse(delivery.payload)
        var environment = settings.environment
        environment["TOCK_EVENT"] = delivery.eventType
        environment["TOCK_EVENT_ID"] = delivery.eventID
        environment["TOCK_JOB_ID"] = delivery.jobID
        environment["TOCK_EXECUTION_ID"] = delivery.executionID ?? ""
        environment["TOCK_STATE"] = event?["execution"]?["state"]?.stringValue ?? ""
        environment["TOCK_EXIT_CODE"] =
            event?["execution"]?["exit_code"].flatMap { value in
                if case .int(let code) = value { return String(code) }
                return nil
            } ?? ""
        if let url = settings.publicURL { environment["TOCK_URL"] = url }
        let request = AttemptRequest(
            program: .shell(command: command, shell: "/bin/sh"), environment: environment,
            stdin: String(decoding: delivery.payload, as: UTF8.self), user: delivery.options["user"],
            timeout: settings.commandTimeout, killGrace: .seconds(5), maxOutput: 4096)
        return Self.result(of: await runner.run(request, control: RunControl(), output: { _ in }), what: "command")
    }

    private func mail(_ delivery: NotificationDelivery) async -> DeliveryAttempt {
        guard let mailer = settings.mailer else {
            return DeliveryAttempt(.abandoned, error: "mail is off ([notifications] mailer = \"off\")")
        }
        guard FileManager.default.isExecutableFile(atPath: mailer) else {
            let first = reported.withLock { $0.insert(mailer).inserted }
            if first {
                logger.error(
                    "no mailer: mail_to and mail notifications cannot be sent until it is installed",
                    metadata: ["mailer": "\(mailer)"])
            }
            return DeliveryAttempt(.failed(retryAfter: nil), error: "no mailer at \(mailer)")
        }
        let from = delivery.options["from"] ?? settings.mailFrom
        let request = AttemptRequest(
            program: .exec(CronMail.arguments(mailer: mailer, from: from)), environment: settings.environment,
            stdin: String(decoding: delivery.payload, as: UTF8.self), user: delivery.options["user"],
            timeout: settings.commandTimeout, killGrace: .seconds(5), maxOutput: 4096)
        return Self.result(of: await runner.run(request, control: RunControl(), output: { _ in }), what: "mailer")
    }

    static func result(of outcome: AttemptOutcome, what: String) -> DeliveryAttempt {
        let excerpt = String(decoding: (outcome.stderr.bytes + outcome.stdout.bytes).prefix(1024), as: UTF8.self)
        let text = excerpt.isEmpty ? nil : excerpt
        switch outcome.termination {
        case .exited(0): return DeliveryAttempt(.delivered, status: 0, responseExcerpt: text)
        case .exited(let code):
            return DeliveryAttempt(
                .failed(retryAfter: nil), status: Int(code), error: "\(what) exited with status \(code)",
                responseExcerpt: text)
        case .signaled(let signal):
            return DeliveryAttempt(
                .failed(retryAfter: nil),
                error: outcome.timedOut ? "\(what) timed out" : "\(what) killed by signal \(signal)",
                responseExcerpt: text)
        case .spawnFailed(let message):
            return DeliveryAttempt(.failed(retryAfter: nil), error: "\(what) could not start: \(message)")
        }
    }
}
