import Foundation
import Logging
import ServiceLifecycle

/// The timers of job health: `job.overdue` while a run of a job with `warn_after` is still running past it (a
/// timer per run, not a check at its end: a run that hangs for good is reported too), `job.late` when a due
/// instant has not started within `start_grace`, `job.down` when no run succeeded within `max_age`, and the
/// `job.missed` alerts of instants found missed. Sleeps until the earliest deadline or until woken (a watched run
/// starts, a job changes); nothing polls. Alerts and their deliveries are written in one transaction when the store
/// keeps alerts (``JobAlertStore``), so a restart neither repeats an alert nor forgets to resolve it.
public final class JobHealthMonitor: Service, Sendable {
    let planner: NotificationPlanner
    let outbox: any NotificationOutbox
    let store: (any JobStore)?
    let clock: any WallClock
    let logger: Logger

    public init(
        planner: NotificationPlanner, outbox: any NotificationOutbox, store: (any JobStore)? = nil,
        clock: any WallClock, logger: Logger
    ) {
        self.planner = planner
        self.outbox = outbox
        self.store = store ?? (outbox as? any JobStore)
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            if let alerts = self.outbox as? any JobAlertStore {
                do {
                    self.planner.restore(try await alerts.openAlerts())
                } catch {
                    self.logger.error("could not read the open alerts", metadata: ["error": "\(error)"])
                }
            }
            var failing = false
            while !Task.isCancelled {
                await self.readLastSuccesses()
                let overdue = self.planner.overdueDeliveries(at: self.clock.now)
                if !overdue.isEmpty {
                    do {
                        try await self.outbox.enqueue(overdue)
                        self.planner.enqueued()
                    } catch {
                        self.logger.error("could not record an overdue alert", metadata: ["error": "\(error)"])
                    }
                }
                let changes = self.planner.healthChanges(at: self.clock.now)
                failing = false
                if !changes.isEmpty {
                    do {
                        try await self.write(changes)
                    } catch {
                        failing = true
                        self.planner.requeue(changes)
                        self.logger.error("could not record health alerts; retrying", metadata: ["error": "\(error)"])
                    }
                }
                let next = failing ? self.clock.now.addingTimeInterval(5) : self.nextDeadline()
                await self.sleep(until: next)
            }
        }
    }

    private func nextDeadline() -> Date? {
        [planner.nextOverdueDeadline, planner.nextHealthDeadline].compactMap { $0 }.min()
    }

    private func write(_ changes: AlertChanges) async throws {
        if let alerts = outbox as? any JobAlertStore {
            try await alerts.recordAlerts(
                opened: changes.opened, closed: changes.closed, enqueuing: changes.deliveries)
        } else if !changes.deliveries.isEmpty {
            try await outbox.enqueue(changes.deliveries)
        }
        if !changes.deliveries.isEmpty { planner.enqueued() }
        for alert in changes.opened {
            logger.warning(
                "job health alert",
                metadata: [
                    "job.id": "\(alert.jobID)", "kind": "\(alert.kind.rawValue)", "detail": "\(alert.detail)",
                ])
        }
    }

    /// The newest success of each job with `max_age` not read yet.
    private func readLastSuccesses() async {
        guard let store else { return }
        for id in planner.jobsNeedingLastSuccess() {
            do {
                let newest = try await store.executions(
                    matching: ExecutionQuery(jobID: id, state: .succeeded, limit: 1))
                planner.setLastSuccess(jobID: id, newest.first.map { $0.endedAt ?? $0.scheduledAt })
            } catch {
                logger.error("could not read a job's last success", metadata: ["job.id": "\(id)", "error": "\(error)"])
                return
            }
        }
    }

    private func sleep(until deadline: Date?) async {
        await planner.overdueSignal.wait(orUntil: deadline, on: clock)
    }
}
