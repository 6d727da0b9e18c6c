import CoreMetrics
import Foundation

/// What the scheduler reports through swift-metrics (exported as Prometheus text by `tock serve` at `/metrics`):
///
/// - `tock_executions_total{job, state}` — executions that reached a final state (and `skipped`, `missed`);
/// - `tock_run_duration_seconds` — from process start to end, per finished execution;
/// - `tock_schedule_lag_seconds` — start of the process minus the scheduled instant, for scheduled runs;
/// - `tock_jobs_loaded` — jobs the scheduler knows (files and API);
/// - `tock_scheduler_heartbeat_timestamp_seconds` — when the scheduler's loop last went round (every 10 s at least);
/// - `tock_job_definition_mismatch{job}` — 1 while a jobs.d job's definition differs between the live nodes of a
///   cluster (or only some define it), 0 once they agree again.
public struct SchedulerMetrics: Sendable {
    let factory: any MetricsFactory
    let runDuration: CoreMetrics.Timer
    let scheduleLag: CoreMetrics.Timer
    let jobsLoaded: Gauge
    let heartbeat: Gauge

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        runDuration = CoreMetrics.Timer(label: "tock_run_duration_seconds", dimensions: [], factory: factory)
        scheduleLag = CoreMetrics.Timer(label: "tock_schedule_lag_seconds", dimensions: [], factory: factory)
        jobsLoaded = Gauge(label: "tock_jobs_loaded", dimensions: [], factory: factory)
        heartbeat = Gauge(label: "tock_scheduler_heartbeat_timestamp_seconds", dimensions: [], factory: factory)
    }

    func recordEnd(_ record: ExecutionRecord) {
        Counter(
            label: "tock_executions_total", dimensions: [("job", record.jobID), ("state", record.state.rawValue)],
            factory: factory
        ).increment()
        if let start = record.startedAt, let end = record.endedAt, end >= start {
            runDuration.recordNanoseconds(Int64(end.timeIntervalSince(start) * 1e9))
        }
        recordJobTimes(record)
    }

    func recordStart(_ record: ExecutionRecord, at start: Date) {
        guard record.trigger == .schedule || record.trigger == .reboot else { return }
        scheduleLag.recordNanoseconds(Int64(max(0, start.timeIntervalSince(record.scheduledAt)) * 1e9))
    }

    func jobCount(_ count: Int) { jobsLoaded.record(count) }

    /// The scheduler's loop went round at `date` (at least every ``Scheduler/heartbeatInterval``): watched from
    /// outside, a stale heartbeat means a stuck or dead scheduler.
    func beat(_ date: Date) { heartbeat.record(date.timeIntervalSince1970) }

    /// A job's definitions differ between nodes (`true`) or agree again.
    func definitionMismatch(_ jobID: String, _ differs: Bool) {
        Gauge(label: "tock_job_definition_mismatch", dimensions: [("job", jobID)], factory: factory).record(
            differs ? 1 : 0)
    }
}
