import Foundation

/// How an execution came to be (SPEC §4).
public enum ExecutionTrigger: String, Sendable, Hashable, Codable, CaseIterable {
    case schedule, manual, catchup, reboot, retry
    /// A triggered job's run, once every job of its `after` had succeeded.
    case dependency
}

/// One execution: one attempt chain of one job for one scheduled instant or manual run (SPEC §4).
public struct ExecutionRecord: Sendable, Hashable, Codable {
    public var id: String
    public var jobID: String
    public var state: ExecutionState
    public var trigger: ExecutionTrigger
    /// The planned instant.
    public var scheduledAt: Date
    public var startedAt: Date?
    public var endedAt: Date?
    public var host: String
    public var pid: Int32?
    /// 1 for the first attempt; the number of the latest attempt while retrying.
    public var attempt: Int
    public var exitCode: Int32?
    public var signal: Int32?
    /// Why it could not start, or other detail for a user.
    public var message: String?
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    /// Bytes the job wrote, kept or not.
    public var stdoutBytes: Int
    public var stderrBytes: Int
    /// SHA-256 of the definition the run used (``Job/definitionDigest(defaultTimeZone:)``), set when it starts:
    /// in a cluster whose nodes' jobs.d differ, which definition ran. `nil` for a row that never ran (skipped,
    /// missed) and for rows recorded before digests were kept.
    public var definitionDigest: String?

    public init(
        id: String = ExecutionRecord.newID(), jobID: String, state: ExecutionState, trigger: ExecutionTrigger,
        scheduledAt: Date, host: String
    ) {
        self.id = id
        self.jobID = jobID
        self.state = state
        self.trigger = trigger
        self.scheduledAt = scheduledAt
        self.startedAt = nil
        self.endedAt = nil
        self.host = host
        self.pid = nil
        self.attempt = 1
        self.exitCode = nil
        self.signal = nil
        self.message = nil
        self.stdout = []
        self.stderr = []
        self.stdoutBytes = 0
        self.stderrBytes = 0
        self.definitionDigest = nil
    }

    /// A 32-hex-digit id, as ndscheduler's execution ids (see ``RandomID``).
    public static func newID() -> String { RandomID.make() }

    /// Copies an attempt's outcome in.
    public mutating func apply(_ outcome: AttemptOutcome, attempt: Int) {
        self.attempt = attempt
        state = outcome.state
        // The first attempt's process start is the execution's start (more exact than when it was dispatched).
        if attempt == 1 || startedAt == nil { startedAt = outcome.startedAt }
        endedAt = outcome.endedAt
        pid = outcome.pid
        switch outcome.termination {
        case .exited(let code):
            exitCode = code
            signal = nil
            message = nil
        case .signaled(let number):
            exitCode = nil
            signal = number
            message = outcome.timedOut ? "timed out" : nil
        case .spawnFailed(let text):
            exitCode = nil
            signal = nil
            message = text
        }
        stdout = outcome.stdout.bytes
        stderr = outcome.stderr.bytes
        stdoutBytes = outcome.stdout.totalBytes
        stderrBytes = outcome.stderr.totalBytes
    }
}
