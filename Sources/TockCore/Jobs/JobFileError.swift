/// A problem in a job file, located: `jobs.d/backup.toml:12: job 'backup': timeout: '5x' is not a duration`.
public struct JobFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file):\(line): \(message)" }
}
