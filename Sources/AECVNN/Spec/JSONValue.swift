/// A parsed JSON document. Objects keep their keys in document order (duplicates are rejected by
/// the parser) so that specs round-trip in the order the user wrote them.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number literal with no fraction or exponent that fits in Int64.
    case int(Int64)
    /// Any other number.
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])
}

public struct JSONMember: Equatable, Sendable {
    public var key: String
    public var value: JSONValue
    public init(_ key: String, _ value: JSONValue) { self.key = key; self.value = value }
}

/// A JSON syntax error: what was wrong and the byte offset where it was found.
public struct JSONError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public init(message: String, offset: Int) { self.message = message; self.offset = offset }
    public var description: String { "\(message) at byte \(offset)" }
}
