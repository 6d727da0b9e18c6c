import ArgumentParser
import Foundation
import TockCore

/// `tock validate [--jobs-dir DIR]`
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check every job file; print each problem as FILE:LINE: message.",
        discussion: "Exits 0 when every file is valid, 1 otherwise."
    )

    @Option(help: "The directory of job files.")
    var jobsDir = "./jobs.d"

    func run() throws {
        let directory = JobDirectory.load(jobsDir)
        for error in directory.errors {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
        }
        if !directory.errors.isEmpty { throw ExitCode(1) }
        print("\(directory.jobs.count) jobs in \(directory.files.count) files: all valid")
    }
}
