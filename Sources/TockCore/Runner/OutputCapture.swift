/// One output stream of a run, kept within a fixed budget however much the job prints.
///
/// The first half of the budget keeps the beginning, a ring buffer the end; what falls between is counted and
/// replaced by a marker line when the text is read: `[tock: 98000000 bytes dropped]`.
public struct OutputCapture: Sendable {
    public let limit: Int
    private var head: [UInt8] = []
    private var ring: [UInt8] = []
    private var ringStart = 0
    /// Bytes the job wrote to this stream.
    public private(set) var totalBytes = 0

    public init(limit: Int) {
        self.limit = max(0, limit)
        head.reserveCapacity(min(self.limit - self.limit / 2, 64 * 1024))
    }

    private var headLimit: Int { limit - limit / 2 }
    private var tailLimit: Int { limit / 2 }

    /// Bytes kept once but let go of with ``discardKept()``.
    private var discarded = 0

    /// Bytes written but not kept.
    public var droppedBytes: Int { totalBytes - head.count - ring.count - discarded }

    /// Frees what is kept (once it has been copied into the execution's record), keeping the counts.
    public mutating func discardKept() {
        discarded += head.count + ring.count
        head = []
        ring = []
        ringStart = 0
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        totalBytes += bytes.count
        var rest = bytes[...]
        if head.count < headLimit {
            let take = min(headLimit - head.count, rest.count)
            head.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
        }
        guard !rest.isEmpty, tailLimit > 0 else { return }
        if rest.count >= tailLimit {
            ring = Array(rest.suffix(tailLimit))
            ringStart = 0
            return
        }
        if ring.count < tailLimit {
            let fill = min(tailLimit - ring.count, rest.count)
            ring.append(contentsOf: rest.prefix(fill))
            rest = rest.dropFirst(fill)
        }
        // The ring is full: overwrite its oldest bytes, in at most two copies.
        while !rest.isEmpty {
            let n = min(tailLimit - ringStart, rest.count)
            ring.withUnsafeMutableBytes { target in
                UnsafeMutableRawBufferPointer(rebasing: target[ringStart..<(ringStart + n)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest.prefix(n)))
            }
            ringStart = (ringStart + n) % tailLimit
            rest = rest.dropFirst(n)
        }
    }

    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// Everything kept, with the marker where bytes were dropped.
    public var bytes: [UInt8] {
        let dropped = droppedBytes
        let marker = dropped > 0 ? Array("\n[tock: \(dropped) bytes dropped]\n".utf8) : []
        // One allocation of the final size: with a large max_output, every extra copy is the size of the cap.
        var out: [UInt8] = []
        out.reserveCapacity(head.count + marker.count + ring.count)
        out.append(contentsOf: head)
        out.append(contentsOf: marker)
        out.append(contentsOf: ring[ringStart...])
        out.append(contentsOf: ring[..<ringStart])
        return out
    }

    /// The kept output as text (invalid UTF-8 replaced).
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
