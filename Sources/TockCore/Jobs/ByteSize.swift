import Foundation

/// Sizes as job files write them: `512KiB`, `1MiB`, `64KB`, `1000` (bytes).
public struct ByteSize: Sendable, Hashable {
    public let bytes: Int

    /// Reads a size; `nil` when the text is not one (or overflows).
    public init?(parsing text: String) {
        guard let bytes = Self.parse(text) else { return nil }
        self.bytes = bytes
    }

    static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = Int(digits) else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        let scale: Int
        switch unit {
        case "", "b": scale = 1
        case "k", "kib": scale = 1 << 10
        case "m", "mib": scale = 1 << 20
        case "g", "gib": scale = 1 << 30
        case "kb": scale = 1000
        case "mb": scale = 1_000_000
        case "gb": scale = 1_000_000_000
        default: return nil
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: scale)
        return overflow ? nil : bytes
    }
}
