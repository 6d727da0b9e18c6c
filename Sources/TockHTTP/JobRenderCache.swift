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
            self.init(
                status.job, paused: status.paused, blocked: status.blocked, revision: status.revision,
                reusing: previous, from: previousBytes, into: &bytes)
        }

        /// The entry of `job`, lent (not copied).
        init(
            _ job: borrowing Job, paused: Bool, blocked: Bool, revision: Int, reusing previous: Entry? = nil,
            from previousBytes: [UInt8] = [], into bytes: inout [UInt8]
        ) {
            id = job.id
            tags = job.tags
            enabled = job.enabled
            self.paused = paused
            self.blocked = blocked
            alertAfterFailures = job.alertAfterFailures
            dependent = !job.after.isEmpty
            self.revision = revision
            let start = UInt32(bytes.count)
            if let previous, previous.revision == revision, previous.paused == paused {
                texts = previous.texts
                bytes.append(
                    contentsOf: previousBytes[Int(previous.haystack.lowerBound)..<Int(previous.haystack.upperBound)])
            } else if Self.appendHaystack(of: job, to: &bytes) {
                texts = nil
            } else {
                texts = Self.texts(of: job)
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

        /// What a search looks in: the id, name, description, schedule, `pub_args` and tags.
        static func texts(of job: borrowing Job) -> [String] {
            var texts: [String] = []
            forEachText(of: job) { texts.append($0) }
            return texts
        }

        /// Each of ``texts(of:)`` in turn, without an array of them (made for each of 100,000 jobs in a build).
        static func forEachText(of job: borrowing Job, _ body: (String) -> Void) {
            body(job.id)
            body(job.name)
            body(job.description)
            body(job.schedule)
            // `pub_args` as rendered (``Render/pubArgs(_:)``).
            switch job.action {
            case .command(let command, let shell):
                body(shell)
                body("-c")
                body(command)
            case .exec(let argv): for argument in argv { body(argument) }
            case .custom: break
            }
            for tag in job.tags { body(tag) }
        }

        /// Appends the job's texts lowercased, each followed by a 0 byte; appends nothing and returns false when
        /// one is not plain ASCII.
        static func appendHaystack(of job: borrowing Job, to bytes: inout [UInt8]) -> Bool {
            let start = bytes.count
            var ascii = true
            forEachText(of: job) { text in
                if ascii { ascii = appendLowercased(text, to: &bytes) }
            }
            if !ascii { bytes.removeSubrange(start...) }
            return ascii
        }

        /// Appends `text` lowercased and a 0 byte, or returns false (the bytes appended are then to be removed by
        /// the caller) when it is not plain ASCII without 0 bytes.
        private static func appendLowercased(_ text: String, to bytes: inout [UInt8]) -> Bool {
            var text = text
            return text.withUTF8 { utf8 in
                let from = bytes.count
                bytes.append(contentsOf: utf8)
                bytes.append(0)
                return bytes.withUnsafeMutableBufferPointer { all in
                    for n in from..<all.count - 1 {
                        let byte = all[n]
                        guard byte < 0x80, byte != 0 else { return false }
                        if byte &- 0x41 < 26 { all[n] = byte | 0x20 }
                    }
                    return true
                }
            }
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
        var wholeHealthBuild: Task<HealthView, any Error>?
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

    /// The making of a whole health view under way, if one is.
    var wholeHealthBuild: Task<HealthView, any Error>? { state.withLock { $0.wholeHealthBuild } }

    /// A whole health view made by `build`, shown to others as under way meanwhile.
    func buildWholeHealth(_ build: @escaping @Sendable () async throws -> HealthView) async throws -> HealthView {
        let task = Task { try await build() }
        state.withLock { $0.wholeHealthBuild = task }
        defer {
            state.withLock { state in
                if state.wholeHealthBuild == task { state.wholeHealthBuild = nil }
            }
        }
        return try await task.value
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
    /// Makes what job lists need — the index of the catalog and every job's health — before anyone asks, so that
    /// no list request pays for it (~0.3 s at 100,000 jobs and 10,000,000 executions): once start-up has read the
    /// store (which jobs are paused, the dependencies), while it schedules every job — which holds the scheduler's
    /// actor but leaves the other core free — from its snapshot of the catalog; then brought up to date with what
    /// that scheduling did (runs started, instants missed). Gives up after a minute without a start (a store that
    /// cannot be read): the first request makes them then.
    public func prepareJobLists() async {
        let lists = JobsController<TockRequestContext>(api: self)
        for _ in 0..<12_000 where !Task.isCancelled && scheduler.catalogDuringStart == nil && !scheduler.hasStarted {
            try? await Task.sleep(for: .milliseconds(5))
        }
        guard !Task.isCancelled && (scheduler.hasStarted || scheduler.catalogDuringStart != nil) else { return }
        // The store read for every job's health while the index is built.
        let index = Task { try await lists.index() }
        _ = try? await cache.buildWholeHealth { try await lists.wholeHealthView(index: { try await index.value }) }
        while !Task.isCancelled && scheduler.catalogDuringStart != nil {
            try? await Task.sleep(for: .milliseconds(5))
        }
        // Then both brought up to date with what the start did meanwhile.
        if let index = try? await lists.index() { _ = try? await lists.healthView(index) }
        // The start-up's garbage (parsing or decoding jobs.d, scheduling, these builds) goes back to the system.
        SystemMemory.releaseFreedMemory()
    }
}
