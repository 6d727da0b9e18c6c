import Foundation
import Logging
import ServiceLifecycle

/// Sends `job.overdue` while a run of a job with `warn_after` is still running past it (a timer per run, not a
/// check at its end: a run that hangs for good is reported too). Sleeps until the earliest deadline or until a
/// watched run starts; the deliveries go to the outbox like any other.
public final class OverdueMonitor: Service, Sendable {
    let planner: NotificationPlanner
    let outbox: any NotificationOutbox
    let clock: any WallClock
    let logger: Logger

    public init(planner: NotificationPlanner, outbox: any NotificationOutbox, clock: any WallClock, logger: Logger) {
        self.planner = planner
        self.outbox = outbox
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let deliveries = self.planner.overdueDeliveries(at: self.clock.now)
                if !deliveries.isEmpty {
                    do {
                        try await self.outbox.enqueue(deliveries)
                        self.planner.enqueued()
                    } catch {
                        self.logger.error("could not record an overdue alert", metadata: ["error": "\(error)"])
                    }
                }
                await self.sleep(until: self.planner.nextOverdueDeadline)
            }
        }
    }

    private func sleep(until deadline: Date?) async {
        let signal = planner.overdueSignal
        let clock = self.clock
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await signal.wait() }
            if let deadline { group.addTask { try? await clock.sleep(until: deadline) } }
            await group.next()
            group.cancelAll()
        }
    }
}
