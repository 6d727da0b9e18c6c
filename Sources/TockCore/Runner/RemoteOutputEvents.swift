import Foundation

/// Where a node reads the live output another node publishes for one of its runs (the PostgreSQL store: pieces in a
/// table, written by the node running the process while someone follows it).
public protocol PublishedOutputSource: Sendable {
    /// Asks (again) that the node running the execution go on publishing its output for a while.
    func keepPublishing(_ executionID: String) async throws
    /// The pieces published after `sequence` (at most about `limit` bytes, whole pieces, in order), whether the
    /// publisher has ended, and the execution's record without output (`nil`: no such execution any more).
    func published(_ executionID: String, after sequence: Int, limit: Int) async throws -> PublishedOutput
}

/// One read of published output.
public struct PublishedOutput: Sendable {
    public var pieces: [PublishedOutputPiece]
    /// The publisher wrote its last piece (the run ended on its node).
    public var ended: Bool
    public var record: ExecutionRecord?

    public init(pieces: [PublishedOutputPiece], ended: Bool, record: ExecutionRecord?) {
        self.pieces = pieces
        self.ended = ended
        self.record = record
    }
}

/// A piece of one stream's output as its publisher numbered it: `sequence` orders pieces of both streams, `start` is
/// the stream's byte position of the piece's first byte (a gap before it is output the publisher could not keep).
public struct PublishedOutputPiece: Sendable, Equatable {
    public var sequence: Int
    public var stream: OutputChunk.Stream
    public var start: Int
    public var bytes: [UInt8]

    public init(sequence: Int, stream: OutputChunk.Stream, start: Int, bytes: [UInt8]) {
        self.sequence = sequence
        self.stream = stream
        self.start = start
        self.bytes = bytes
    }
}

/// The live output of a run on another node, as the events of a local tail (``LiveOutputHub/Event``): `output` for
/// each published piece, `dropped` for a gap, one `end` with the final record.
///
/// Pulled: each `next()` reads the source when nothing is buffered, at most every ``pollInterval``, and renews the
/// publishing request every few seconds. What it holds is one read (at most ``readLimit`` bytes), whatever the job
/// writes. It ends with the record once it is final and the publisher has ended (or ``endGrace`` after the record is
/// final without one: a node that died never ends its publication), and gives up after ``giveUpAfter`` of failed reads.
public struct RemoteOutputEvents: AsyncSequence, Sendable {
    public typealias Element = LiveOutputHub.Event

    public let executionID: String
    let source: any PublishedOutputSource
    public var pollInterval: Duration = .milliseconds(250)
    public var readLimit = 1 << 20
    public var renewEvery: Duration = .seconds(5)
    public var endGrace: Duration = .seconds(3)
    public var giveUpAfter: Duration = .seconds(15)
    /// After this long without an event, an empty `output` chunk: a keep-alive, so that a writer finds out that its
    /// client has gone (a quiet run would otherwise be polled for until it ends).
    public var keepAliveEvery: Duration = .seconds(15)

    public init(executionID: String, source: any PublishedOutputSource) {
        self.executionID = executionID
        self.source = source
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(events: self) }

    /// What has been published of one stream so far (waiting up to `wait` for the publisher's first piece), and the
    /// record: for a plain read of a running execution's output.
    public func snapshot(
        _ stream: OutputChunk.Stream, wait: Duration = .milliseconds(1500)
    ) async throws -> (bytes: [UInt8], record: ExecutionRecord?) {
        let deadline = ContinuousClock.now + wait
        var bytes: [UInt8] = []
        var after = 0
        var published = false
        while true {
            let page = try await source.published(executionID, after: after, limit: readLimit)
            for piece in page.pieces where piece.stream == stream {
                bytes += piece.bytes
                // Only the newest `readLimit` bytes: a plain read is not the place for a whole long output.
                if bytes.count > readLimit { bytes.removeFirst(bytes.count - readLimit) }
            }
            if let last = page.pieces.last {
                after = last.sequence
                published = true
                continue
            }
            let done = page.ended || page.record?.state.isFinal != false
            if published || done || ContinuousClock.now >= deadline { return (bytes, page.record) }
            try await Task.sleep(for: pollInterval)
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol, Sendable {
        let events: RemoteOutputEvents
        var pending: [LiveOutputHub.Event] = []
        var sequence = 0
        var offsets: [OutputChunk.Stream: Int] = [.stdout: 0, .stderr: 0]
        var finished = false
        var lastRenewal = ContinuousClock.now
        var finalSince: ContinuousClock.Instant?
        var failingSince: ContinuousClock.Instant?
        var lastEvent = ContinuousClock.now

        init(events: RemoteOutputEvents) { self.events = events }

        public mutating func next() async -> LiveOutputHub.Event? {
            while true {
                if !pending.isEmpty {
                    lastEvent = ContinuousClock.now
                    return pending.removeFirst()
                }
                if finished || Task.isCancelled { return nil }
                if ContinuousClock.now - lastEvent >= events.keepAliveEvery {
                    lastEvent = ContinuousClock.now
                    return .output(OutputChunk(stream: .stdout, bytes: []))
                }
                await read()
                if !pending.isEmpty || finished { continue }
                do { try await Task.sleep(for: events.pollInterval) } catch { return nil }
            }
        }

        /// One read of the source, turned into events.
        private mutating func read() async {
            let now = ContinuousClock.now
            do {
                if now - lastRenewal >= events.renewEvery {
                    try await events.source.keepPublishing(events.executionID)
                    lastRenewal = now
                }
                let page = try await events.source.published(
                    events.executionID, after: sequence, limit: events.readLimit)
                failingSince = nil
                for piece in page.pieces { take(piece) }
                guard let record = page.record else {
                    finished = true
                    return
                }
                guard record.state.isFinal, page.pieces.isEmpty else { return }
                let since = finalSince ?? now
                finalSince = since
                if page.ended || now - since >= events.endGrace {
                    var ending = record
                    ending.stdout = []
                    ending.stderr = []
                    pending.append(.end(ending))
                    finished = true
                }
            } catch {
                let since = failingSince ?? now
                failingSince = since
                if now - since >= events.giveUpAfter { finished = true }
            }
        }

        private mutating func take(_ piece: PublishedOutputPiece) {
            sequence = Swift.max(sequence, piece.sequence)
            let offset = offsets[piece.stream, default: 0]
            let end = piece.start + piece.bytes.count
            guard end > offset else { return }
            if piece.start > offset { pending.append(.dropped(piece.stream, bytes: piece.start - offset)) }
            let skip = Swift.max(0, offset - piece.start)
            pending.append(.output(OutputChunk(stream: piece.stream, bytes: Array(piece.bytes.dropFirst(skip)))))
            offsets[piece.stream] = end
        }
    }
}

extension RemoteOutputEvents {
    /// The events one at a time, from something that must be `Sendable` (a response body's writer).
    public func reader() -> Reader { Reader(makeAsyncIterator()) }

    /// One reader of ``RemoteOutputEvents`` (one consumer; the iterator's state stays in the actor).
    public actor Reader {
        private var iterator: AsyncIterator

        init(_ iterator: AsyncIterator) { self.iterator = iterator }

        public func next() async -> LiveOutputHub.Event? {
            var current = iterator
            let event = await current.next()
            iterator = current
            return event
        }
    }
}
