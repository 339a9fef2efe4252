/// Converts between values of one type and the bytes of record keys and values.
///
/// Records carry bytes; a processor that wants typed keys or values decodes them with a serde.
/// Decoding failures should throw ``StreamsError`` with code ``StreamsError/Code/deserialization``
/// so that the task's ``DeserializationErrorPolicy`` applies.
///
/// Kafka Streams counterpart: `org.apache.kafka.common.serialization.Serde`.
public protocol Serde<Value>: Sendable {
    /// The type this serde converts.
    associatedtype Value

    /// Encodes `value`.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/serialization``.
    func serialize(_ value: Value) throws(StreamsError) -> [UInt8]

    /// Decodes `bytes`.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/deserialization``.
    func deserialize(_ bytes: ArraySlice<UInt8>) throws(StreamsError) -> Value
}

/// Bytes as they are.
public struct BytesSerde: Serde {
    /// Creates the serde.
    public init() {}

    /// Returns `value`.
    public func serialize(_ value: [UInt8]) throws(StreamsError) -> [UInt8] { value }

    /// Copies `bytes` into an array.
    public func deserialize(_ bytes: ArraySlice<UInt8>) throws(StreamsError) -> [UInt8] { Array(bytes) }
}

/// UTF-8 strings; invalid UTF-8 is a deserialization error.
public struct StringSerde: Serde {
    /// Creates the serde.
    public init() {}

    /// The UTF-8 bytes of `value`.
    public func serialize(_ value: String) throws(StreamsError) -> [UInt8] { Array(value.utf8) }

    /// Decodes UTF-8 `bytes`.
    ///
    /// - Throws: ``StreamsError/Code/deserialization`` for bytes that are not valid UTF-8.
    public func deserialize(_ bytes: ArraySlice<UInt8>) throws(StreamsError) -> String {
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw StreamsError(.deserialization, "the bytes are not valid UTF-8")
        }
        return string
    }
}

extension Serde where Self == BytesSerde {
    /// Bytes as they are.
    public static var bytes: BytesSerde { BytesSerde() }
}

extension Serde where Self == StringSerde {
    /// UTF-8 strings.
    public static var string: StringSerde { StringSerde() }
}

extension Record {
    /// The value decoded with `serde`.
    ///
    /// - Throws: The serde's ``StreamsError`` (code ``StreamsError/Code/deserialization``), with this
    ///   record's origin filled in.
    @inlinable
    public func value<S: Serde>(as serde: S) throws(StreamsError) -> S.Value {
        do { return try serde.deserialize(value) } catch {
            var error = error
            if error.origin == nil { error.origin = origin }
            throw error
        }
    }

    /// The key decoded with `serde`, or `nil` if the record has no key.
    ///
    /// - Throws: The serde's ``StreamsError`` (code ``StreamsError/Code/deserialization``), with this
    ///   record's origin filled in.
    @inlinable
    public func key<S: Serde>(as serde: S) throws(StreamsError) -> S.Value? {
        guard let key else { return nil }
        do { return try serde.deserialize(key) } catch {
            var error = error
            if error.origin == nil { error.origin = origin }
            throw error
        }
    }
}
