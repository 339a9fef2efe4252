public import StreamsCore

/// A record as tests write and read it: owned arrays instead of slices, comparable with `==`.
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.test.TestRecord`.
public struct TestRecord: Sendable, Hashable, CustomStringConvertible {
    /// The key bytes, or `nil`.
    public var key: [UInt8]?
    /// The value bytes.
    public var value: [UInt8]
    /// The event time, in milliseconds since the epoch.
    public var timestampMs: Int64
    /// The headers.
    public var headers: [RecordHeader]

    /// Creates a record from bytes.
    public init(key: [UInt8]?, value: [UInt8], timestampMs: Int64, headers: [RecordHeader] = []) {
        self.key = key
        self.value = value
        self.timestampMs = timestampMs
        self.headers = headers
    }

    /// Creates a record from UTF-8 strings.
    public init(key: String?, value: String, timestampMs: Int64, headers: [RecordHeader] = []) {
        self.init(key: key.map { Array($0.utf8) }, value: Array(value.utf8), timestampMs: timestampMs, headers: headers)
    }

    /// Copies a runtime record.
    public init(_ record: Record) {
        self.init(
            key: record.key.map { Array($0) },
            value: Array(record.value),
            timestampMs: record.timestampMs,
            headers: record.headers
        )
    }

    /// The key as UTF-8 text, or `nil` without key.
    public var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
    /// The value as UTF-8 text.
    public var valueString: String { String(decoding: value, as: UTF8.self) }

    /// The value of the first header named `name`, as UTF-8 text.
    public func headerString(_ name: String) -> String? {
        headers.first { $0.name == name }?.value.map { String(decoding: $0, as: UTF8.self) }
    }

    /// `"key=value@timestamp"`.
    public var description: String { "\(keyString ?? "nil")=\(valueString)@\(timestampMs)" }

    var runtimeRecord: Record {
        Record(key: key, value: value, timestampMs: timestampMs, headers: headers)
    }
}
