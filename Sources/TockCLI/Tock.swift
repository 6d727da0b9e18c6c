import ArgumentParser

@main
struct Tock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tock",
        abstract: "A cron replacement: runs commands on schedules and records every execution.",
        subcommands: [
            ServeCommand.self, NextCommand.self, RunCommand.self, ValidateCommand.self, ImportCommand.self,
            JobsCommand.self, ExecutionsCommand.self,
        ]
    )
}
