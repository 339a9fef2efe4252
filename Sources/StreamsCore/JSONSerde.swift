#if canImport(FoundationEssentials)
    internal import FoundationEssentials
#else
    internal import Foundation
#endif

/// `Codable` values as JSON, with Foundation's encoder and decoder.
///
/// Meant for convenience in user processors; the deduplicator never decodes whole records (it uses
/// the allocation-free field extractor of StreamsJSON).
public struct JSONSerde<Value: Codable>: Serde {
    /// Creates the serde.
    public init(_ type: Value.Type = Value.self) {}

    /// Encodes `value` as JSON.
    ///
    /// - Throws: ``StreamsError/Code/serialization`` when the encoder fails.
    public func serialize(_ value: Value) throws(StreamsError) -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(value))
        } catch {
            throw StreamsError(.serialization, "cannot encode \(Value.self) as JSON", underlying: error)
        }
    }

    /// Decodes JSON `bytes`.
    ///
    /// - Throws: ``StreamsError/Code/deserialization`` when the bytes are not JSON of that shape.
    public func deserialize(_ bytes: ArraySlice<UInt8>) throws(StreamsError) -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: Data(bytes))
        } catch {
            throw StreamsError(
                .deserialization,
                "the value is not JSON for \(Value.self): \(error)",
                underlying: error
            )
        }
    }
}

extension Serde {
    /// `Codable` values as JSON: `record.value(as: .json(Order.self))`.
    public static func json<V: Codable>(_ type: V.Type) -> JSONSerde<V> where Self == JSONSerde<V> {
        JSONSerde(type)
    }
}
