import Testing

@testable import TockCore

/// Consolidating a capture at the end of a run changes nothing a reader sees: the same bytes, marker and counts.
struct OutputCaptureTests {
    @Test(arguments: [0, 1, 10, 1000, 4096, 5000, 100_000])
    func consolidate_keepsBytesAndCounts(_ written: Int) {
        var generator = SystemRandomNumberGenerator()
        var plain = OutputCapture(limit: 4096)
        var pieces: [[UInt8]] = []
        var left = written
        while left > 0 {
            let n = min(left, Int.random(in: 1...700, using: &generator))
            pieces.append((0..<n).map { _ in UInt8.random(in: 97...122, using: &generator) })
            left -= n
        }
        for piece in pieces { plain.append(piece) }
        var consolidated = plain
        consolidated.consolidate()
        #expect(consolidated.bytes == plain.bytes)
        #expect(consolidated.droppedBytes == plain.droppedBytes && consolidated.totalBytes == written)
        consolidated.consolidate()
        #expect(consolidated.bytes == plain.bytes, "a second consolidate changes nothing")
        consolidated.discardKept()
        #expect(consolidated.bytes.isEmpty && consolidated.droppedBytes == plain.droppedBytes)
    }

    /// A ring of many pages, its start in the middle of one: its pages are handed back as they are copied, and
    /// neither the consolidated bytes nor a copy of the capture made before (sharing the ring's storage) change.
    @Test func consolidate_largeRing_keepsBytes_andLeavesCopiesAlone() {
        var capture = OutputCapture(limit: 4 << 20)
        var written = 0
        while written < (9 << 20) + 12345 {
            let n = min(70_001, (9 << 20) + 12345 - written)
            capture.append((0..<n).map { UInt8(truncatingIfNeeded: ($0 + written) % 251) })
            written += n
        }
        let copy = capture
        let expected = capture.bytes
        capture.consolidate()
        #expect(capture.bytes == expected)
        #expect(copy.bytes == expected, "the copy's ring is its own")
        #expect(capture.totalBytes == written && capture.droppedBytes == copy.droppedBytes)
    }
}
