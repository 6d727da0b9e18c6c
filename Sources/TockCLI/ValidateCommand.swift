import ArgumentParser
import Foundation
import TockApp
import TockCore

/// `tock validate [--jobs-dir DIR]`
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check every job file; print each problem as FILE:LINE: message.",
        discussion: "Exits 0 when every file is valid, 1 otherwise."
    )

    @Option(help: "The directory of job files (default: the configuration's jobs_dir, else ./jobs.d).")
    var jobsDir: String?

    func run() throws {
        // The same configuration file `tock serve` reads (--config is not taken: `tock serve --check-config`).
        let environment = ProcessInfo.processInfo.environment
        let configured = try? TockConfiguration.load(
            file: TockConfiguration.configurationFile(explicit: nil, environment: environment),
            environment: environment)
        let jobsDir = self.jobsDir ?? configured?.jobsDirectory ?? "./jobs.d"
        let directory = JobDirectory.load(jobsDir)
        for error in directory.errors {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
        }
        if !directory.errors.isEmpty { throw ExitCode(1) }
        print("\(directory.jobs.count) jobs in \(directory.files.count) files: all valid")
    }
}
