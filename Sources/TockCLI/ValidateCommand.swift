import ArgumentParser
import Foundation
import TockApp
import TockCore

/// `tock validate [--jobs-dir DIR]`
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check every job file; print each problem as FILE:LINE: message.",
        discussion: """
            Exits 0 when every file is valid, 1 otherwise. Warnings (an `after` naming a job that no file defines: \
            a job created through the API may provide it) are printed as FILE:LINE: warning: message and fail \
            only with --strict.
            """
    )

    @Option(help: "The directory of job files (default: the configuration's jobs_dir, else ./jobs.d).")
    var jobsDir: String?

    @Flag(help: "Treat warnings as errors.")
    var strict = false

    func run() throws {
        // The same configuration file `tock serve` reads (--config is not taken: `tock serve --check-config`).
        let environment = ProcessInfo.processInfo.environment
        let file = TockConfiguration.configurationFile(explicit: nil, environment: environment)
        let configured = try? TockConfiguration.load(file: file, environment: environment)
        let jobsDir = self.jobsDir ?? configured?.jobsDirectory ?? "./jobs.d"
        let directory = JobDirectory.load(jobsDir)
        var problems = directory.errors.map(\.description)
        problems += Self.unknownNotifiers(
            directory.jobs, known: Set(configured?.notifications.notifiers.keys ?? [:].keys),
            configuration: file)
        for problem in problems {
            FileHandle.standardError.write(Data("\(problem)\n".utf8))
        }
        for warning in directory.warnings {
            FileHandle.standardError.write(Data("\(warning.file):\(warning.line): warning: \(warning.message)\n".utf8))
        }
        if !problems.isEmpty || (strict && !directory.warnings.isEmpty) { throw ExitCode(1) }
        print("\(directory.jobs.count) jobs in \(directory.files.count) files: all valid")
    }

    /// `notify = ["NAME"]` naming no `[notifier.NAME]` of the server configuration: its events would be abandoned.
    static func unknownNotifiers(_ jobs: [Job], known: Set<String>, configuration file: String?) -> [String] {
        var problems: [String] = []
        let where_ = file.map { "in \($0)" } ?? "(no server configuration file was found)"
        let knownList = known.isEmpty ? "none" : known.sorted().joined(separator: ", ")
        for job in jobs {
            let place: String
            if case .file(let path, let line) = job.source { place = "\(path):\(line)" } else { place = job.id }
            let keyed: [(JobKey, TockCore.Notification?)] = [
                (.onFailure, job.onFailure), (.onSuccess, job.onSuccess), (.onRecovery, job.onRecovery),
                (.onAlert, job.onAlert),
            ]
            for (key, targets) in keyed {
                for name in targets?.notify ?? [] where !known.contains(name) {
                    problems.append(
                        "\(place): \(key.rawValue): no notifier named '\(name)' \(where_) (known: \(knownList))")
                }
            }
        }
        return problems
    }
}
