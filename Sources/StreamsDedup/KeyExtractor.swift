public import StreamsCore
internal import StreamsJSON

/// How the deduplicator finds a record's business key: the record key, a header, a JSON field of
/// the value (dotted path such as `order.id`), a closure, or several of them as a composite key.
///
/// Keys compare by value: each part is encoded as a self-delimiting component (tag, length,
/// bytes), so composite keys are unambiguous; JSON strings compare by their characters (escapes
/// decoded) and JSON numbers by numeric value (`1`, `1.0` and `1e0` are the same key), using
/// StreamsJSON's canonical encoding. A missing part, or a JSON field that is `null`, an object or
/// an array, makes the record invalid (``StreamsError/Code/invalidRecord``); a value that is not
/// a JSON object makes it undecodable (``StreamsError/Code/deserialization``). Both go through the
/// task's ``DeserializationErrorPolicy``.
///
/// ```swift
/// let key: KeyExtractor = .composite([.jsonField("customer"), .jsonField("order.id")])
/// ```
public struct KeyExtractor: Sendable {
    enum Part: Sendable {
        case recordKey
        case header(String)
        case jsonField(String)
        case custom(@Sendable (Record) throws -> [UInt8]?)
    }

    let parts: [Part]

    /// The record's key bytes.
    public static var recordKey: KeyExtractor { KeyExtractor(parts: [.recordKey]) }

    /// The value of the first header named `name`.
    public static func header(_ name: String) -> KeyExtractor { KeyExtractor(parts: [.header(name)]) }

    /// A scalar field of the record's JSON value, by dotted path (`"order.id"`); strings, numbers
    /// and booleans are keys, compared by value.
    public static func jsonField(_ path: String) -> KeyExtractor { KeyExtractor(parts: [.jsonField(path)]) }

    /// Bytes computed by a closure; return `nil` for an invalid record. Convenient, but the closure
    /// allocates an array per record, unlike the built-in extractors.
    public static func custom(_ body: @escaping @Sendable (Record) throws -> [UInt8]?) -> KeyExtractor {
        KeyExtractor(parts: [.custom(body)])
    }

    /// The parts of every extractor in `extractors`, in order, as one key.
    ///
    /// - Precondition: At least one part.
    public static func composite(_ extractors: [KeyExtractor]) -> KeyExtractor {
        let parts = extractors.flatMap(\.parts)
        precondition(!parts.isEmpty, "a composite key needs at least one part")
        return KeyExtractor(parts: parts)
    }

    /// The size in bytes of the store key the ``Deduplicator`` builds with ``recordKey`` from a
    /// record key of `count` bytes: a tag, the LEB128 length, then the bytes. An engine compares it
    /// with its store's key limit to judge an oversized key invalid before it reaches the store.
    public static func recordKeyStoredSize(_ count: Int) -> Int {
        var lengthBytes = 1
        var rest = UInt64(count) >> 7
        while rest != 0 {
            lengthBytes += 1
            rest >>= 7
        }
        return 1 + lengthBytes + count
    }

    /// The exact bytes under which the ``Deduplicator`` stores `record`'s key, for tools that
    /// look keys up in a store (`dedup inspect --key`). Not for the hot path: it compiles the
    /// extractor on every call.
    ///
    /// - Throws: ``StreamsError`` as the deduplicator would for this record.
    public func storeKey(for record: Record) throws(StreamsError) -> [UInt8] {
        var compiled = try compile()
        var key: [UInt8] = []
        try compiled.extract(record, into: &key)
        return key
    }

    /// Checks the JSON paths and prepares a per-processor extractor.
    func compile() throws(StreamsError) -> CompiledKeyExtractor {
        var paths: [JSONFieldPath] = []
        var compiled: [CompiledKeyExtractor.Part] = []
        for part in parts {
            switch part {
            case .recordKey: compiled.append(.recordKey)
            case .header(let name): compiled.append(.header(name))
            case .custom(let body): compiled.append(.custom(body))
            case .jsonField(let path):
                do {
                    paths.append(try JSONFieldPath(path))
                } catch {
                    throw StreamsError(.invalidConfiguration, "invalid key field path '\(path)': \(error.message)")
                }
                compiled.append(.jsonField(index: paths.count - 1))
            }
        }
        return CompiledKeyExtractor(
            parts: compiled,
            json: paths.isEmpty ? nil : JSONFieldExtractor(paths: paths)
        )
    }
}

/// A ``KeyExtractor`` ready to run, owned by one processor (its JSON extractor reuses storage).
struct CompiledKeyExtractor {
    enum Part {
        case recordKey
        case header(String)
        case jsonField(index: Int)
        case custom(@Sendable (Record) throws -> [UInt8]?)
    }

    static let recordKeyTag = UInt8(ascii: "k")
    static let headerTag = UInt8(ascii: "h")
    static let customTag = UInt8(ascii: "c")

    let parts: [Part]
    var json: JSONFieldExtractor?
    /// The key is the record key alone (what a source's key extractor gave the record): the
    /// record path's case, taken without iterating `parts` or copying the key's slice.
    private let recordKeyOnly: Bool

    init(parts: [Part], json: JSONFieldExtractor?) {
        self.parts = parts
        self.json = json
        if parts.count == 1, case .recordKey = parts[0] { recordKeyOnly = true } else { recordKeyOnly = false }
    }

    /// Clears `key` and writes the record's business key into it.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/invalidRecord`` or
    ///   ``StreamsError/Code/deserialization``.
    mutating func extract(_ record: Record, into key: inout [UInt8]) throws(StreamsError) {
        key.removeAll(keepingCapacity: true)
        if recordKeyOnly {
            let found: Void? = record.key?.withUnsafeBytes { bytes in
                Self.appendComponent(Self.recordKeyTag, bytes, to: &key)
            }
            if found == nil { throw StreamsError(.invalidRecord, "the record has no key", origin: record.origin) }
            return
        }
        if json != nil {
            do throws(JSONFieldError) {
                try json!.extract(from: record.value)
            } catch {
                throw StreamsError(.deserialization, "the value is not a JSON object: \(error)", origin: record.origin)
            }
        }
        for part in parts {
            switch part {
            case .recordKey:
                guard let bytes = record.key else {
                    throw StreamsError(.invalidRecord, "the record has no key", origin: record.origin)
                }
                Self.appendComponent(Self.recordKeyTag, bytes, to: &key)
            case .header(let name):
                guard let bytes = record.header(named: name) else {
                    throw StreamsError(.invalidRecord, "the record has no header '\(name)'", origin: record.origin)
                }
                Self.appendComponent(Self.headerTag, bytes, to: &key)
            case .jsonField(let index):
                let field = json.unsafelyUnwrapped[index]
                let error: JSONFieldError? = record.value.withUnsafeBytes { bytes in
                    do throws(JSONFieldError) {
                        try JSONCanonicalKey.append(field, of: bytes, to: &key)
                        return nil
                    } catch {
                        return error
                    }
                }
                if let error {
                    throw StreamsError(
                        .invalidRecord,
                        "key field '\(json.unsafelyUnwrapped.paths[index])': \(error.message)",
                        origin: record.origin
                    )
                }
            case .custom(let body):
                let bytes = try RecordKeyExtractor.customKey(body, of: record)
                Self.appendComponent(Self.customTag, bytes, to: &key)
            }
        }
    }

    /// Appends `tag`, the LEB128 length of `bytes`, then `bytes`.
    static func appendComponent(_ tag: UInt8, _ bytes: some Collection<UInt8>, to key: inout [UInt8]) {
        key.append(tag)
        var length = UInt64(bytes.count)
        repeat {
            let low = UInt8(length & 0x7F)
            length >>= 7
            key.append(length == 0 ? low : low | 0x80)
        } while length != 0
        key.append(contentsOf: bytes)
    }
}
