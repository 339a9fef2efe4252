/// One record flowing through a topology: optional key bytes, value bytes, an event timestamp,
/// headers, and where it came from.
///
/// Key and value are `ArraySlice` views, normally into one buffer per poll batch that the engine
/// owns, so that creating, copying and forwarding a record allocates nothing. Headers default to
/// an empty array, which does not allocate either.
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.processor.api.Record`. Records here are
/// untyped bytes; processors that want typed keys and values use a ``Serde``. Change a record by
/// mutating a copy (`var out = record; out.value = …`) rather than with `withValue(…)`.
public struct Record: Sendable {
    /// The record's key bytes, or `nil` for a record without key.
    public var key: ArraySlice<UInt8>?
    /// The record's value bytes.
    public var value: ArraySlice<UInt8>
    /// The record's event time, in milliseconds since the epoch.
    public var timestampMs: Int64
    /// The record's headers, in order; several headers may share a name.
    public var headers: [RecordHeader]
    /// The input and position the record was read from, or `nil` for a record a processor made.
    public var origin: RecordOrigin?

    /// Creates a record from slices (normally views into an engine-owned batch buffer).
    ///
    /// - Parameters:
    ///   - key: The key bytes, or `nil`.
    ///   - value: The value bytes.
    ///   - timestampMs: The event time, in milliseconds since the epoch.
    ///   - headers: The headers; empty by default.
    ///   - origin: Where the record was read from; `nil` for records made by a processor.
    @inlinable
    public init(
        key: ArraySlice<UInt8>?,
        value: ArraySlice<UInt8>,
        timestampMs: Int64,
        headers: [RecordHeader] = [],
        origin: RecordOrigin? = nil
    ) {
        self.key = key
        self.value = value
        self.timestampMs = timestampMs
        self.headers = headers
        self.origin = origin
    }

    /// Creates a record from arrays; convenient in tests and for records a processor builds.
    ///
    /// - Parameters:
    ///   - key: The key bytes, or `nil`.
    ///   - value: The value bytes.
    ///   - timestampMs: The event time, in milliseconds since the epoch.
    ///   - headers: The headers; empty by default.
    ///   - origin: Where the record was read from; `nil` for records made by a processor.
    @inlinable
    public init(
        key: [UInt8]?,
        value: [UInt8],
        timestampMs: Int64,
        headers: [RecordHeader] = [],
        origin: RecordOrigin? = nil
    ) {
        self.init(
            key: key.map { $0[...] },
            value: value[...],
            timestampMs: timestampMs,
            headers: headers,
            origin: origin
        )
    }

    /// The bytes of the headers' names and values (what a record's size counts for them).
    @inlinable
    public var headerBytes: Int {
        var count = 0
        for header in headers { count += header.name.utf8.count + (header.value?.count ?? 0) }
        return count
    }

    /// The value of the first header named `name`, or `nil` if there is none (or it has no value).
    @inlinable
    public func header(named name: String) -> [UInt8]? {
        for header in headers where header.name == name {
            return header.value
        }
        return nil
    }
}

/// One record header: a name and optional value bytes.
///
/// Kafka Streams counterpart: `org.apache.kafka.common.header.Header`.
public struct RecordHeader: Sendable, Hashable {
    /// The header's name.
    public var name: String
    /// The header's value, or `nil` for a header without value.
    public var value: [UInt8]?

    /// Creates a header.
    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }

    /// Creates a header whose value is the UTF-8 bytes of `value`.
    public init(name: String, string value: String) {
        self.init(name: name, value: Array(value.utf8))
    }
}

/// Where a record was read from: an input partition and the record's offset in it.
///
/// The meaning of `offset` belongs to the engine: a Kafka offset for the Kafka engine; for the
/// embedded engine the byte offset just *after* the record's line (its newline included), which is
/// where reading resumes once the line is committed. It increases along a partition, and the
/// runtime commits the offset of the last record it processed (see ``TaskCommit``); the engine
/// turns that into its resume position (Kafka: offset + 1; embedded: the offset itself).
///
/// Kafka Streams counterpart: `RecordMetadata` (`topic()`, `partition()`, `offset()`).
public struct RecordOrigin: Sendable, Hashable, CustomStringConvertible {
    /// The input partition.
    public var partition: TopicPartition
    /// The record's position within the partition.
    public var offset: Int64

    /// Creates an origin.
    public init(partition: TopicPartition, offset: Int64) {
        self.partition = partition
        self.offset = offset
    }

    /// `"<topic>-<partition>@<offset>"`.
    public var description: String { "\(partition)@\(offset)" }
}
