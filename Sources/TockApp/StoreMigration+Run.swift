import Foundation
import Logging
import TockPostgres
import TockSQLite

/// `tock migrate-store --from sqlite:PATH --to postgres://…`, whatever the build (without the `Postgres` trait it
/// explains that it cannot).
public enum StoreMigrationCommand {
    /// One line per table as the copy goes (`table: N in the source, N written, N in the target`), then the result.
    public static func run(
        from: String, to: String, force: Bool, batchSize: Int, logger: Logger,
        print: @escaping @Sendable (String) -> Void
    ) async throws {
        guard from.hasPrefix("sqlite:"), from.count > "sqlite:".count else {
            throw TockConfiguration.Problem("--from: '\(from)' is not sqlite:PATH")
        }
        guard PostgresDatabaseURL.isPostgres(to) else {
            throw TockConfiguration.Problem("--to: '\(to)' is not a postgres:// URL")
        }
        let url: PostgresDatabaseURL
        do { url = try PostgresDatabaseURL(parsing: to) } catch { throw TockConfiguration.Problem("--to: \(error)") }
        #if Postgres
            let path = String(from.dropFirst("sqlite:".count))
            let source: SQLiteExport
            do { source = try SQLiteExport(path: path) } catch { throw TockConfiguration.Problem("--from: \(error)") }
            let name = "migrate-store"
            let client = PostgresJobStore.makeClient(url: url, nodeName: name, logger: logger)
            let target = PostgresJobStore(client: client, nodeName: name, requestTimeout: .seconds(60), logger: logger)
            // A one-shot command: the client runs until the process ends.
            target.runClientInBackground()
            print("copying \(path) into \(url)")
            let migration = StoreMigration(source: source, target: target, batchSize: batchSize, logger: logger)
            let reports = try await migration.run(force: force) { report in
                print(
                    "\(report.table): \(report.source) in the source, \(report.written) written, "
                        + "\(report.target) in the target")
            }
            let total = reports.reduce(0) { $0 + $1.written }
            print("done: \(total) rows written; every table's count checked")
        #else
            _ = url
            throw TockConfiguration.Problem(
                "this tock was built without PostgreSQL (swift build --traits Postgres); migrate-store needs it")
        #endif
    }
}
