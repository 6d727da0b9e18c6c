import Foundation

/// Daemon-wide scheduling settings.
public struct SchedulerConfiguration: Sendable {
    /// Recorded on every execution (the `host` field).
    public var host: String
    /// The zone of jobs that name none.
    public var defaultTimeZone: TimeZone
    /// The zone's name as configured (`timezone`), as the API writes it into a job's definition: Foundation calls
    /// `UTC` "GMT". `nil`: the zone's identifier (`UTC` for GMT). Part of each job's definition digest.
    public var defaultTimeZoneName: String?
    /// At most this many runs at once across all jobs; further due runs wait, recorded as `scheduled`.
    public var maxConcurrentRuns: Int
    /// On SIGTERM/SIGINT: how long running jobs may go on before they are stopped.
    public var shutdownGrace: Duration
    /// A due instant later than this (a stall, a wall-clock step forward) counts as missed, handled by the job's
    /// `catchup` policy like downtime.
    public var lateTolerance: Duration
    /// At most this many `missed` executions are recorded per job for one gap.
    public var maxMissedRecords: Int
    /// Executions kept per job, and at most this old (older ones are pruned, hourly and at start).
    public var retentionPerJob: Int
    public var retentionAge: Duration
    /// Job kinds an embedding package registered (needed to read stored API jobs that use them).
    public var jobKinds: Set<String> = []
    /// Where execution counts, run durations and schedule lag go.
    public var metrics: SchedulerMetrics
    /// A number in 0...1 for each jittered run (tests pass a fixed one).
    public var jitterFraction: @Sendable () -> Double = { Double.random(in: 0...1) }
    /// The daemon's environment, read once (jobs that inherit it get it): `ProcessInfo.environment` builds a new
    /// dictionary on every access.
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// Decides the notifications of runs' final states; `nil`: none are sent. They are written with the final record
    /// when the store is also a ``NotificationOutbox``.
    public var notifications: NotificationPlanner?

    public init(
        host: String = ProcessInfo.processInfo.hostName, defaultTimeZone: TimeZone = TimeZone(identifier: "UTC")!,
        maxConcurrentRuns: Int = 64, shutdownGrace: Duration = .seconds(30), lateTolerance: Duration = .seconds(60),
        maxMissedRecords: Int = 100, retentionPerJob: Int = 1000, retentionAge: Duration = .seconds(90 * 86_400),
        metrics: SchedulerMetrics = SchedulerMetrics()
    ) {
        self.host = host
        self.defaultTimeZone = defaultTimeZone
        self.maxConcurrentRuns = max(1, maxConcurrentRuns)
        self.shutdownGrace = shutdownGrace
        self.lateTolerance = lateTolerance
        self.maxMissedRecords = maxMissedRecords
        self.retentionPerJob = retentionPerJob
        self.retentionAge = retentionAge
        self.metrics = metrics
    }
}
