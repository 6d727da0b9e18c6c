import TockJSON

extension DefinitionValue {
    /// An API body's JSON as definition values; `nil` for null (a key set to null is as if absent).
    public init?(json value: JSONValue) {
        switch value {
        case .null: return nil
        case .bool(let flag): self = .bool(flag)
        case .int(let number): self = .integer(number)
        case .double(let number): self = .float(number)
        case .string(let text): self = .string(text)
        case .array(let items): self = .array(items.map { DefinitionValue(json: $0) ?? .other("null") })
        case .object(let pairs):
            self = .table(
                Dictionary(
                    pairs.compactMap { key, value in DefinitionValue(json: value).map { (key, $0) } },
                    uniquingKeysWith: { $1 }),
                order: pairs.filter { $0.1 != .null }.map(\.0))
        }
    }
}
