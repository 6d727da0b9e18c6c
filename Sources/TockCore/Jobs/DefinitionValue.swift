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
        if case .table(let values, _) = self { return values[key] }
        return nil
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
