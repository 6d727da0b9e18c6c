#if Postgres
    import Foundation
    import Logging
    import PostgresNIO
    import TockCore

    /// Open alerts of job health (`max_age`, `start_grace`, missed instants) on PostgreSQL: the SQLite store's
    /// `job_alert`, written with the alerts' deliveries in one transaction.
    extension PostgresJobStore: JobAlertStore {
        static let alertMigration = Migration(
            name: "health-1: open job alerts",
            statements: [
                """
                CREATE TABLE job_alert (
                    job_id text NOT NULL,
                    kind text NOT NULL,
                    since timestamptz NOT NULL,
                    detail text NOT NULL,
                    alerted boolean NOT NULL,
                    event_id text NOT NULL,
                    PRIMARY KEY (job_id, kind)
                )
                """
            ])

        public func openAlerts() async throws -> [JobAlert] {
            try await run("SELECT job_id, kind, since, detail, alerted, event_id FROM job_alert").compactMap { row in
                let (job, kind, since, detail, alerted, event) = try row.decode(
                    (String, String, Date, String, Bool, String).self)
                guard let kind = JobAlert.Kind(rawValue: kind) else { return nil }
                return JobAlert(
                    jobID: job, kind: kind, since: since, detail: detail, alerted: alerted, eventID: event)
            }
        }

        public func recordAlerts(
            opened: [JobAlert], closed: [JobAlert], enqueuing deliveries: [NotificationDelivery]
        ) async throws {
            let closedIDs = Set(closed.map(\.eventID))
            let opened = opened.filter { !closedIDs.contains($0.eventID) }
            try await transaction { connection in
                for alert in closed {
                    try await connection.query(
                        """
                        DELETE FROM job_alert WHERE job_id = \(alert.jobID) AND kind = \(alert.kind.rawValue)
                            AND event_id = \(alert.eventID)
                        """, logger: self.logger)
                }
                for alert in opened {
                    try await connection.query(
                        """
                        INSERT INTO job_alert (job_id, kind, since, detail, alerted, event_id)
                        VALUES (\(alert.jobID), \(alert.kind.rawValue), \(alert.since), \(alert.detail),
                            \(alert.alerted), \(alert.eventID))
                        ON CONFLICT (job_id, kind) DO UPDATE SET since = excluded.since, detail = excluded.detail,
                            alerted = excluded.alerted, event_id = excluded.event_id
                        """, logger: self.logger)
                }
                try await Self.insert(deliveries, connection, logger: self.logger)
            }
        }
    }
#endif
