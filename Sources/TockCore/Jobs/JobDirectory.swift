import Foundation

/// The jobs of a `jobs.d` directory: every `*.toml` file in it, in name order.
///
/// A file with problems contributes no job (its errors say why); the other files are unaffected. A job id
/// defined twice is an error naming both places, and the later file's jobs are not loaded.
public struct JobDirectory: Sendable {
    public let path: String
    public let jobs: [Job]
    public let errors: [JobFileError]
    /// Problems that do not stop a job from loading (an `after` naming a job no file defines).
    public var warnings: [JobFileError] = []
    /// The files read, in order.
    public let files: [String]
    /// False when the directory could not be listed or a file in it could not be read (no descriptors left, I/O
    /// errors, permissions): the jobs are then not all there, and a reload must keep the current ones.
    public var isComplete: Bool = true

    /// - Parameter kinds: job kinds registered by an embedding package (enables `kind` and `args`).
    public static func load(_ path: String, kinds: Set<String> = []) -> JobDirectory {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            // Gone (moved, unmounted) is not emptied: a reload keeps the current jobs.
            var directory = JobDirectory(
                path: path, jobs: [], errors: [JobFileError(file: path, line: 0, message: "no such directory")],
                files: [])
            directory.isComplete = false
            return directory
        }
        let listing: [String]
        do { listing = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            var directory = JobDirectory(
                path: path, jobs: [],
                errors: [JobFileError(file: path, line: 0, message: "cannot list the directory: \(error)")], files: [])
            directory.isComplete = false
            return directory
        }
        let names = listing.filter { $0.hasSuffix(".toml") && !$0.hasPrefix(".") }.sorted()
        var isComplete = true
        var jobs: [Job] = []
        var errors: [JobFileError] = []
        var firstDefinition: [String: (file: String, line: Int)] = [:]
        var files: [String] = []
        for name in names {
            let file = (path as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: file) else {
                // Removed since the listing: gone, like its jobs. Still there: unreadable now, not empty.
                if access(file, F_OK) == 0 {
                    isComplete = false
                    errors.append(
                        JobFileError(
                            file: file, line: 1, message: "cannot read the file (\(String(cString: strerror(errno))))"))
                }
                continue
            }
            files.append(file)
            let parsed = JobDefinitionReader.parse(data, file: file, kinds: kinds)
            errors += parsed.errors
            var duplicates: [JobFileError] = []
            for job in parsed.jobs {
                if let first = firstDefinition[job.id] {
                    duplicates.append(
                        JobFileError(
                            file: file, line: job.sourceLine,
                            message: "job '\(job.id)' is already defined in \(first.file):\(first.line)"))
                }
            }
            if duplicates.isEmpty {
                for job in parsed.jobs { firstDefinition[job.id] = (file, job.sourceLine) }
                jobs += parsed.jobs
            } else {
                errors += duplicates
            }
        }
        let dependencies = checkDependencies(jobs)
        var directory = JobDirectory(
            path: path, jobs: dependencies.jobs, errors: errors + dependencies.errors, files: files)
        directory.warnings = dependencies.warnings
        directory.isComplete = isComplete
        return directory
    }

    public func job(_ id: String) -> Job? { jobs.first { $0.id == id } }
}
