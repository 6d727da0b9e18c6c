import TockCore

/// An execution's stored output, read a piece at a time (`JobStore.output(ofExecution:…)`): a 64 MiB output is sent
/// without ever being held whole.
enum StoredOutput {
    /// Bytes read from the store at a time (the SQLite store's piece size, so each read is one row).
    static let pieceSize = 1 << 20

    /// Hands `body` each piece of `stream`, in order, until the end.
    ///
    /// - Parameter wholeCharacters: Cut pieces only between UTF-8 characters (for text events, where each piece is
    ///   decoded on its own): the bytes of a character a piece boundary cuts go with the next piece.
    static func forEachPiece(
        store: any JobStore, id: String, stream: OutputChunk.Stream, wholeCharacters: Bool = false,
        _ body: ([UInt8]) async throws -> Void
    ) async throws {
        var offset = 0
        var carried: [UInt8] = []
        while true {
            guard let piece = try await store.output(ofExecution: id, stream: stream, from: offset, limit: pieceSize),
                !piece.isEmpty
            else { break }
            offset += piece.count
            var bytes = carried.isEmpty ? piece : carried + piece
            carried = []
            if wholeCharacters {
                let cut = characterBoundary(before: bytes.count, in: bytes)
                carried = Array(bytes[cut...])
                bytes.removeSubrange(cut...)
            }
            if !bytes.isEmpty { try await body(bytes) }
            if piece.count < pieceSize { break }
        }
        if !carried.isEmpty { try await body(carried) }
    }

    /// The end of the last whole UTF-8 character at or before `end` (at most 3 bytes back; `end` for bytes that are
    /// not UTF-8 there, which decode the same wherever they are cut).
    static func characterBoundary(before end: Int, in bytes: [UInt8]) -> Int {
        var start = end
        // Back over continuation bytes (10xxxxxx) to the lead byte of the last character.
        while start > 0, end - start < 3, bytes[start - 1] & 0xC0 == 0x80 { start -= 1 }
        guard start > 0 else { return end }
        let lead = bytes[start - 1]
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        // The character is cut when its lead byte announces more bytes than are there.
        return length > end - (start - 1) ? start - 1 : end
    }
}
