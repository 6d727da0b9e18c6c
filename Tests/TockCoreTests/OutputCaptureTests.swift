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
}
