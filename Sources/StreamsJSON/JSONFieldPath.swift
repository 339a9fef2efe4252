/// A dotted path to a field inside a JSON object, such as `order.id`.
///
/// Parsed once at configuration time. Components are split on `.` and matched against object keys
/// after the keys' escapes are decoded, byte for byte (no Unicode normalization). A key that itself
/// contains `.` cannot be addressed, and paths never index into arrays.
public struct JSONFieldPath: Sendable, Hashable, CustomStringConvertible {
    /// The path's components, outermost first: `["order", "id"]` for `order.id`.
    public let components: [String]

    /// The components as UTF-8, for comparing against key bytes on the hot path.
    let utf8Components: [[UInt8]]

    /// Parses a dotted path.
    ///
    /// - Parameter path: A path such as `customer` or `order.id`.
    /// - Throws: ``JSONFieldError/Code/invalidPath`` if the path is empty or has an empty component.
    public init(_ path: String) throws(JSONFieldError) {
        guard !path.isEmpty else {
            throw JSONFieldError(.invalidPath, "field path is empty")
        }
        let parts = path.split(separator: ".", omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() where part.isEmpty {
            throw JSONFieldError(
                .invalidPath,
                "field path '\(path)' has an empty component at position \(index + 1); "
                    + "components are separated by single dots, e.g. 'order.id'"
            )
        }
        self.components = parts.map(String.init)
        self.utf8Components = components.map { Array($0.utf8) }
    }

    /// The path in dotted form, as it was given.
    public var description: String {
        components.joined(separator: ".")
    }

    /// Two paths are equal when their components are equal.
    public static func == (lhs: JSONFieldPath, rhs: JSONFieldPath) -> Bool {
        lhs.components == rhs.components
    }

    /// Hashes the components.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(components)
    }
}
