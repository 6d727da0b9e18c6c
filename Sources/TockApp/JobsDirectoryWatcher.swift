import Foundation
import Logging
import ServiceLifecycle
import TockCore
import UnixSignals

/// Reloads jobs.d into the scheduler on SIGHUP and whenever its files change (checked every `interval`).
///
/// A file that fails to load contributes no job and its errors are logged as `FILE:LINE: message`; the other
/// files' jobs are unaffected. A removed job is unscheduled; its history stays in the store.
public struct JobsDirectoryWatcher: Service {
    let path: String
    let kinds: Set<String>
    let scheduler: Scheduler
    let interval: Duration
    let logger: Logger
    /// What the last load read (the start-up's, when it used the same cache).
    let cache: JobFileCache
    /// Kept up to date after a reload that read files, for the next start.
    let definitions: JobDefinitionCacheFile?

    public init(
        path: String, kinds: Set<String> = [], scheduler: Scheduler, interval: Duration, logger: Logger,
        cache: JobFileCache = JobFileCache(), definitions: JobDefinitionCacheFile? = nil
    ) {
        self.cache = cache
        self.definitions = definitions
        self.path = path
        self.kinds = kinds
        self.scheduler = scheduler
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        var fingerprint = Self.fingerprint(of: path)
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        try await withThrowingDiscardingTaskGroup { group in
            let (reloads, reload) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1))
            group.addTask {
                for await _ in hangups.cancelOnGracefulShutdown() { reload.yield("SIGHUP") }
                reload.finish()
            }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: interval)
                    reload.yield("poll")
                }
                reload.finish()
            }
            for await reason in reloads.cancelOnGracefulShutdown() {
                let current = Self.fingerprint(of: path)
                guard reason == "SIGHUP" || current != fingerprint else { continue }
                if cache.isUnchanged(directory: path), await scheduler.fileJobCount() == cache.jobCount {
                    // The same files, none changed and none with errors, and the scheduler has every job they
                    // define: the same jobs (nothing to parse or compare).
                    fingerprint = current
                    logger.info("jobs reloaded", metadata: ["reason": "\(reason)", "unchanged": "true"])
                    continue
                }
                // The scheduler's jobs stand for the unchanged files when the last load had no errors and none of
                // its jobs was shadowed by an API job: then they are exactly what those files give.
                let fileJobCount = await scheduler.fileJobCount()
                let fileJobs =
                    !cache.lastLoadHadErrors && fileJobCount == cache.jobCount ? await scheduler.fileJobs() : nil
                let directory = JobDirectory.load(
                    path, kinds: kinds, cache: cache, current: fileJobs, definitions: definitions)
                for error in directory.errors {
                    logger.error(
                        "job file problem",
                        metadata: ["file": "\(error.file)", "line": "\(error.line)", "problem": "\(error.message)"])
                }
                guard directory.isComplete else {
                    // An unreadable directory is not an empty one: removing every file job would be wrong.
                    logger.error(
                        "jobs.d could not be read completely; keeping the current jobs and trying again",
                        metadata: ["reason": "\(reason)", "path": "\(path)"])
                    continue
                }
                fingerprint = current
                await scheduler.replaceJobs(directory.jobs)
                logger.info(
                    "jobs reloaded",
                    metadata: [
                        "reason": "\(reason)", "jobs": "\(directory.jobs.count)", "errors": "\(directory.errors.count)",
                        "files_read": "\(directory.filesRead)",
                    ])
            }
            group.cancelAll()
        }
    }

    /// Names, sizes and modification times of the directory's job files.
    static func fingerprint(of path: String) -> [String] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter {
            $0.hasSuffix(".toml")
        }.sorted()
        return names.map { name in
            let attributes = try? FileManager.default.attributesOfItem(
                atPath: (path as NSString).appendingPathComponent(name))
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(name)|\(size)|\(modified)"
        }
    }
}
