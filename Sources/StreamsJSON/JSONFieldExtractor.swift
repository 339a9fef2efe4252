/// Finds a fixed set of fields in JSON Lines records with one forward scan and no heap allocation.
///
/// Configure it once with the paths you need (the key fields, an optional time field), then call
/// ``extract(from:)`` for each line and read ``fields`` (same order as ``paths``). The scan descends
/// only into objects on the way to a requested path and skips everything else, while still
/// validating the whole line: a record that is not an object, is truncated, has a bad token or has
/// anything but whitespace after the object is rejected with a ``JSONFieldError`` naming the byte.
///
/// Duplicate keys: **the last occurrence wins**, as in most JSON parsers. A later duplicate replaces
/// the whole earlier value, so with `{"o":{"id":1},"o":{"x":2}}` the path `o.id` is missing.
///
/// ```swift
/// var extractor = JSONFieldExtractor(paths: [try JSONFieldPath("customer"), try JSONFieldPath("order.id")])
/// var key: [UInt8] = []
/// try line.withUnsafeBytes { bytes in
///     try extractor.extract(from: bytes)
///     try extractor.encodeKey(fields: 0..<2, of: bytes, into: &key)
/// }
/// ```
///
/// - Important: The extractor is a value; give each processing thread its own copy. ``extract(from:)``
///   reuses the storage of ``fields``, so it allocates nothing as long as no copy of ``fields`` is
///   kept alive across calls.
public struct JSONFieldExtractor: Sendable {
    /// The deepest nesting of objects and arrays a line may have; deeper lines are rejected with
    /// ``JSONFieldError/Code/tooDeep``.
    public static let maximumDepth = 256

    /// The requested paths, in the order of ``fields``.
    public let paths: [JSONFieldPath]

    /// Where each path was found in the last line passed to ``extract(from:)``; ``JSONField/missing``
    /// for paths that were not found (or all of them, if the last scan threw).
    public private(set) var fields: [JSONField]

    /// The trie of path components, flattened into plain integers and bytes that the scan reads
    /// through pointers: no array (and so no reference count) is touched per key.
    private let trie: Trie

    /// Creates an extractor for a set of paths.
    ///
    /// - Parameter paths: The fields to locate; the same path may appear more than once.
    public init(paths: [JSONFieldPath]) {
        self.paths = paths
        self.trie = Trie(paths: paths)
        self.fields = Array(repeating: .missing, count: paths.count)
    }

    /// The location of the field for `paths[index]` in the last scanned line.
    public subscript(index: Int) -> JSONField {
        fields[index]
    }

    /// Scans one line and records where each requested field is.
    ///
    /// - Parameter line: The record's UTF-8 bytes, without the line terminator (trailing whitespace,
    ///   including `\r`, is allowed).
    /// - Throws: A ``JSONFieldError`` with the byte offset if the line is not a well-formed JSON
    ///   object; ``fields`` are then all missing.
    public mutating func extract(from line: UnsafeRawBufferPointer) throws(JSONFieldError) {
        let nodes = UnsafePointer(trie.nodes)
        let fieldLists = UnsafePointer(trie.fieldLists)
        let names = UnsafePointer(trie.names)
        try fields.withUnsafeMutableBufferPointer { fields throws(JSONFieldError) in
            let walk = Walk(nodes: nodes, fieldLists: fieldLists, names: names, fields: fields)
            walk.clearFields()
            do throws(JSONFieldError) {
                try walk.extract(from: line)
            } catch {
                walk.clearFields()
                throw error
            }
        }
    }

    /// One scan's view of the trie and of the fields it fills in.
    ///
    /// - Important: Lent for one ``extract(from:)`` call; the pointers must not escape it.
    private struct Walk {
        let nodes: UnsafePointer<Trie.Node>
        let fieldLists: UnsafePointer<Int>
        let names: UnsafePointer<UInt8>
        let fields: UnsafeMutableBufferPointer<JSONField>

        @inline(__always)
        func clearFields() {
            var index = 0
            while index < fields.count {
                fields[index] = .missing
                index &+= 1
            }
        }

        func extract(from line: UnsafeRawBufferPointer) throws(JSONFieldError) {
            guard let base = line.baseAddress, line.count > 0 else {
                throw JSONFieldError(.emptyInput, "the line is empty", offset: 0)
            }
            var scanner = JSONScanner(base: base.assumingMemoryBound(to: UInt8.self), count: line.count)
            scanner.skipWhitespace()
            guard scanner.pos < scanner.end else {
                throw JSONFieldError(.emptyInput, "the line holds only whitespace", offset: scanner.pos)
            }
            guard scanner.base[scanner.pos] == JSONScanner.openBrace else {
                throw JSONFieldError(
                    .notAnObject,
                    "a record must be a JSON object starting with '{', found \(scanner.describe(at: scanner.pos))",
                    offset: scanner.pos
                )
            }
            if nodes[0].children.isEmpty {
                try scanner.skipContainer()
            } else {
                try scanObject(node: 0, &scanner)
            }
            scanner.skipWhitespace()
            guard scanner.pos == scanner.end else {
                throw scanner.error(
                    .trailingCharacters,
                    "unexpected \(scanner.describe(at: scanner.pos)) after the end of the record's object"
                )
            }
        }

        /// Scans an object on the way to requested paths; `scanner.pos` is at its `{`.
        func scanObject(node: Int, _ scanner: inout JSONScanner) throws(JSONFieldError) {
            guard scanner.depth < JSONFieldExtractor.maximumDepth else {
                throw scanner.error(
                    .tooDeep, "containers are nested more than \(JSONFieldExtractor.maximumDepth) deep")
            }
            let children = nodes[node].children
            scanner.depth &+= 1
            scanner.pos &+= 1
            scanner.skipWhitespace()
            if scanner.pos < scanner.end && scanner.base[scanner.pos] == JSONScanner.closeBrace {
                scanner.pos &+= 1
                scanner.depth &-= 1
                return
            }
            while true {
                guard scanner.pos < scanner.end && scanner.base[scanner.pos] == JSONScanner.quote else {
                    throw scanner.unexpected("a string key")
                }
                let keyStart = scanner.pos &+ 1
                let escaped = try scanner.scanString()
                let keyRange = keyStart..<(scanner.pos &- 1)
                scanner.skipWhitespace()
                try scanner.expect(JSONScanner.colon, "':' after an object key")
                scanner.skipWhitespace()

                var match = -1
                var child = children.lowerBound
                while child < children.upperBound {
                    let name = nodes[child].name
                    if scanner.decodedEquals(
                        keyRange, escaped: escaped,
                        UnsafeBufferPointer(start: names + name.lowerBound, count: name.count))
                    {
                        match = child
                        break
                    }
                    child &+= 1
                }
                if match >= 0 {
                    try scanMatchedValue(node: match, &scanner)
                } else {
                    _ = try scanner.skipValue()
                }

                scanner.skipWhitespace()
                guard scanner.pos < scanner.end else {
                    throw scanner.unexpected("',' or '}'")
                }
                let byte = scanner.base[scanner.pos]
                if byte == JSONScanner.comma {
                    scanner.pos &+= 1
                    scanner.skipWhitespace()
                } else if byte == JSONScanner.closeBrace {
                    scanner.pos &+= 1
                    scanner.depth &-= 1
                    return
                } else {
                    throw scanner.unexpected("',' or '}' after an object member")
                }
            }
        }

        /// Scans the value of a key that matched a path node, recording it and descending if needed.
        func scanMatchedValue(node: Int, _ scanner: inout JSONScanner) throws(JSONFieldError) {
            let entry = nodes[node]
            // Last wins: a repeated key replaces everything an earlier occurrence contributed.
            var index = entry.subtreeFields.lowerBound
            while index < entry.subtreeFields.upperBound {
                fields[fieldLists[index]] = .missing
                index &+= 1
            }
            let start = scanner.pos
            let kind: JSONField.Kind
            if scanner.pos < scanner.end && scanner.base[scanner.pos] == JSONScanner.openBrace
                && !entry.children.isEmpty
            {
                try scanObject(node: node, &scanner)
                kind = .object
            } else {
                kind = try scanner.skipValue()
            }
            index = entry.fields.lowerBound
            while index < entry.fields.upperBound {
                fields[fieldLists[index]] = JSONField(kind: kind, range: start..<scanner.pos)
                index &+= 1
            }
        }
    }

    /// Clears `key` and appends the canonical encoding of several fields, as one composite key.
    ///
    /// Call after ``extract(from:)`` with the same line. Errors name the offending path.
    ///
    /// - Parameters:
    ///   - indices: Which ``fields`` make up the key, in order.
    ///   - line: The line last passed to ``extract(from:)``.
    ///   - key: A reusable buffer; it is cleared keeping its capacity.
    /// - Throws: ``JSONFieldError/Code/missingField`` for a missing or `null` field,
    ///   ``JSONFieldError/Code/nonScalarKey`` for an object or array, and the errors of
    ///   ``JSONCanonicalKey/append(_:of:to:)``.
    public func encodeKey(
        fields indices: Range<Int>,
        of line: UnsafeRawBufferPointer,
        into key: inout [UInt8]
    ) throws(JSONFieldError) {
        key.removeAll(keepingCapacity: true)
        for index in indices {
            do throws(JSONFieldError) {
                try JSONCanonicalKey.append(fields[index], of: line, to: &key)
            } catch {
                throw JSONFieldError(error.code, "key field '\(paths[index])': \(error.message)", offset: error.offset)
            }
        }
    }
}

extension JSONFieldExtractor {
    /// ``extract(from:)`` over a record's bytes (a slice of a batch buffer).
    ///
    /// - Throws: As ``extract(from:)``.
    @inline(__always)
    public mutating func extract(from bytes: ArraySlice<UInt8>) throws(JSONFieldError) {
        let error: JSONFieldError? = bytes.withUnsafeBytes { raw in
            do throws(JSONFieldError) {
                try extract(from: raw)
                return nil
            } catch {
                return error
            }
        }
        if let error { throw error }
    }
}
