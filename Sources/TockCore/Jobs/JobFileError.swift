/// A problem in a job file, located: `jobs.d/backup.toml:12: job 'backup': timeout: '5x' is not a duration`.
public struct JobFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let message: String
    /// The job key at fault (`timeout`), when the problem lies in one key.
    public let key: String?
    /// What is wrong with that key, without the file, job and key prefixes (for the API).
    public let reason: String
    /// Set when the problem is a required key that is not there.
    public var missingKey: JobKey?

    public init(file: String, line: Int, message: String, key: String? = nil, reason: String? = nil) {
        self.file = file
        self.line = line
        self.message = message
        self.key = key
        self.reason = reason ?? message
    }

    public var description: String { "\(file):\(line): \(message)" }
}
