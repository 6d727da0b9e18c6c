import ArgumentParser
import Foundation
import TockApp

/// Which database `tock backup` and `tock restore` act on: the one `tock serve` would open with the same
/// configuration file, environment and flags.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "A TOML configuration file (default: TOCK_CONFIG, else /etc/tock/tock.toml when it exists).")
    var config: String?

    @Option(help: "sqlite:PATH (default sqlite:<data-dir>/tock.sqlite).")
    var database: String?

    @Option(help: "Where Tock keeps its data (default ./tock-data).")
    var dataDir: String?

    func configuration() throws -> TockConfiguration {
        let environment = ProcessInfo.processInfo.environment
        do {
            var settings = try TockConfiguration.load(
                file: TockConfiguration.configurationFile(explicit: config, environment: environment),
                environment: environment)
            if let database { settings.database = database }
            if let dataDir { settings.dataDirectory = dataDir }
            return settings
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// `tock backup FILE`
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the database to FILE, consistently, while the daemon runs.",
        discussion: """
            Uses SQLite's online backup API: the copy is one snapshot, however busy the daemon is, and the \
            daemon is not paused. FILE is created with mode 0600 (it holds job output and environment values), \
            must not exist, and is checked with PRAGMA integrity_check. Restore it with `tock restore FILE`.
            """)

    @OptionGroup var options: DatabaseOptions

    @Argument(help: "The backup file to create.")
    var file: String

    func run() throws {
        do {
            print(try DatabaseBackup.backup(try options.configuration(), to: file))
        } catch let error as ValidationError {
            throw error
        } catch {
            FileHandle.standardError.write(Data("tock backup: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// `tock restore FILE`
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Replace the database with a backup (stop the daemon first).",
        discussion: """
            Checks FILE (integrity, and that no newer Tock wrote it), moves the current database aside as \
            tock.sqlite.before-restore-TIME, and copies FILE in its place. Refuses while a process has the \
            database open: stop the daemon first (systemctl stop tock), then start it again.
            """)

    @OptionGroup var options: DatabaseOptions

    @Argument(help: "The backup file (made by tock backup).")
    var file: String

    func run() throws {
        let settings = try options.configuration()
        do {
            for line in try DatabaseBackup.restore(settings, from: file) { print(line) }
        } catch {
            FileHandle.standardError.write(Data("tock restore: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
