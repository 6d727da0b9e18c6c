import CTOML
import Foundation

/// Reading TOML: toml++ (TOMLKit's C layer) in one pass, then freed.
///
/// Why not TOMLKit's own accessors: in TOMLKit 0.6.0 a parsed `TOMLTable` is never freed, and every string or
/// key it hands out is a `strdup` that is never freed either — about 1 KB per job on every load and reload of
/// jobs.d. Here each C string is freed after copying, and the document is cleared once converted.
extension DefinitionValue {
    /// A parse error with its line.
    public struct ParseError: Error {
        public let line: Int
        public let message: String
    }

    /// Parses a document.
    public static func parse(_ text: String) throws(ParseError) -> DefinitionValue {
        // toml++ reads a C string: a NUL would silently end the document there (and drop every job after it).
        if let (line, column) = Self.firstNUL(in: text) {
            throw ParseError(
                line: line, message: "NUL character (\\0) at column \(column): it cannot be passed to a process")
        }
        let error = UnsafeMutablePointer<CTOMLParseError>.allocate(capacity: 1)
        defer { error.deallocate() }
        guard let root = text.withCString({ tableCreateFromString($0, error) }) else {
            let message = String(cString: error.pointee.description)
            throw ParseError(line: Int(error.pointee.source.begin.line), message: message)
        }
        defer { tableClear(root) }
        return convert(table: root)
    }

    /// The line and column (1-based) of the first NUL character, if any.
    ///
    /// Also the escapes `\u0000` and `\U00000000`: toml++ hands strings over as C strings, so a NUL written as
    /// an escape would silently cut the value short (`"rm -rf /tmp/x\u0000 …"`).
    static func firstNUL(in text: String) -> (line: Int, column: Int)? {
        let bytes = Array(text.utf8)
        // Bytes, not Characters: "0" followed by a combining mark is one Character that is not "0", and toml++
        // would still read the escape.
        guard bytes.contains(0) || bytes.contains(UInt8(ascii: "\\")) else { return nil }
        var line = 1
        var column = 1
        var backslashes = 0
        for (i, byte) in bytes.enumerated() {
            if byte == 0 { return (line, column) }
            if backslashes % 2 == 1 && (Self.matches(bytes, at: i, "u0000") || Self.matches(bytes, at: i, "U00000000"))
            {
                return (line, column - 1)
            }
            backslashes = byte == UInt8(ascii: "\\") ? backslashes + 1 : 0
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return nil
    }

    private static func matches(_ bytes: [UInt8], at index: Int, _ word: String) -> Bool {
        let w = Array(word.utf8)
        return index + w.count <= bytes.count && Array(bytes[index..<(index + w.count)]) == w
    }

    private static func convert(table: OpaquePointer) -> DefinitionValue {
        let count = tableSize(table)
        var values: [String: DefinitionValue] = [:]
        var order: [String] = []
        let keys = tableGetKeys(table)
        for i in 0..<count {
            let cKey = keys[i]
            let key = String(cString: cKey)
            if let node = tableGetNode(table, cKey) {
                values[key] = convert(node: node)
                order.append(key)
            }
            free(UnsafeMutableRawPointer(mutating: cKey))
        }
        free(UnsafeMutableRawPointer(mutating: keys))
        return .table(values, order: order)
    }

    private static func convert(node: OpaquePointer) -> DefinitionValue {
        let kind = nodeType(node)
        if kind == CTOMLNodeType.table { return nodeAsTable(node).map { convert(table: $0) } ?? .other("table") }
        if kind == CTOMLNodeType.array {
            guard let array = nodeAsArray(node) else { return .array([]) }
            return .array((0..<arraySize(array)).map { convert(node: arrayGetNode(array, Int64($0))) })
        }
        if kind == CTOMLNodeType.string {
            guard let text = nodeAsString(node) else { return .string("") }
            defer { free(UnsafeMutableRawPointer(mutating: text)) }
            return .string(String(cString: text))
        }
        if kind == CTOMLNodeType.integer { return .integer(Int(nodeAsInt(node)?.pointee ?? 0)) }
        if kind == CTOMLNodeType.floatingPoint { return .float(nodeAsDouble(node)?.pointee ?? 0) }
        if kind == CTOMLNodeType.boolean { return .bool(nodeAsBool(node)?.pointee ?? false) }
        if kind == CTOMLNodeType.date { return .other("date") }
        if kind == CTOMLNodeType.timeType { return .other("time") }
        return .other("date-time")
    }
}
