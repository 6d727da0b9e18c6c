/// Why a schedule expression was rejected, with the field and the token at fault.
///
/// `description` reads as one line a user can act on, e.g. `minute: 60 is out of range 0-59`.
public struct CronParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case empty
        case fieldCount
        case outOfRange
        case reversedRange
        case zeroStep
        case badStep
        case unknownName
        case malformed
        case unknownMacro
        case badDuration
        case neverFires
    }

    public let code: Code
    /// The field at fault, when the problem lies in one field.
    public let field: CronField?
    /// The offending token as the user wrote it.
    public let token: String?
    /// What is wrong, without the field prefix.
    public let message: String

    public init(_ code: Code, field: CronField? = nil, token: String? = nil, _ message: String) {
        self.code = code
        self.field = field
        self.token = token
        self.message = message
    }

    public var description: String {
        if let field { return "\(field): \(message)" }
        return message
    }
}
