import ArgumentParser
import Foundation
import TockApp
import TockCore

extension ServeCommand {
    /// `tock serve --check-config`: what the daemon would start with, and every problem of the job files; exits
    /// 0 when all is valid, 1 when a job file has a problem (a configuration problem exits 2 before this).
    static func check(_ settings: TockConfiguration, file: String?) throws {
        print(
            "configuration: \(file ?? "none (built-in defaults; \(TockConfiguration.systemConfigurationFile) absent)")")
        print("listen: \(settings.listen)")
        print("database: \(settings.databaseURL)")
        print("web UI: \(settings.webDirectory ?? "built in")")
        print("log: \(settings.logFormat), level \(settings.logLevel)")
        let directory = JobDirectory.load(settings.jobsDirectory)
        for error in directory.errors { FileHandle.standardError.write(Data("\(error)\n".utf8)) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: settings.jobsDirectory, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            FileHandle.standardError.write(Data("\(settings.jobsDirectory): no such directory (jobs_dir)\n".utf8))
            throw ExitCode(1)
        }
        guard directory.errors.isEmpty else {
            print("jobs: \(directory.errors.count) problems in \(settings.jobsDirectory)")
            throw ExitCode(1)
        }
        print("jobs: \(directory.jobs.count) in \(directory.files.count) files in \(settings.jobsDirectory): all valid")
    }
}
