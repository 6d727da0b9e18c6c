import Foundation
import GRDB
import Logging

/// Copies the write-ahead log into the database file from a connection of its own, once a second.
///
/// SQLite checkpoints by itself on the commit that takes the log past 1,000 pages, on the writer's connection: that
/// commit then waits for the database file's `fdatasync` (~110 ms measured here on a 350 MB file), and so does every
/// write queued behind it — an API request or the scheduler's start rows (issue 18: a prune of a million rows must
/// not hold up a write for more than 50 ms; it made a checkpoint every second or so). A passive checkpoint from
/// another connection takes no writer's lock: writes go on appending to the log meanwhile. The writer keeps
/// SQLite's own checkpoint as a backstop, at 10,000 pages.
final class WALCheckpointer: Sendable {
    static let backstopPages = 10_000
    private let task: Task<Void, Never>
    private let queue: DatabaseQueue

    init(path: String, interval: Duration = .seconds(1), logger: Logger) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(1)
        configuration.label = "tock.checkpointer"
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        self.queue = queue
        task = Task.detached(priority: .utility) {
            var failures = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { break }
                do {
                    // Off the cooperative pool (GRDB's own queue): the fdatasync blocks its thread.
                    try await queue.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) }
                    failures = 0
                } catch {
                    if failures % 60 == 0 {
                        logger.warning("WAL checkpoint failed; retrying", metadata: ["error": "\(error)"])
                    }
                    failures += 1
                }
            }
        }
    }

    /// Closed with the store, at once (after a checkpoint under way): the last connection to close removes the log,
    /// and a connection opened just after must not find the file locked for that.
    deinit {
        task.cancel()
        try? queue.close()
    }
}
