import Foundation
import Synchronization

/// The output of running executions as it is written, for live tails (the API's server-sent events).
///
/// The scheduler opens an entry when a run starts, appends every chunk the runner reports, and finishes it with
/// the final record when the run ends. A subscriber gets what was written so far, then each new chunk, then the
/// end. Finished entries stay for a while (the last ``keepFinished``) so that a tail opened just as a run ends
/// still sees its end; older ones are dropped (their output is in the store).
public final class LiveOutputHub: Sendable {
    /// What a subscriber receives.
    public enum Event: Sendable {
        case output(OutputChunk)
        case end(ExecutionRecord)
    }

    /// Bytes kept per stream for late subscribers (the oldest are dropped first, counted in `droppedBytes`).
    public let replayLimit: Int
    public let keepFinished: Int

    private struct Entry {
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var droppedBytes = 0
        var subscribers: [Int: AsyncStream<Event>.Continuation] = [:]
        var final: ExecutionRecord?
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var finishedOrder: [String] = []
        var nextSubscriber = 0
    }

    private let state = Mutex(State())

    public init(replayLimit: Int = 1 << 20, keepFinished: Int = 256) {
        self.replayLimit = replayLimit
        self.keepFinished = keepFinished
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
            if entry.stdout.count > replayLimit {
                entry.droppedBytes += entry.stdout.count - replayLimit
                entry.stdout.removeFirst(entry.stdout.count - replayLimit)
            }
            if entry.stderr.count > replayLimit {
                entry.droppedBytes += entry.stderr.count - replayLimit
                entry.stderr.removeFirst(entry.stderr.count - replayLimit)
            }
            let subscribers = Array(entry.subscribers.values)
            state.entries[executionID] = entry
            return subscribers
        }
        for subscriber in subscribers { subscriber.yield(.output(chunk)) }
    }

    /// Ends an execution's live output with its final record.
    public func finish(_ record: ExecutionRecord) {
        let subscribers: [AsyncStream<Event>.Continuation] = state.withLock { state in
            guard var entry = state.entries[record.id] else { return [] }
            entry.final = record
            let subscribers = Array(entry.subscribers.values)
            entry.subscribers = [:]
            state.entries[record.id] = entry
            state.finishedOrder.append(record.id)
            if state.finishedOrder.count > keepFinished {
                let evicted = state.finishedOrder.removeFirst()
                state.entries[evicted] = nil
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
            state.entries[executionID].map { ($0.stdout, $0.stderr, $0.final) }
        }
    }

    /// Follows an execution: first its output so far, then new chunks, then its end. `nil` when the execution is
    /// not known here (not running, or ended long ago: read it from the store).
    public func subscribe(_ executionID: String) -> AsyncStream<Event>? {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        let found: Bool = state.withLock { state in
            guard var entry = state.entries[executionID] else { return false }
            if !entry.stdout.isEmpty { continuation.yield(.output(OutputChunk(stream: .stdout, bytes: entry.stdout))) }
            if !entry.stderr.isEmpty { continuation.yield(.output(OutputChunk(stream: .stderr, bytes: entry.stderr))) }
            if let final = entry.final {
                continuation.yield(.end(final))
                continuation.finish()
                return true
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
