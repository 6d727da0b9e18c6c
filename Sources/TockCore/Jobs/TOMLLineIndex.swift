import Foundation
import Synchronization

/// Finds where tables and keys are written in a TOML text, because TOMLKit's decoded values carry no source
/// position and an error without a line number is half an error.
///
/// Most of a large jobs.d's parse was this index (Foundation's trimming of every line); an ASCII text with `\n` line
/// ends (nearly every job file) is scanned as bytes, and the lines of keys (needed for errors only, and for tables
/// known only through their keys) only when first asked for. Any other text takes the original scan, whose results
/// the byte scan gives exactly.
struct TOMLLineIndex: Sendable {
    private let storage: Storage

    init(_ text: String) { storage = Storage(text) }

    private final class Storage: Sendable {
        let text: String
        let fast: Bool
        let tableLines: [String: Int]
        private let keys = Mutex<[String: Int]?>(nil)

        init(_ text: String) {
            self.text = text
            fast = text.utf8.allSatisfy { $0 < 0x80 && $0 != 0x0D }
            if fast {
                tableLines = TOMLLineIndex.scan(text, keys: false).tables
            } else {
                let both = TOMLLineIndex.slowScan(text)
                tableLines = both.tables
                keys.withLock { $0 = both.keys }
            }
        }

        var keyLines: [String: Int] {
            keys.withLock { keys in
                if let keys { return keys }
                let scanned = TOMLLineIndex.scan(text, keys: true).keys
                keys = scanned
                return scanned
            }
        }
    }

    /// The line of `key` inside table `table` (dotted path), else of the table, else 1.
    func line(table: String, key: String? = nil) -> Int {
        let tableLines = storage.tableLines
        if let key, let line = storage.keyLines["\(table).\(key)"] { return line }
        if let line = tableLines[table] { return line }
        let keyLines = storage.keyLines
        // A table known only through its sub-tables (`[jobs.a]`), dotted keys (`job.x.schedule = …`) or inline.
        let prefix = table + "."
        if let line = tableLines.filter({ $0.key.hasPrefix(prefix) }).map(\.value).min() { return line }
        if let line = keyLines.filter({ $0.key.hasPrefix(prefix) }).map(\.value).min() { return line }
        // An inline table (`env = { K = 5 }`): the line of the key that holds it, or of an enclosing table.
        var path = table
        while let dot = path.lastIndex(of: ".") {
            if let line = keyLines[path] ?? tableLines[path] { return line }
            path = String(path[..<dot])
        }
        return keyLines[path] ?? tableLines[path] ?? 1
    }

    /// The scan of an ASCII text with `\n` line ends, as bytes: the tables' lines, and the keys' when asked.
    static func scan(_ text: String, keys wantKeys: Bool) -> (tables: [String: Int], keys: [String: Int]) {
        var tables: [String: Int] = [:]
        var keys: [String: Int] = [:]
        var text = text
        text.withUTF8 { bytes in
            var table = ""
            var number = 0
            var start = 0
            let count = bytes.count
            while start <= count {
                var end = start
                while end < count && bytes[end] != 0x0A { end += 1 }
                number += 1
                var from = start
                var to = end
                while from < to && (bytes[from] == 0x20 || bytes[from] == 0x09) { from += 1 }
                while to > from && (bytes[to - 1] == 0x20 || bytes[to - 1] == 0x09) { to -= 1 }
                if from < to && bytes[from] == 0x5B {  // [
                    var inner = from
                    while inner < to && bytes[inner] == 0x5B { inner += 1 }
                    var close = inner
                    while close < to && bytes[close] != 0x5D { close += 1 }
                    table = normalize(UnsafeBufferPointer(rebasing: bytes[inner..<close]))
                    if tables[table] == nil { tables[table] = number }
                } else if wantKeys, from < to, bytes[from] != 0x23 {  // not #
                    var equals = from
                    while equals < to && bytes[equals] != 0x3D { equals += 1 }
                    if equals < to {
                        let key = normalize(UnsafeBufferPointer(rebasing: bytes[from..<equals]))
                        if !key.isEmpty {
                            let full = table.isEmpty ? key : "\(table).\(key)"
                            if keys[full] == nil { keys[full] = number }
                        }
                    }
                }
                start = end + 1
            }
        }
        return (tables, keys)
    }

    /// ``normalize(_:)`` of ASCII bytes.
    private static func normalize(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var current: [UInt8] = []
        var quote: UInt8?
        func flush() {
            var from = 0
            var to = current.count
            while from < to && (current[from] == 0x20 || current[from] == 0x09) { from += 1 }
            while to > from && (current[to - 1] == 0x20 || current[to - 1] == 0x09) { to -= 1 }
            out.append(contentsOf: current[from..<to])
            current.removeAll(keepingCapacity: true)
        }
        for c in bytes {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == 0x22 || c == 0x27 {
                quote = c
            } else if c == 0x2E {
                flush()
                out.append(0x2E)
            } else {
                current.append(c)
            }
        }
        flush()
        return String(decoding: out, as: UTF8.self)
    }

    /// The original scan, for any text.
    static func slowScan(_ text: String) -> (tables: [String: Int], keys: [String: Int]) {
        var tableLines: [String: Int] = [:]
        var keyLines: [String: Int] = [:]
        var table = ""
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("[") {
                let inner = line.drop(while: { $0 == "[" }).prefix(while: { $0 != "]" })
                table = Self.normalize(String(inner))
                if tableLines[table] == nil { tableLines[table] = number }
            } else if let equals = line.firstIndex(of: "="), !line.hasPrefix("#") {
                let key = Self.normalize(String(line[..<equals]))
                guard !key.isEmpty else { continue }
                let full = table.isEmpty ? key : "\(table).\(key)"
                if keyLines[full] == nil { keyLines[full] = number }
            }
        }
        return (tableLines, keyLines)
    }

    /// `job . "nightly backup"` → `job.nightly backup`.
    static func normalize(_ path: String) -> String {
        var parts: [String] = []
        var current = ""
        var quote: Character?
        for c in path {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "." {
                parts.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current.trimmingCharacters(in: .whitespaces))
        return parts.joined(separator: ".")
    }
}
