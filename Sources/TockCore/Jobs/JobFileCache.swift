import Foundation
import Synchronization

#if canImport(SwiftOverlayShims)
    import SwiftOverlayShims
#endif

/// What a reload of jobs.d remembers of the files it read: each file's identity (device, inode, size, modification
/// and change times in nanoseconds) and, while the jobs kept stay few, what parsing it gave. A reload then reads
/// again only the files whose identity moved; a reload where none did needs no parsing at all.
///
/// A file is believed unchanged only if it had not been modified in the second before it was read: file times
/// come from a coarse clock, and a file written twice within one tick keeps its time (git's "racily clean" rule).
public final class JobFileCache: Sendable {
    struct Signature: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: Int64
        var changed: Int64

        init(device: UInt64, inode: UInt64, size: Int64, modified: Int64, changed: Int64) {
            self.device = device
            self.inode = inode
            self.size = size
            self.modified = modified
            self.changed = changed
        }

        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            changed = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
        }
    }

    struct Entry: Sendable {
        let signature: Signature
        /// Not modified in the second before it was read: an equal signature later means the same content.
        let trusted: Bool
        /// What parsing gave; `nil` once more than ``maxJobs`` jobs are kept.
        let parsed: (jobs: [Job], errors: [JobFileError])?
        let hadErrors: Bool
    }

    /// Jobs kept at most (a `Job` is ~0.5 KB: 20,000 are ~10 MB). Past that only the signatures are kept: a change
    /// to one file then reads them all again, and a reload with no change still parses nothing.
    public let maxJobs: Int
    private let entries = Mutex<[String: Entry]>([:])
    /// The last load had errors (in a file, or an id defined twice): a reload must read and report them again.
    private let lastHadErrors = Mutex(false)
    private let lastJobCount = Mutex(0)

    /// How many jobs the last load gave.
    public var jobCount: Int { lastJobCount.withLock { $0 } }

    public init(maxJobs: Int = 20_000) { self.maxJobs = maxJobs }

    /// Whether no load has been remembered yet.
    var isEmpty: Bool { entries.withLock { $0.isEmpty } }

    /// Whether the last load had errors.
    public var lastLoadHadErrors: Bool { lastHadErrors.withLock { $0 } }

    /// Whether `path` is known, unchanged since it was read and had no errors.
    func isUnchanged(_ path: String, _ signature: Signature?) -> Bool {
        guard let signature else { return false }
        return entries.withLock { entries in
            guard let entry = entries[path] else { return false }
            return entry.trusted && !entry.hadErrors && entry.signature == signature
        }
    }

    /// What parsing `path` gave, if it is known and the file has not changed since.
    func parsed(_ path: String, _ signature: Signature?) -> (jobs: [Job], errors: [JobFileError])? {
        guard let signature else { return nil }
        return entries.withLock { entries in
            guard let entry = entries[path], entry.trusted, entry.signature == signature else { return nil }
            return entry.parsed
        }
    }

    /// Replaces what is known by the files of one load (files no longer there are forgotten).
    func remember(
        _ files: [(path: String, signature: Signature?, readAt: Date, parsed: (jobs: [Job], errors: [JobFileError]))],
        hadErrors: Bool, jobCount: Int
    ) {
        lastHadErrors.withLock { $0 = hadErrors }
        lastJobCount.withLock { $0 = jobCount }
        let keepJobs = files.reduce(0) { $0 + $1.parsed.jobs.count } <= maxJobs
        var fresh: [String: Entry] = [:]
        for file in files {
            guard let signature = file.signature else { continue }
            let modified = Double(signature.modified) / 1e9
            fresh[file.path] = Entry(
                signature: signature, trusted: modified < file.readAt.timeIntervalSince1970 - 1,
                parsed: keepJobs ? file.parsed : nil, hadErrors: !file.parsed.errors.isEmpty)
        }
        entries.withLock { $0 = fresh }
    }

    /// Whether jobs.d holds exactly the files last loaded, none changed since and none with errors: a reload would
    /// give the same jobs. Costs one `stat` per file.
    public func isUnchanged(directory path: String) -> Bool {
        guard !lastHadErrors.withLock({ $0 }),
            let listing = try? FileManager.default.contentsOfDirectory(atPath: path)
        else { return false }
        let names = listing.filter { $0.hasSuffix(".toml") && !$0.hasPrefix(".") }
        return entries.withLock { entries in
            guard !entries.isEmpty, names.count == entries.count else { return false }
            for name in names {
                let file = (path as NSString).appendingPathComponent(name)
                guard let entry = entries[file], entry.trusted, !entry.hadErrors,
                    Signature(path: file) == entry.signature
                else { return false }
            }
            return true
        }
    }
}
