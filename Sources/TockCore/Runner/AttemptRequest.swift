import Foundation

/// Everything needed to run one attempt of a job as a process.
public struct AttemptRequest: Sendable {
    public enum Program: Sendable, Hashable {
        /// Run by `shell -c command`.
        case shell(command: String, shell: String)
        /// An argv run directly; `argv[0]` is looked up in `PATH` when it has no slash.
        case exec([String])
        /// A job kind registered by an embedding package (see ``JobKind``).
        case custom(kind: String, arguments: [String: String])
    }

    public var program: Program
    /// The complete environment of the process.
    public var environment: [String: String]
    public var workingDirectory: String?
    /// Fed to standard input; `nil` gives `/dev/null`.
    public var stdin: String?
    /// Run as this user (the daemon must be root).
    public var user: String?
    public var timeout: Duration?
    /// Time between SIGTERM and SIGKILL when the attempt is timed out or stopped.
    public var killGrace: Duration
    /// Bytes kept per stream (head and tail halves).
    public var maxOutput: Int
    /// Which job, execution and instant the attempt belongs to (empty for a run outside the scheduler). Also in
    /// the process's environment as `TOCK_JOB_ID`, `TOCK_EXECUTION_ID`, `TOCK_SCHEDULED_TIME`.
    public var jobID: String = ""
    public var executionID: String = ""
    public var scheduledTime: Date?

    public init(
        program: Program, environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String? = nil, stdin: String? = nil, user: String? = nil, timeout: Duration? = nil,
        killGrace: Duration = .seconds(10), maxOutput: Int = 1 << 20
    ) {
        self.program = program
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.stdin = stdin
        self.user = user
        self.timeout = timeout
        self.killGrace = killGrace
        self.maxOutput = maxOutput
    }
}
