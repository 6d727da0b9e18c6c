import Foundation
import Synchronization

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
    /// How many files this load read and parsed (the others were known to a ``JobFileCache`` and unchanged).
    public var filesRead = 0

    /// - Parameters:
    ///   - kinds: job kinds registered by an embedding package (enables `kind` and `args`).
    ///   - cache: what the previous load of the same directory read (a reload reads only the files that changed),
    ///     updated by this one.
    ///   - current: the jobs the previous load gave, by file (the scheduler's), for the files `cache` knows unchanged
    ///     but no longer keeps the jobs of; only valid when that load had no errors and every job it gave is there.
    ///   - definitions: a cache of parsed definitions kept on disk (``JobDefinitionCacheFile``): files unchanged
    ///     since it was written are decoded from it, and it is written again when this load read any file.
    public static func load(
        _ path: String, kinds: Set<String> = [], cache: JobFileCache? = nil, current: [String: [Job]]? = nil,
        definitions: JobDefinitionCacheFile? = nil
    ) -> JobDirectory {
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
        // Files are read and parsed on every core (100,000 jobs in 100 files: most of a start-up), then taken in name
        // order, as one at a time would.
        let paths = names.map { (path as NSString).appendingPathComponent($0) }
        // Each file's identity before it is read: a change after that moves it, and the next load reads it again.
        let readAt = Date()
        let signatures = paths.map { cache == nil && definitions == nil ? nil : JobFileCache.Signature(path: $0) }
        // Read at the first load only (a start); a reload knows the files from `cache`.
        let persisted = cache?.isEmpty ?? true ? definitions?.read(directory: path, kinds: kinds) ?? [:] : [:]
        var fromPersisted = 0
        let known = zip(paths, signatures).map { path, signature -> (jobs: [Job], errors: [JobFileError])? in
            if let known = cache?.parsed(path, signature)
                ?? current.flatMap({ current in
                    cache?.isUnchanged(path, signature) == true ? (current[path] ?? [], []) : nil
                })
            {
                return known
            }
            guard let signature, let entry = persisted[path], entry.signature == signature else { return nil }
            fromPersisted += 1
            return (entry.jobs, [])
        }
        let unknown = known.indices.filter { known[$0] == nil }
        let read = Self.readAndParse(unknown.map { paths[$0] }, kinds: kinds)
        var parsedFiles = known.map { known in
            known.map { Result<(jobs: [Job], errors: [JobFileError]), ReadFailure>.success($0) }
                ?? .failure(ReadFailure(errno: 0))
        }
        for (n, index) in unknown.enumerated() { parsedFiles[index] = read[n] }
        for (file, read) in zip(paths, parsedFiles) {
            guard case .success(let parsed) = read else {
                // Removed since the listing: gone, like its jobs. Still there: unreadable now, not empty.
                if case .failure(let failure) = read, access(file, F_OK) == 0 {
                    isComplete = false
                    errors.append(
                        JobFileError(
                            file: file, line: 1,
                            message: "cannot read the file (\(String(cString: strerror(failure.errno))))"))
                }
                continue
            }
            files.append(file)
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
        if let cache, isComplete {
            cache.remember(
                zip(zip(paths, signatures), parsedFiles).compactMap { file, result in
                    guard case .success(let parsed) = result else { return nil }
                    return (file.0, file.1, readAt, parsed)
                }, hadErrors: !errors.isEmpty, jobCount: jobs.count)
        }
        if let definitions, isComplete, !unknown.isEmpty || fromPersisted != persisted.count {
            // Files read now count only when they had not been modified in the second before (a later write
            // within the same tick of the file clock would keep their identity); files known before were.
            let trustedBefore = Int64((readAt.timeIntervalSince1970 - 1) * 1e9)
            let unknownSet = Set(unknown)
            definitions.write(
                directory: path, kinds: kinds,
                files: paths.indices.compactMap { n in
                    guard let signature = signatures[n], case .success(let parsed) = parsedFiles[n],
                        parsed.errors.isEmpty, !unknownSet.contains(n) || signature.modified < trustedBefore
                    else { return nil }
                    return JobDefinitionCacheFile.File(path: paths[n], signature: signature, jobs: parsed.jobs)
                })
        }
        let dependencies = checkDependencies(jobs)
        var directory = JobDirectory(
            path: path, jobs: dependencies.jobs, errors: errors + dependencies.errors, files: files)
        directory.warnings = dependencies.warnings
        directory.isComplete = isComplete
        directory.filesRead = unknown.count
        return directory
    }

    /// A file that could not be read, and why.
    struct ReadFailure: Error {
        let errno: Int32
    }

    /// Each file read and parsed, files spread over the cores.
    static func readAndParse(_ paths: [String], kinds: Set<String>) -> [Result<
        (jobs: [Job], errors: [JobFileError]), ReadFailure
    >] {
        let results = Mutex(
            [Result<(jobs: [Job], errors: [JobFileError]), ReadFailure>](
                repeating: .failure(ReadFailure(errno: 0)), count: paths.count))
        DispatchQueue.concurrentPerform(iterations: paths.count) { n in
            guard let data = FileManager.default.contents(atPath: paths[n]) else {
                let failure = ReadFailure(errno: errno)
                results.withLock { $0[n] = .failure(failure) }
                return
            }
            let parsed = JobDefinitionReader.parse(data, file: paths[n], kinds: kinds)
            results.withLock { $0[n] = .success(parsed) }
        }
        return results.withLock { $0 }
    }

    public func job(_ id: String) -> Job? { jobs.first { $0.id == id } }
}
