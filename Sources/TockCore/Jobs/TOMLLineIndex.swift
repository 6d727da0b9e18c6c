import Foundation

/// Finds where tables and keys are written in a TOML text, because TOMLKit's decoded values carry no source
/// position and an error without a line number is half an error.
struct TOMLLineIndex {
    private var tableLines: [String: Int] = [:]
    private var keyLines: [String: Int] = [:]

    init(_ text: String) {
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
    }

    /// The line of `key` inside table `table` (dotted path), else of the table, else 1.
    func line(table: String, key: String? = nil) -> Int {
        if let key, let line = keyLines["\(table).\(key)"] { return line }
        if let line = tableLines[table] { return line }
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
