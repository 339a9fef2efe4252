/// Where one requested field was found in a line, and what kind of JSON value it holds.
///
/// The range is a byte range into the line that was scanned; it is only meaningful together with
/// that line's bytes.
public struct JSONField: Sendable, Hashable {
    /// The kind of JSON value at a path.
    public enum Kind: Sendable, Hashable {
        /// The path does not exist in the record (including paths through a non-object value).
        case missing
        /// A JSON string.
        case string
        /// A JSON number.
        case number
        /// The literal `true`.
        case `true`
        /// The literal `false`.
        case `false`
        /// The literal `null`.
        case null
        /// A JSON object.
        case object
        /// A JSON array.
        case array
    }

    /// The kind of value found, or ``Kind/missing``.
    public var kind: Kind
    /// The raw bytes of the value in the line: for strings including the quotes and with escapes
    /// undecoded, for containers from the opening to the closing bracket. Empty when missing.
    public var range: Range<Int>

    /// Creates a field location.
    ///
    /// - Parameters:
    ///   - kind: The kind of value.
    ///   - range: The value's raw byte range in its line.
    public init(kind: Kind, range: Range<Int>) {
        self.kind = kind
        self.range = range
    }

    /// A field that was not found.
    public static let missing = JSONField(kind: .missing, range: 0..<0)

    /// Whether the field was found (it may still be `null`).
    public var isPresent: Bool { kind != .missing }
}
