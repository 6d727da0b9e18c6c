import Foundation
import Hummingbird
import NIOCore
import Synchronization
import TockCore
import TockJSON

/// What job lists keep between requests, bounded whatever the number of jobs:
///
/// - an ``Index`` of the catalog (every job sorted by id, with what search needs), kept until the scheduler's
///   catalog version moves (a job added, changed, removed, paused or resumed; not a run);
/// - rendered jobs, at most ``itemCapacity`` of them, each kept until its revision moves (a run starting or ending
///   moves it too) — a page renders only its own jobs, reading their last 20 executions;
/// - the ids of the jobs whose last result is a failure (one store read), kept while the scheduler's version
///   stays;
/// - the whole unfiltered list as one buffer, while the version stays, if it is at most ``fullListCapacity`` bytes.
///
/// One build of each runs at a time (concurrent requests wait for it instead of repeating it).
final class JobRenderCache: Sendable {
    /// Rendered jobs kept at most (~1.4 KB each, twice for a job with `env`): ~1.5 MB, twenty pages of 50. (4,096
    /// held ~6 MB once the API had been used at 100,000 jobs; a page not kept renders within the lists' 20 ms.)
    static let itemCapacity = 1024
    /// The largest whole-list answer kept (a list of ~10,000 jobs).
    static let fullListCapacity = 16 << 20

    /// A job as searches and counts see it: a few fields, not the whole `Job` (100,000 of those would be ~54 MB).
    struct Entry: Sendable {
        let id: String
        let tags: [String]
        let enabled: Bool
        let paused: Bool
        /// Why the job cannot run by its dependencies, if so (its health is then at least `blocked`).
        let blocked: Bool
        /// `alert_after_failures`: the job is `down` after that many failing runs in a row.
        let alertAfterFailures: Int?
        /// The job has `after`.
        let dependent: Bool
        /// The job's revision when this was made: an entry is reused while it stays.
        let revision: Int
        /// Where the job's searchable texts are in the index's ``Index/haystacks``: lowercased, each followed by a
        /// 0 byte (a match never spans two); empty when one of them is not ASCII (those jobs are searched as
        /// Strings, as Swift compares them, in `texts`). One buffer for every job: an array each was ~100 bytes a
        /// job, half of it headers.
        private(set) var haystack: Range<UInt32>
        let texts: [String]?

        /// The entry of `status`, its search bytes appended to `bytes`; those of `previous` (in `previousBytes`)
        /// are copied when the job has not changed since.
        init(
            _ status: Scheduler.CatalogEntry, reusing previous: Entry?, from previousBytes: [UInt8],
            into bytes: inout [UInt8]
        ) {
            let job = status.job
            id = job.id
            tags = job.tags
            enabled = job.enabled
            paused = status.paused
            blocked = status.blocked
            alertAfterFailures = job.alertAfterFailures
            dependent = !job.after.isEmpty
            revision = status.revision
            let start = UInt32(bytes.count)
            if let previous, previous.revision == status.revision, previous.paused == status.paused {
                texts = previous.texts
                bytes.append(
                    contentsOf: previousBytes[Int(previous.haystack.lowerBound)..<Int(previous.haystack.upperBound)])
            } else {
                let all = Self.texts(of: job)
                texts = Self.appendHaystack(of: all, to: &bytes) ? nil : all
            }
            haystack = start..<UInt32(bytes.count)
        }

        /// This entry with its search bytes at `start` of another buffer.
        func moved(to start: UInt32) -> Entry {
            var entry = self
            entry.haystack = start..<start + UInt32(haystack.count)
            return entry
        }

        /// Whether `needle` (not empty) occurs in `haystack`.
        static func contains(_ h: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
            guard let first = needle.first, needle.count <= h.count else { return needle.isEmpty }
            return needle.withUnsafeBufferPointer { n in
                var i = 0
                let last = h.count - n.count
                while i <= last {
                    if h[i] == first {
                        var k = 1
                        while k < n.count && h[i + k] == n[k] { k += 1 }
                        if k == n.count { return true }
                    }
                    i += 1
                }
                return false
            }
        }

        static func texts(of job: Job) -> [String] {
            [job.id, job.name, job.description, job.schedule] + Render.pubArgs(job) + job.tags
        }

        /// Appends the texts lowercased, each followed by a 0 byte; appends nothing and returns false when one is
        /// not plain ASCII.
        static func appendHaystack(of texts: [String], to bytes: inout [UInt8]) -> Bool {
            let start = bytes.count
            for text in texts {
                for byte in text.utf8 {
                    guard byte < 0x80, byte != 0 else {
                        bytes.removeSubrange(start...)
                        return false
                    }
                    bytes.append(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte)
                }
                bytes.append(0)
            }
            return true
        }

        /// Whether `text` (lowercased) is in one of the job's texts, as `String.contains` says; `haystacks` is the
        /// index's buffer.
        func matches(_ text: String, ascii: [UInt8]?, in haystacks: UnsafeBufferPointer<UInt8>) -> Bool {
            if let texts { return texts.contains { $0.lowercased().contains(text) } }
            let own = UnsafeBufferPointer(rebasing: haystacks[Int(haystack.lowerBound)..<Int(haystack.upperBound)])
            if let ascii { return Self.contains(own, ascii) }
            // A query that is not plain ASCII, on texts that are: lowercased ASCII is the haystack itself.
            return own.split(separator: 0, omittingEmptySubsequences: false).contains {
                String(decoding: $0, as: UTF8.self).contains(text)
            }
        }
    }

    /// Built once, then patched as jobs change (`JobListIndex.swift`).
    struct Index: Sendable {
        let version: Int
        /// Sorted by id.
        let entries: [Entry]
        let active: Int
        let paused: Int
        /// Per tag, the ids of the jobs with it, sorted (a tag's page without other filters is a slice of it).
        let tagged: [String: [String]]
        /// How many jobs have `after`.
        let dependents: Int
        /// Every entry's search bytes (see ``Entry/haystack``).
        let haystacks: [UInt8]

        /// The texts an entry is searched in, as one string (for tests and logs).
        func searchText(of entry: Entry) -> String {
            if let texts = entry.texts { return "\(texts)" }
            return String(
                decoding: haystacks[Int(entry.haystack.lowerBound)..<Int(entry.haystack.upperBound)], as: UTF8.self)
        }
    }

    struct Item: Sendable {
        let revision: Int
        /// The job's tags, for callers limited to some.
        let tags: [String]
        let bytes: [UInt8]
        /// With `env` values hidden (for callers who are not admins); nil when the job has no `env`.
        let redactedBytes: [UInt8]?

        func bytes(redacted: Bool) -> [UInt8] { redacted ? redactedBytes ?? bytes : bytes }
    }

    private struct State {
        var index: Index?
        var indexBuild: (version: Int, task: Task<Index, any Error>)?
        var items: [String: Item] = [:]
        /// Ids in the order they were kept: the oldest goes first when full.
        var order: [String] = []
        var orderStart = 0
        var health: HealthView?
        var fullList: (version: Int, redacted: Bool, body: ByteBuffer)?
    }

    private let state = Mutex(State())

    /// The index of catalog `version` if it is kept (no task, no suspension: the path of most requests).
    func keptIndex(version: Int) -> Index? {
        state.withLock { state in
            guard let index = state.index, index.version >= version else { return nil }
            return index
        }
    }

    /// The index of catalog `version`, built by `build` (given the previous index) unless kept or being built.
    func index(version: Int, build: @escaping @Sendable (Index?) async throws -> Index) async throws -> Index {
        let task: Task<Index, any Error> = state.withLock { state in
            if let index = state.index, index.version >= version { return Task { index } }
            if let inFlight = state.indexBuild, inFlight.version >= version { return inFlight.task }
            let previous = state.index
            let task = Task { try await build(previous) }
            state.indexBuild = (version, task)
            return task
        }
        do {
            let index = try await task.value
            state.withLock { state in
                if index.version >= state.index?.version ?? Int.min { state.index = index }
                if state.indexBuild?.version == version { state.indexBuild = nil }
            }
            return index
        } catch {
            state.withLock { state in
                if state.indexBuild?.version == version { state.indexBuild = nil }
            }
            throw error
        }
    }

    func item(_ id: String, revision: Int) -> Item? {
        state.withLock { state in
            guard let item = state.items[id], item.revision == revision else { return nil }
            return item
        }
    }

    func keep(_ id: String, _ item: Item) {
        state.withLock { state in
            if state.items.updateValue(item, forKey: id) != nil { return }
            state.order.append(id)
            while state.items.count > Self.itemCapacity, state.orderStart < state.order.count {
                state.items[state.order[state.orderStart]] = nil
                state.orderStart += 1
            }
            // The order's dropped front is reclaimed now and then.
            if state.orderStart > Self.itemCapacity {
                state.order.removeFirst(state.orderStart)
                state.orderStart = 0
            }
        }
    }

    /// The health view kept (of whichever version: a newer one is brought up to date from it).
    var health: HealthView? { state.withLock { $0.health } }

    func keepHealth(_ view: HealthView) {
        state.withLock { state in
            if view.noteVersion >= state.health?.noteVersion ?? Int.min { state.health = view }
        }
    }

    func fullList(version: Int, redacted: Bool) -> ByteBuffer? {
        state.withLock { state in
            guard let kept = state.fullList, kept.version == version, kept.redacted == redacted else { return nil }
            return kept.body
        }
    }

    func keepFullList(_ body: ByteBuffer, version: Int, redacted: Bool) {
        guard body.readableBytes <= Self.fullListCapacity else { return }
        state.withLock { $0.fullList = (version, redacted, body) }
    }

    /// How many rendered jobs are kept (for tests).
    var keptItems: Int { state.withLock { $0.items.count } }
}

extension TockAPI {
    /// Builds the job lists' index once the scheduler has started (its catalog is then complete), so that the first
    /// list request after a start does not pay for it (~1 s at 100,000 jobs). Gives up after a minute without a
    /// start (a store that cannot be read): the first request builds it then.
    public func prepareJobLists() async {
        for _ in 0..<3000 where !Task.isCancelled && !scheduler.hasStarted {
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard !Task.isCancelled && scheduler.hasStarted else { return }
        _ = try? await JobsController<TockRequestContext>(api: self).index()
        // The start-up's garbage (parsing or decoding jobs.d, scheduling, this build) goes back to the system.
        SystemMemory.releaseFreedMemory()
    }
}
