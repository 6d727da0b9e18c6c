import ArgumentParser
import Foundation
import Logging
import TockApp

/// `tock migrate-store --from sqlite:PATH --to postgres://…`
struct MigrateStoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-store",
        abstract: "Copy an SQLite database's history into PostgreSQL, to move a daemon into a cluster.",
        discussion: """
            Copies executions (with their output), job state (pauses, each job's last instant), API jobs, the \
            audit log, users and API tokens (password and token hashes as stored), notification deliveries, open \
            alerts and dependency cursors. UI sessions are not copied: users log in again. Stop the daemon first \
            (the SQLite file must not change during the copy; it is brought to this Tock's schema first). The target \
            is migrated to Tock's schema if needed and must hold no executions, audit entries or API jobs, unless \
            --force. Rows are copied in batches, each batch one transaction; a row whose key is already in the \
            target is left as it is, so a copy that stopped half-way is completed by running it again with \
            --force. At the end each table's rows are counted on both sides, and a shortfall is an error (exit 1).
            """)

    @Option(help: "The database to copy: sqlite:PATH.")
    var from: String

    @Option(help: "The PostgreSQL database to copy into: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.")
    var to: String

    @Flag(help: "Copy into a target that already holds history (keys already there are left as they are).")
    var force = false

    @Option(help: "Rows per batch (memory holds one batch; output pieces go a few at a time).")
    var batchSize = 500

    func run() async throws {
        guard (1...10_000).contains(batchSize) else {
            throw ValidationError("--batch-size: \(batchSize) is not between 1 and 10000")
        }
        var logger = Logger(label: "tock")
        logger.logLevel = .warning
        do {
            try await StoreMigrationCommand.run(
                from: from, to: to, force: force, batchSize: batchSize, logger: logger,
                print: { Swift.print($0) })
        } catch {
            FileHandle.standardError.write(Data("tock migrate-store: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
