/// An error from parsing a field path, scanning a JSON Lines record, encoding a key or reading a time field.
///
/// It carries a stable ``Code`` that callers match to apply their per-record policy (fail, skip,
/// dead-letter), a message a user can act on, and, for errors inside a record, the zero-based byte
/// offset into the line where the problem was found.
///
/// Thrown with typed throws (`throws(JSONFieldError)`), so the per-record hot path never boxes an
/// existential error.
public struct JSONFieldError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stable kind of a ``JSONFieldError``.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// A field path is empty or has an empty component (`a..b`, `.a`, `a.`).
        case invalidPath
        /// The line is empty or holds only whitespace.
        case emptyInput
        /// The line's top-level value is not a JSON object.
        case notAnObject
        /// The line ends inside a value (truncated record).
        case unexpectedEnd
        /// A byte that cannot start or continue the expected token.
        case unexpectedCharacter
        /// A misspelled `true`, `false` or `null`.
        case invalidLiteral
        /// A number that does not follow the JSON number grammar (`01`, `1.`, `-`, `1e`).
        case invalidNumber
        /// A raw control character (below U+0020) inside a string.
        case invalidString
        /// An unknown escape, a malformed `\uXXXX`, or an unpaired UTF-16 surrogate.
        case invalidEscape
        /// Bytes inside a string that are not well-formed UTF-8.
        case invalidUTF8
        /// Something other than whitespace after the top-level object.
        case trailingCharacters
        /// Containers nested deeper than ``JSONFieldExtractor/maximumDepth``.
        case tooDeep
        /// A key field is missing or `null`.
        case missingField
        /// A key field is an object or an array; keys must be scalars.
        case nonScalarKey
        /// A number key whose exponent is too large to normalize exactly.
        case numberOutOfRange
        /// A time field that is neither integer epoch milliseconds nor an RFC 3339 timestamp.
        case invalidTimestamp
        /// A time field whose value does not fit in `Int64` epoch milliseconds.
        case timestampOutOfRange
    }

    /// What kind of failure this is.
    public let code: Code
    /// A description of what is wrong, for people.
    public let message: String
    /// The zero-based byte offset into the line where the problem was found, or `nil` when the
    /// error is not about a position (a bad path, a missing field).
    public let offset: Int?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The stable kind of failure.
    ///   - message: What is wrong, for people.
    ///   - offset: The zero-based byte offset into the line, if the error has a position.
    public init(_ code: Code, _ message: String, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    /// The code, the offset if there is one, and the message, for example
    /// `invalidNumber at byte 7: leading zeros are not allowed in a number`.
    public var description: String {
        if let offset {
            return "\(code.rawValue) at byte \(offset): \(message)"
        }
        return "\(code.rawValue): \(message)"
    }
}
