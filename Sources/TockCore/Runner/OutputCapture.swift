import Glibc

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

    /// After ``consolidate()``: the kept bytes as one array (head, marker, tail) and the bytes dropped.
    private var consolidated: (bytes: [UInt8], dropped: Int)?

    /// Bytes written but not kept.
    public var droppedBytes: Int {
        consolidated?.dropped ?? (totalBytes - head.count - ring.count - discarded)
    }

    /// Frees what is kept (once it has been copied into the execution's record), keeping the counts.
    public mutating func discardKept() {
        if consolidated != nil {
            consolidated?.bytes = []
            return
        }
        discarded += head.count + ring.count
        head = []
        ring = []
        ringStart = 0
    }

    /// Once the stream has ended: puts head, marker and tail into the head's own storage (reserved for the whole
    /// budget once the tail began, so nothing moves), so that ``bytes`` hands that array out instead of a copy —
    /// with a 64 MiB budget, a copy is 64 MiB more at the end of every run.
    public mutating func consolidate() {
        guard consolidated == nil else { return }
        let dropped = droppedBytes
        var merged = head
        head = []
        if dropped > 0 { merged.append(contentsOf: Self.marker(dropped)) }
        // The ring's pages are handed back as they are copied: with both whole at once, the end of a run with a
        // 64 MiB budget cost 1.5 times the budget for a moment.
        ring.withUnsafeMutableBytes { storage in
            for range in [ringStart..<storage.count, 0..<ringStart] {
                var start = range.lowerBound
                while start < range.upperBound {
                    let end = min(start + Self.copyStep, range.upperBound)
                    merged.append(contentsOf: UnsafeRawBufferPointer(rebasing: storage[start..<end]))
                    Self.release(UnsafeMutableRawBufferPointer(rebasing: storage[start..<end]))
                    start = end
                }
            }
        }
        ring = []
        ringStart = 0
        consolidated = (merged, dropped)
    }

    /// Bytes of the ring copied between two hand-backs of its pages.
    static let copyStep = 1 << 20

    /// Gives the whole pages inside `bytes` back to the kernel (their content is lost: for storage about to be freed).
    static func release(_ bytes: UnsafeMutableRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (Int(bitPattern: base) + page - 1) / page * page
        let last = (Int(bitPattern: base) + bytes.count) / page * page
        guard last > first, let start = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(start, last - first, MADV_DONTNEED)
    }

    static func marker(_ dropped: Int) -> [UInt8] { Array("\n[tock: \(dropped) bytes dropped]\n".utf8) }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        totalBytes += bytes.count
        var rest = bytes[...]
        if head.count < headLimit {
            let take = min(headLimit - head.count, rest.count)
            head.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
        }
        guard !rest.isEmpty, tailLimit > 0 else { return }
        // The tail begins: the head's storage gets room for the whole budget (untouched pages cost nothing), so
        // that consolidating at the end appends in place.
        if ring.isEmpty && head.capacity < limit + 64 {
            head.reserveCapacity(limit + 64)
            ring.reserveCapacity(tailLimit)
        }
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
        if let consolidated { return consolidated.bytes }
        let dropped = droppedBytes
        let marker = dropped > 0 ? Self.marker(dropped) : []
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
