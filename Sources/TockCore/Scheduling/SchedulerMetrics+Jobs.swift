import CoreMetrics
import Foundation

extension SchedulerMetrics {
    /// Per job, for alert rules (`time() - tock_job_last_success_timestamp_seconds > 26*3600`):
    /// `tock_job_last_run_timestamp_seconds{job}` (the end of its last run that ran) and
    /// `tock_job_last_success_timestamp_seconds{job}`.
    func recordJobTimes(_ record: ExecutionRecord) {
        guard let end = record.endedAt, record.startedAt != nil else { return }
        Gauge(label: "tock_job_last_run_timestamp_seconds", dimensions: [("job", record.jobID)], factory: factory)
            .record(end.timeIntervalSince1970)
        if record.state == .succeeded {
            Gauge(
                label: "tock_job_last_success_timestamp_seconds", dimensions: [("job", record.jobID)],
                factory: factory
            ).record(end.timeIntervalSince1970)
        }
    }
}
