import Foundation
import Logging
import Testing
import TockCore
import TockSQLite
import TockTesting

/// What the notification tests share: a temporary SQLite outbox, jobs from TOML, a receiver process.
enum NotificationTestSupport {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tock-notify-\(UUID())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func job(_ toml: String) throws -> Job {
        let parsed = JobDefinitionReader.parse(toml, file: "test.toml")
        #expect(parsed.errors.isEmpty, "\(parsed.errors)")
        return try #require(parsed.jobs.first)
    }

    /// A finished record of `job`.
    static func record(
        _ job: Job, state: ExecutionState, exitCode: Int32? = 1, stdout: String = "", stderr: String = "",
        attempt: Int = 1
    ) -> ExecutionRecord {
        var record = ExecutionRecord(
            jobID: job.id, state: state, trigger: .manual, scheduledAt: Date(timeIntervalSince1970: 1_796_000_000),
            host: "db1.example.com")
        record.startedAt = record.scheduledAt
        record.endedAt = record.scheduledAt.addingTimeInterval(41)
        record.exitCode = exitCode
        record.attempt = attempt
        record.stdout = Array(stdout.utf8)
        record.stderr = Array(stderr.utf8)
        record.stdoutBytes = record.stdout.count
        record.stderrBytes = record.stderr.count
        return record
    }

    static var quietLogger: Logger { Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }) }

    typealias Receiver = WebhookReceiver
}
