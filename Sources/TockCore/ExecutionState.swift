/// The state of one execution (SPEC §4). Raw values are the API's and the database's spelling.
public enum ExecutionState: String, Sendable, Hashable, Codable, CaseIterable {
    case scheduled
    case running
    case succeeded
    case failed
    case timeout
    /// Killed by a user.
    case stopped
    /// Not run because of the job's overlap policy.
    case skipped
    /// Due while the daemon was down.
    case missed
    /// The daemon died while it ran; set on the next start.
    case interrupted
    /// Could not be started at all (executable not found, bad working directory, unknown user).
    case scheduledError = "scheduled error"

    /// Whether the execution has ended and will never change again.
    public var isFinal: Bool {
        switch self {
        case .scheduled, .running: false
        default: true
        }
    }
}
