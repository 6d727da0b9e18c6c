import ArgumentParser

@main
struct Tock: AsyncParsableCommand {
    /// Tock's version, as `tock --version` prints it: the one place it is written.
    static let version = "0.9.0"

    static let configuration = CommandConfiguration(
        commandName: "tock",
        abstract: "A cron replacement: runs commands on schedules and records every execution.",
        version: "\(version) (commit \(BuildInfo.commit))",
        subcommands: [
            ServeCommand.self, NextCommand.self, RunCommand.self, ValidateCommand.self, ImportCommand.self,
            UsersCommand.self, TokensCommand.self,
            JobsCommand.self, ExecutionsCommand.self, BackupCommand.self, RestoreCommand.self,
            NotificationsCommand.self, MigrateStoreCommand.self,
        ]
    )
}
