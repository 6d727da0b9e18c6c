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
        case end(ExecutionRecord)
    }

    /// Bytes replayed per stream to late subscribers (the most recent ones).
    public let replayLimit: Int
    public let keepFinished: Int
    /// How long a finished entry is kept (the store has the record well before).
    public let keepFinishedFor: TimeInterval

    private struct Entry {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var subscribers: [Int: AsyncStream<Event>.Continuation] = [:]
        var final: ExecutionRecord?
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var finishedOrder: [(id: String, at: Date)] = []
        var nextSubscriber = 0
    }

    private let state = Mutex(State())

    public init(replayLimit: Int = 1 << 20, keepFinished: Int = 32, keepFinishedFor: TimeInterval = 10) {
        self.replayLimit = replayLimit
        self.keepFinished = keepFinished
        self.keepFinishedFor = keepFinishedFor
    }

    public func open(_ executionID: String) {
        state.withLock { $0.entries[executionID] = $0.entries[executionID] ?? Entry() }
    }

    public func append(_ executionID: String, _ chunk: OutputChunk) {
        let subscribers: [AsyncStream<Event>.Continuation] = state.withLock { state in
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
        for subscriber in subscribers { subscriber.yield(.output(chunk)) }
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
        let subscribers: [AsyncStream<Event>.Continuation] = state.withLock { state in
            guard var entry = state.entries[record.id] else { return [] }
            entry.final = record
            // The live buffers go: a late subscriber replays the record's own (captured) output.
            entry.stdout = []
            entry.stderr = []
            let subscribers = Array(entry.subscribers.values)
            entry.subscribers = [:]
            state.entries[record.id] = entry
            let now = Date()
            state.finishedOrder.append((record.id, now))
            while let oldest = state.finishedOrder.first,
                state.finishedOrder.count > keepFinished || now.timeIntervalSince(oldest.at) > keepFinishedFor
            {
                state.finishedOrder.removeFirst()
                state.entries[oldest.id] = nil
            }
            return subscribers
        }
        for subscriber in subscribers {
            subscriber.yield(.end(record))
            subscriber.finish()
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
    public func subscribe(_ executionID: String) -> AsyncStream<Event>? {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        let found: Bool = state.withLock { state in
            guard var entry = state.entries[executionID] else { return false }
            if let final = entry.final {
                if !final.stdout.isEmpty {
                    continuation.yield(.output(OutputChunk(stream: .stdout, bytes: final.stdout)))
                }
                if !final.stderr.isEmpty {
                    continuation.yield(.output(OutputChunk(stream: .stderr, bytes: final.stderr)))
                }
                continuation.yield(.end(final))
                continuation.finish()
                return true
            }
            if !entry.stdout.isEmpty {
                continuation.yield(.output(OutputChunk(stream: .stdout, bytes: tail(entry.stdout))))
            }
            if !entry.stderr.isEmpty {
                continuation.yield(.output(OutputChunk(stream: .stderr, bytes: tail(entry.stderr))))
            }
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            entry.subscribers[id] = continuation
            state.entries[executionID] = entry
            continuation.onTermination = { [weak self] _ in
                self?.state.withLock { state in _ = state.entries[executionID]?.subscribers.removeValue(forKey: id) }
            }
            return true
        }
        if !found { continuation.finish() }
        return found ? stream : nil
    }
}
