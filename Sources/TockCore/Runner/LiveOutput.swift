import Foundation
import Synchronization

/// The output of running executions as it is written, for live tails (the API's server-sent events).
///
/// The scheduler opens an entry when a run starts, appends every chunk the runner reports, and finishes it with
/// the final record when the run ends. A subscriber gets what was written so far, then each new chunk, then the
/// end. A finished entry keeps only its final record (whose output is the captured one, as stored) for a few
/// seconds — at most ``keepFinished`` of them — so that a tail opened just as a run ends, before the store has
/// the record, still sees its end; after that the store answers.
public final class LiveOutputHub: Sendable {
    /// What a subscriber receives.
    public enum Event: Sendable {
        case output(OutputChunk)
        /// The follower read too slowly: this many bytes of the stream were not kept for it (the oldest first).
        case dropped(OutputChunk.Stream, bytes: Int)
        /// The run ended (the record carries no output: the follower has had it; the store has all of it).
        case end(ExecutionRecord)
    }

    /// Bytes replayed per stream to late subscribers (the most recent ones).
    public let replayLimit: Int
    /// Bytes buffered per follower that is not reading: beyond it the oldest are dropped (and counted).
    public let followerLimit: Int
    public let keepFinished: Int
    /// How long a finished entry is kept (the store has the record well before).
    public let keepFinishedFor: TimeInterval

    private struct Entry {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var subscribers: [Int: LiveFollower] = [:]
        var final: ExecutionRecord?
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var finishedOrder: [(id: String, at: Date)] = []
        var nextSubscriber = 0
    }

    private let state = Mutex(State())

    /// The time, for how long finished entries are kept (the scheduler passes its clock's).
    let now: @Sendable () -> Date

    public init(
        replayLimit: Int = 1 << 20, followerLimit: Int = 1 << 20, keepFinished: Int = 32,
        keepFinishedFor: TimeInterval = 10, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.now = now
        self.replayLimit = replayLimit
        self.followerLimit = followerLimit
        self.keepFinished = keepFinished
        self.keepFinishedFor = keepFinishedFor
    }

    public func open(_ executionID: String) {
        state.withLock { $0.entries[executionID] = $0.entries[executionID] ?? Entry() }
    }

    public func append(_ executionID: String, _ chunk: OutputChunk) {
        let subscribers: [LiveFollower] = state.withLock { state in
            guard var entry = state.entries[executionID], entry.final == nil else { return [] }
            state.entries[executionID] = nil  // avoid a copy of the buffers while mutating
            switch chunk.stream {
            case .stdout: entry.stdout += chunk.bytes
            case .stderr: entry.stderr += chunk.bytes
            }
            // Trimmed only once twice the limit is reached: this runs on the runner's monitor thread for every
            // chunk, and moving a mebibyte per chunk would hold up every other run's output and exits.
            Self.trim(&entry.stdout, to: replayLimit)
            Self.trim(&entry.stderr, to: replayLimit)
            let subscribers = Array(entry.subscribers.values)
            state.entries[executionID] = entry
            return subscribers
        }
        for subscriber in subscribers { subscriber.push(chunk) }
    }

    private static func trim(_ buffer: inout [UInt8], to limit: Int) {
        if buffer.count > 2 * limit { buffer.removeFirst(buffer.count - limit) }
    }

    /// The last `replayLimit` bytes of a live buffer.
    private func tail(_ buffer: [UInt8]) -> [UInt8] {
        buffer.count > replayLimit ? Array(buffer.suffix(replayLimit)) : buffer
    }

    /// Ends an execution's live output with its final record.
    public func finish(_ record: ExecutionRecord) {
        let subscribers: [LiveFollower] = state.withLock { state in
            guard var entry = state.entries[record.id] else { return [] }
            entry.final = record
            // The live buffers go: a late subscriber replays the record's own (captured) output.
            entry.stdout = []
            entry.stderr = []
            let subscribers = Array(entry.subscribers.values)
            entry.subscribers = [:]
            state.entries[record.id] = entry
            let now = self.now()
            state.finishedOrder.append((record.id, now))
            while let oldest = state.finishedOrder.first,
                state.finishedOrder.count > keepFinished || now.timeIntervalSince(oldest.at) > keepFinishedFor
            {
                state.finishedOrder.removeFirst()
                state.entries[oldest.id] = nil
            }
            return subscribers
        }
        var ending = record
        ending.stdout = []
        ending.stderr = []
        for subscriber in subscribers { subscriber.end(ending) }
    }

    /// Drops the finished entries of these executions (the store has their records now).
    public func forget(_ executionIDs: some Sequence<String>) {
        state.withLock { state in
            var dropped = false
            for id in executionIDs where state.entries[id]?.final != nil {
                state.entries[id] = nil
                dropped = true
            }
            if dropped { state.finishedOrder.removeAll { state.entries[$0.id] == nil } }
        }
    }

    /// Whether the execution is running here (its output is live).
    public func isLive(_ executionID: String) -> Bool {
        state.withLock { $0.entries[executionID].map { $0.final == nil } ?? false }
    }

    /// The output written so far by a running execution (or one that just ended), or `nil` if not known here.
    public func snapshot(_ executionID: String) -> (stdout: [UInt8], stderr: [UInt8], final: ExecutionRecord?)? {
        state.withLock { state in
            state.entries[executionID].map { entry in
                entry.final.map { ($0.stdout, $0.stderr, $0) } ?? (tail(entry.stdout), tail(entry.stderr), nil)
            }
        }
    }

    /// Executions followed live right now, and finished ones still kept (for tests and diagnostics).
    public var entryCount: Int { state.withLock { $0.entries.count } }

    /// Follows an execution: first its output so far, then new chunks, then its end. `nil` when the execution is
    /// not known here (not running, or ended long ago: read it from the store).
    ///
    /// A follower that does not read holds at most ``followerLimit`` bytes: older chunks are dropped and the
    /// follower is told how many bytes it missed (``Event/dropped(_:bytes:)``). Close it when done.
    public func subscribe(_ executionID: String) -> LiveFollower? {
        let follower = LiveFollower(limit: followerLimit)
        let found: Bool = state.withLock { state in
            guard var entry = state.entries[executionID] else { return false }
            if let final = entry.final {
                if !final.stdout.isEmpty { follower.push(OutputChunk(stream: .stdout, bytes: final.stdout)) }
                if !final.stderr.isEmpty { follower.push(OutputChunk(stream: .stderr, bytes: final.stderr)) }
                var ending = final
                ending.stdout = []
                ending.stderr = []
                follower.end(ending)
                return true
            }
            if !entry.stdout.isEmpty { follower.push(OutputChunk(stream: .stdout, bytes: tail(entry.stdout))) }
            if !entry.stderr.isEmpty { follower.push(OutputChunk(stream: .stderr, bytes: tail(entry.stderr))) }
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            entry.subscribers[id] = follower
            state.entries[executionID] = entry
            follower.onClose = { [weak self] in
                self?.state.withLock { state in _ = state.entries[executionID]?.subscribers.removeValue(forKey: id) }
            }
            return true
        }
        return found ? follower : nil
    }
}

/// One reader of an execution's live output, with a bounded buffer: a client that stops reading costs the
/// daemon at most `limit` bytes, however much the job writes.
public final class LiveFollower: AsyncSequence, Sendable {
    public typealias Element = LiveOutputHub.Event

    private struct State {
        var chunks: [OutputChunk] = []
        var head = 0
        var bufferedBytes = 0
        var dropped: [OutputChunk.Stream: Int] = [:]
        var end: ExecutionRecord?
        var done = false
        /// No end will come: the sequence ends when the buffer is empty.
        var endless = false
        var waiter: CheckedContinuation<LiveOutputHub.Event??, Never>?
        var hasPending: Bool { head < chunks.count || end != nil || !dropped.isEmpty }
        var onClose: (@Sendable () -> Void)?
    }

    public let limit: Int
    private let state = Mutex(State())

    init(limit: Int) { self.limit = Swift.max(1, limit) }

    /// The events of a run known only from the store: its captured output, then its end if it is final.
    public static func replay(of record: ExecutionRecord) -> LiveFollower {
        let follower = LiveFollower(limit: Int.max / 2)
        if !record.stdout.isEmpty { follower.push(OutputChunk(stream: .stdout, bytes: record.stdout)) }
        if !record.stderr.isEmpty { follower.push(OutputChunk(stream: .stderr, bytes: record.stderr)) }
        if record.state.isFinal {
            var ending = record
            ending.stdout = []
            ending.stderr = []
            follower.end(ending)
        } else {
            follower.finishAfterBuffered()
        }
        return follower
    }

    /// Ends the sequence once what is buffered has been read (a replay without an end).
    private func finishAfterBuffered() { state.withLock { $0.endless = true } }

    deinit { state.withLock { $0.onClose }?() }

    var onClose: (@Sendable () -> Void)? {
        get { state.withLock { $0.onClose } }
        set { state.withLock { $0.onClose = newValue } }
    }

    /// Bytes waiting to be read (for tests and diagnostics).
    public var bufferedBytes: Int { state.withLock { $0.bufferedBytes } }

    func push(_ chunk: OutputChunk) {
        let waiter: CheckedContinuation<LiveOutputHub.Event??, Never>? = state.withLock { state in
            guard !state.done, state.end == nil else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.chunks.append(chunk)
            state.bufferedBytes += chunk.bytes.count
            // Over the limit: the oldest go, counted per stream (a chunk larger than the limit keeps its tail).
            while state.bufferedBytes > limit, state.head < state.chunks.count {
                let oldest = state.chunks[state.head]
                let excess = state.bufferedBytes - limit
                if oldest.bytes.count > excess && state.head == state.chunks.count - 1 {
                    state.chunks[state.head] = OutputChunk(
                        stream: oldest.stream, bytes: Array(oldest.bytes.dropFirst(excess)))
                    state.dropped[oldest.stream, default: 0] += excess
                    state.bufferedBytes -= excess
                } else {
                    state.head += 1
                    state.dropped[oldest.stream, default: 0] += oldest.bytes.count
                    state.bufferedBytes -= oldest.bytes.count
                }
            }
            if state.head > 64 && state.head * 2 > state.chunks.count {
                state.chunks.removeFirst(state.head)
                state.head = 0
            }
            return nil
        }
        waiter?.resume(returning: .some(.output(chunk)))
    }

    func end(_ record: ExecutionRecord) {
        let waiter: CheckedContinuation<LiveOutputHub.Event??, Never>? = state.withLock { state in
            guard !state.done, state.end == nil else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                state.done = true
                return waiter
            }
            state.end = record
            return nil
        }
        waiter?.resume(returning: .some(.end(record)))
    }

    /// Stops following: buffered output is freed and the hub forgets this follower.
    public func close() {
        let (waiter, onClose) = state.withLock { state in
            state.done = true
            state.chunks = []
            state.head = 0
            state.bufferedBytes = 0
            state.end = nil
            defer {
                state.waiter = nil
                state.onClose = nil
            }
            return (state.waiter, state.onClose)
        }
        waiter?.resume(returning: .some(nil))
        onClose?()
    }

    /// The next event, waiting for one; `nil` after the end (or when closed or cancelled).
    public func next() async -> LiveOutputHub.Event? {
        while true {
            if let ready = take() { return ready }
            // `.some(event)` from a writer (or `.some(nil)`: closed, cancelled); `.none`: look again.
            let delivered: LiveOutputHub.Event?? = await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<LiveOutputHub.Event??, Never>) in
                    let lookAgain = state.withLock { state in
                        if state.done || state.hasPending { return true }
                        state.waiter = continuation
                        return false
                    }
                    if lookAgain { continuation.resume(returning: .none) }
                }
            } onCancel: {
                let waiter = state.withLock { state in
                    state.done = true
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume(returning: .some(nil))
            }
            if case .some(let event) = delivered { return event }
        }
    }

    /// Every event that can be read without waiting, in order, and whether the sequence is over (its end was read, or
    /// the follower was closed): for a reader that drains followers on a timer (a node publishing a run's output for
    /// another node's tail).
    public func takeAvailable() -> (events: [LiveOutputHub.Event], finished: Bool) {
        var events: [LiveOutputHub.Event] = []
        while true {
            switch take() {
            case .some(.some(let event)): events.append(event)
            case .some(.none): return (events, true)
            case .none: return (events, false)
            }
        }
    }

    /// What can be read without waiting: `.some(event)`, `.some(nil)` at the end, `nil` when nothing is there.
    private func take() -> LiveOutputHub.Event?? {
        state.withLock { state -> LiveOutputHub.Event?? in
            if state.done { return .some(nil) }
            // Tell of a gap before what follows it.
            if let stream = state.dropped.keys.sorted(by: { $0.rawValue > $1.rawValue }).first,
                let bytes = state.dropped.removeValue(forKey: stream)
            {
                return .some(.dropped(stream, bytes: bytes))
            }
            if state.head < state.chunks.count {
                let chunk = state.chunks[state.head]
                state.head += 1
                state.bufferedBytes -= chunk.bytes.count
                if state.head == state.chunks.count {
                    state.chunks.removeAll(keepingCapacity: false)
                    state.head = 0
                }
                return .some(.output(chunk))
            }
            if let end = state.end {
                state.end = nil
                state.done = true
                return .some(.end(end))
            }
            if state.endless {
                state.done = true
                return .some(nil)
            }
            return nil
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let follower: LiveFollower
        public mutating func next() async -> LiveOutputHub.Event? { await follower.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(follower: self) }
}
