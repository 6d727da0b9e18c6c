import Foundation

/// A job definition's values, whatever format they came in: a job file's TOML (`DefinitionValue+TOML.swift`)
/// or an API body's JSON (`DefinitionValue+JSON.swift`). The job reader (``JobDefinitionReader``) reads only
/// this.
public indirect enum DefinitionValue: Sendable {
    case table([String: DefinitionValue], order: [String])
    case array([DefinitionValue])
    case string(String)
    case integer(Int)
    case float(Double)
    case bool(Bool)
    /// Dates and times, which job files do not use; kept by kind for error messages.
    case other(String)

    // MARK: - Reading

    public subscript(key: String) -> DefinitionValue? {
        guard case .table(let values, let order) = self else { return nil }
        // A job's table has a handful of keys and is asked for some thirty, most of them absent: a look along the
        // few keys (short ones compare as 16 bytes) answers those without hashing. At 100,000 jobs the hashing of
        // absent keys was ~0.15 s of a start that parses jobs.d.
        if order.count <= 8 && order.count == values.count && !order.contains(key) { return nil }
        return values[key]
    }

    /// Keys of a table in document order.
    public var keys: [String] {
        if case .table(_, let order) = self { return order }
        return []
    }

    public var table: DefinitionValue? {
        if case .table = self { return self }
        return nil
    }

    public var array: [DefinitionValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    public var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var int: Int? {
        if case .integer(let number) = self { return number }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let flag) = self { return flag }
        return nil
    }

    /// The TOML type's name, for messages.
    public var type: String {
        switch self {
        case .table: "table"
        case .array: "array"
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .bool: "boolean"
        case .other(let kind): kind
        }
    }
}
