internal import CStreamsRdKafka

/// One record a ``KafkaConsumer`` read, seen through its ``KafkaMessageBatch``.
///
/// - Important: A message borrows librdkafka's buffer: it, and the pointers ``key`` and ``value``
///   hand out, are valid only until its batch is cleared, polled into again or destroyed. Copy
///   with ``keyBytes`` / ``valueBytes`` to keep them longer.
public struct KafkaMessage {
    let message: UnsafeMutablePointer<rd_kafka_message_t>

    init(_ message: UnsafeMutablePointer<rd_kafka_message_t>) { self.message = message }

    /// The topic's name (a new `String`; compare ``partition`` first on a hot path).
    public var topic: String { String(cString: rd_kafka_topic_name(message.pointee.rkt)) }

    /// The partition the record was read from.
    public var partition: Int32 { message.pointee.partition }

    /// The record's offset in its partition.
    public var offset: Int64 { message.pointee.offset }

    /// The topic and partition.
    public var topicPartition: KafkaTopicPartition { KafkaTopicPartition(topic: topic, partition: partition) }

    /// The key's bytes, or `nil` for a record without key. Borrowed from the batch.
    public var key: UnsafeRawBufferPointer? {
        guard let pointer = message.pointee.key else { return nil }
        return UnsafeRawBufferPointer(start: pointer, count: message.pointee.key_len)
    }

    /// The value's bytes, or `nil` for a record without value (a tombstone). Borrowed from the batch.
    public var value: UnsafeRawBufferPointer? {
        guard let pointer = message.pointee.payload else { return nil }
        return UnsafeRawBufferPointer(start: pointer, count: message.pointee.len)
    }

    /// A copy of the key's bytes.
    public var keyBytes: [UInt8]? { key.map { Array($0) } }

    /// A copy of the value's bytes.
    public var valueBytes: [UInt8]? { value.map { Array($0) } }

    /// The record's timestamp in milliseconds since the Unix epoch, or `nil` when it has none.
    public var timestampMs: Int64? {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ms = rd_kafka_message_timestamp(message, &type)
        return type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : ms
    }

    /// Whether ``timestampMs`` was set by the producer (`CreateTime`) rather than by the broker
    /// when it appended the record (`LogAppendTime`).
    public var isCreateTime: Bool {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        _ = rd_kafka_message_timestamp(message, &type)
        return type == RD_KAFKA_TIMESTAMP_CREATE_TIME
    }

    /// The record's headers, copied, in order (a name may repeat).
    public var headers: [KafkaHeader] {
        var headers: OpaquePointer?
        guard rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers else {
            return []
        }
        var result: [KafkaHeader] = []
        result.reserveCapacity(rd_kafka_header_cnt(headers))
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(headers, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
            result.append(KafkaHeader(name: String(cString: name!), value: bytes))
            index += 1
        }
        return result
    }
}

/// A record header: a name and an optional value.
public struct KafkaHeader: Sendable, Hashable {
    /// The header's name.
    public var name: String
    /// The header's value, or `nil` for a header without value.
    public var value: [UInt8]?

    /// Creates a header.
    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }

    /// Creates a header whose value is the UTF-8 bytes of `text`.
    public init(name: String, text: String) {
        self.init(name: name, value: Array(text.utf8))
    }
}
