import CronKit
import Foundation
import Synchronization

/// What jobs.d's files gave when they were last parsed, kept in a file in the data directory, so that a start with
/// unchanged job files decodes their jobs instead of parsing their TOML (100,000 jobs: most of a start-up).
///
/// A file's jobs are taken from the cache only when its identity (device, inode, size, modification and change
/// times to the nanosecond) is the one recorded, and it had not been modified in the second before it was read
/// (``JobFileCache``'s rule); a file that had errors is never kept, so its errors are found and reported again. The
/// cache is ignored whole when it is from another executable (its size and modification time), another format,
/// another jobs.d path or other registered kinds, or when it is damaged (a checksum over it).
public struct JobDefinitionCacheFile: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// The cache of a data directory.
    public init(dataDirectory: String) {
        path = (dataDirectory as NSString).appendingPathComponent("jobs.d.cache")
    }

    struct Entry: Sendable {
        let signature: JobFileCache.Signature
        let jobs: [Job]
    }

    /// A file to keep: its identity when read, and its jobs.
    struct File: Sendable {
        let path: String
        let signature: JobFileCache.Signature
        let jobs: [Job]
    }

    static let magic = Array("TOCKJDC1".utf8)
    /// Writes go one at a time, off the caller's path.
    static let writer = DispatchQueue(label: "tock.job-definition-cache")

    /// What makes a cache usable by this process: the format, `Job`'s fields, this executable, the kinds.
    static func identity(directory: String, kinds: Set<String>) -> String {
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let attributes = try? FileManager.default.attributesOfItem(atPath: binary)
        let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
        let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let executable = "\(binary):\(size):\(modified)"
        return "1|\(JobBinaryCodec.jobFields.joined(separator: ","))|\(executable)|\(kinds.sorted())|\(directory)"
    }

    /// The files kept for `directory`, by path; empty when there is no usable cache.
    func read(directory: String, kinds: Set<String>) -> [String: Entry] {
        guard let data = FileManager.default.contents(atPath: path), data.count > Self.magic.count + 8 else {
            return [:]
        }
        let identity = Self.identity(directory: directory, kinds: kinds)
        let body = Self.magic.count..<data.count - 8
        let valid = data.withUnsafeBytes { raw -> Bool in
            guard Array(raw.prefix(Self.magic.count)) == Self.magic else { return false }
            var stored: UInt64 = 0
            withUnsafeMutableBytes(of: &stored) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw.suffix(8))) }
            return UInt64(littleEndian: stored) == Self.checksum(UnsafeRawBufferPointer(rebasing: raw[body]))
        }
        guard valid else { return [:] }
        return (try? Self.decode(data, body: body, identity: identity)) ?? [:]
    }

    private static func decode(_ data: Data, body: Range<Int>, identity: String) throws -> [String: Entry] {
        typealias Block = (path: String, signature: JobFileCache.Signature, range: Range<Int>, jobs: Int)
        let blocks = try data.withUnsafeBytes { raw -> [Block] in
            var reader = JobBinaryCodec.Reader(UnsafeRawBufferPointer(rebasing: raw[..<body.upperBound]))
            reader.offset = body.lowerBound
            guard try reader.string() == identity else { return [] }
            let count = try reader.count()
            // Each file's jobs are a block of known length: the blocks are decoded on every core.
            var blocks: [Block] = []
            for _ in 0..<count {
                let path = try reader.string()
                let signature = JobFileCache.Signature(
                    device: UInt64(bitPattern: try reader.int64()), inode: UInt64(bitPattern: try reader.int64()),
                    size: try reader.int64(), modified: try reader.int64(), changed: try reader.int64())
                let jobs = try reader.count()
                let length = try reader.count()
                blocks.append((path, signature, reader.offset..<reader.offset + length, jobs))
                reader.offset += length
            }
            guard reader.atEnd else { throw JobBinaryCodec.Corrupt() }
            return blocks
        }
        let decoded = Mutex([[Job]?](repeating: nil, count: blocks.count))
        DispatchQueue.concurrentPerform(iterations: blocks.count) { n in
            let block = blocks[n]
            let jobs = data.withUnsafeBytes { raw -> [Job]? in
                var reader = JobBinaryCodec.Reader(UnsafeRawBufferPointer(rebasing: raw[..<block.range.upperBound]))
                reader.offset = block.range.lowerBound
                var jobs: [Job] = []
                jobs.reserveCapacity(block.jobs)
                for _ in 0..<block.jobs {
                    guard var job = try? reader.job() else { return nil }
                    // Every job of a file has that file as its source: one string for all of them.
                    if case .file(let path, let line) = job.source, path == block.path {
                        job.source = .file(path: block.path, line: line)
                    }
                    // A zone this system no longer knows is an error a parse would report: such a file is parsed.
                    if let zone = job.timezone, ZoneRules.rules(forIdentifier: zone) == nil { return nil }
                    jobs.append(job)
                }
                return reader.atEnd ? jobs : nil
            }
            decoded.withLock { $0[n] = jobs }
        }
        let jobs = decoded.withLock { $0 }
        var entries: [String: Entry] = [:]
        for (block, jobs) in zip(blocks, jobs) {
            if let jobs { entries[block.path] = Entry(signature: block.signature, jobs: jobs) }
        }
        return entries
    }

    /// Replaces the cache by `files` (written in the background, to a temporary file renamed over it).
    func write(directory: String, kinds: Set<String>, files: [File]) {
        let identity = Self.identity(directory: directory, kinds: kinds)
        let path = path
        Self.writer.async {
            // On a thread of low priority: it is the next start's shortcut, while a start that parsed jobs.d is
            // still scheduling every job and making the job lists (the cores go to those first).
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                // Linux: `PRIO_PROCESS` with 0 is the calling thread alone.
                setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
                Self.write(identity: identity, files: files, to: path)
                done.signal()
            }
            thread.start()
            done.wait()
        }
    }

    /// One buffer for the whole file, written as it is (a `Data` copy of it, and a block per file appended, held
    /// ~4 times the file's size at once: ~60 MB for the 15 MB of 100,000 jobs).
    private static func write(identity: String, files: [File], to path: String) {
        var writer = JobBinaryCodec.Writer()
        writer.bytes = Self.magic
        writer.string(identity)
        writer.int(files.count)
        var block = JobBinaryCodec.Writer()
        for file in files {
            writer.string(file.path)
            writer.int(Int64(bitPattern: file.signature.device))
            writer.int(Int64(bitPattern: file.signature.inode))
            writer.int(file.signature.size)
            writer.int(file.signature.modified)
            writer.int(file.signature.changed)
            writer.int(file.jobs.count)
            block.bytes.removeAll(keepingCapacity: true)
            for job in file.jobs { block.job(job) }
            writer.int(block.bytes.count)
            writer.bytes.append(contentsOf: block.bytes)
        }
        let sum = writer.bytes[Self.magic.count...].withUnsafeBytes { Self.checksum($0) }.littleEndian
        withUnsafeBytes(of: sum) { writer.bytes.append(contentsOf: $0) }
        let temporary = path + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        // A temporary file left by a crash keeps its mode through O_TRUNC: the mode set again.
        fchmod(fd, 0o600)
        let written = writer.bytes.withUnsafeBytes { all in
            var offset = 0
            while offset < all.count {
                let n = Glibc.write(fd, all.baseAddress! + offset, all.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                offset += n
            }
            return true
        }
        close(fd)
        if !written || rename(temporary, path) != 0 { unlink(temporary) }
    }

    /// Waits for the writes asked for so far.
    public static func waitForWrites() { writer.sync {} }

    /// FNV-1a over 8 bytes at a time (a damaged file, not an attacker: the data directory is the daemon's own).
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var offset = 0
        while offset + 8 <= bytes.count {
            hash = (hash ^ bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x100_0000_01b3
            offset += 8
        }
        while offset < bytes.count {
            hash = (hash ^ UInt64(bytes[offset])) &* 0x100_0000_01b3
            offset += 1
        }
        return hash
    }
}
