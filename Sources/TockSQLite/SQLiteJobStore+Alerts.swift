import Foundation
import GRDB
import TockCore

extension SQLiteJobStore: JobAlertStore {
    /// Open alerts of job health (`max_age`, `start_grace`, missed instants): a table of their own.
    static func registerAlertMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("health-1: open job alerts") { db in
            try db.execute(
                sql: """
                    CREATE TABLE job_alert (
                        job_id TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        since REAL NOT NULL,
                        detail TEXT NOT NULL,
                        alerted INTEGER NOT NULL,
                        event_id TEXT NOT NULL,
                        PRIMARY KEY (job_id, kind)
                    ) STRICT;
                    """)
        }
    }

    public func openAlerts() async throws -> [JobAlert] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT job_id, kind, since, detail, alerted, event_id FROM job_alert").compactMap
            {
                row -> JobAlert? in
                guard let kind = JobAlert.Kind(rawValue: row["kind"]) else { return nil }
                return JobAlert(
                    jobID: row["job_id"], kind: kind, since: Date(timeIntervalSince1970: row["since"]),
                    detail: row["detail"], alerted: row["alerted"], eventID: row["event_id"])
            }
        }
    }

    public func recordAlerts(
        opened: [JobAlert], closed: [JobAlert], enqueuing deliveries: [NotificationDelivery]
    ) async throws {
        // An alert opened and closed in the same batch leaves no row.
        let closedIDs = Set(closed.map(\.eventID))
        let opened = opened.filter { !closedIDs.contains($0.eventID) }
        try await write { db in
            for alert in closed {
                try db.execute(
                    sql: "DELETE FROM job_alert WHERE job_id = ? AND kind = ? AND event_id = ?",
                    arguments: [alert.jobID, alert.kind.rawValue, alert.eventID])
            }
            for alert in opened {
                try db.execute(
                    sql: """
                        INSERT OR REPLACE INTO job_alert (job_id, kind, since, detail, alerted, event_id)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        alert.jobID, alert.kind.rawValue, alert.since.timeIntervalSince1970, alert.detail,
                        alert.alerted, alert.eventID,
                    ])
            }
            try Self.insert(deliveries, db)
        }
    }
}
