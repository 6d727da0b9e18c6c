import CoreMetrics
import Foundation
import Logging
import ServiceLifecycle
import TockCore

extension TockApplication {
    /// The notification planner (handed to the scheduler) and the delivery worker, when the store keeps an outbox.
    static func makeNotifications(
        _ configuration: TockConfiguration, scheduling: inout SchedulerConfiguration, store: any JobStore,
        jobs: [Job], metrics: any MetricsFactory, logger: Logger
    ) -> NotificationDeliveryService? {
        guard let outbox = store as? any NotificationOutbox else {
            logger.warning("this store keeps no notification outbox: notifications and mail_to are off")
            return nil
        }
        var settings = configuration.notifications
        settings.host = scheduling.host
        settings.publicURL = configuration.publicURL
        settings.environment = scheduling.environment
        let service = NotificationDeliveryService(
            outbox: outbox, settings: settings, logger: logger, metrics: metrics)
        scheduling.notifications = NotificationPlanner(settings: settings, wake: { service.wake() })
        if let mailer = settings.mailer, jobs.contains(where: { $0.mailTo != nil }),
            !FileManager.default.isExecutableFile(atPath: mailer)
        {
            // Once per start: a crontab imported with MAILTO silently mailing nobody is what this prevents.
            logger.warning(
                "no mailer at \(mailer): output of jobs with mail_to is kept and mailed once it is installed (or set [notifications] mailer)",
                metadata: ["mailer": "\(mailer)"])
        }
        return service
    }
}

extension TockApplication {
    /// The `warn_after` timers, when notifications are on.
    static func overdueMonitor(_ scheduling: SchedulerConfiguration, store: any JobStore, logger: Logger)
        -> (any Service)?
    {
        guard let planner = scheduling.notifications, let outbox = store as? any NotificationOutbox else { return nil }
        return OverdueMonitor(planner: planner, outbox: outbox, clock: SystemWallClock(), logger: logger)
    }
}

/// A service that does nothing until shutdown: the group's place for the delivery worker when there is none.
struct IdleService: Service {
    func run() async throws {
        try? await gracefulShutdown()
    }
}
