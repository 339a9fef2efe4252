internal import CStreamsRdKafka

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// One partition of one topic.
public struct KafkaTopicPartition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The topic's name.
    public var topic: String
    /// The partition number, from 0.
    public var partition: Int32

    /// Creates a topic-partition.
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// Orders by topic, then partition.
    public static func < (a: Self, b: Self) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }

    /// `topic[partition]`, as librdkafka prints it.
    public var description: String { "\(topic)[\(partition)]" }
}

/// A position in a partition: an offset and, for committed offsets, the metadata string stored
/// with it (the runtime keeps the task's stream time there, like Kafka Streams).
public struct KafkaTopicPartitionOffset: Sendable, Hashable, CustomStringConvertible {
    /// The partition.
    public var topicPartition: KafkaTopicPartition
    /// The offset, or `nil` when there is none (no committed offset, no position yet).
    ///
    /// A committed offset is the offset of the *next* record to read (last processed + 1).
    public var offset: Int64?
    /// The metadata committed with the offset (`nil` when none).
    public var metadata: String?

    /// The logical offset "the first record still in the partition" (`RD_KAFKA_OFFSET_BEGINNING`),
    /// for ``KafkaConsumer/seek(_:timeout:)``.
    public static let beginning: Int64 = -2
    /// The logical offset "after the last record" (`RD_KAFKA_OFFSET_END`), for ``KafkaConsumer/seek(_:timeout:)``.
    public static let end: Int64 = -1

    /// Creates a position.
    public init(_ topicPartition: KafkaTopicPartition, offset: Int64?, metadata: String? = nil) {
        self.topicPartition = topicPartition
        self.offset = offset
        self.metadata = metadata
    }

    /// Creates a position from a topic name and partition number.
    public init(topic: String, partition: Int32, offset: Int64?, metadata: String? = nil) {
        self.init(KafkaTopicPartition(topic: topic, partition: partition), offset: offset, metadata: metadata)
    }

    /// `topic[partition]@offset`.
    public var description: String {
        "\(topicPartition)@\(offset.map(String.init) ?? "none")" + (metadata.map { " (\($0))" } ?? "")
    }
}

/// Conversions between the Swift types and `rd_kafka_topic_partition_list_t`.
enum PartitionList {
    /// `RD_KAFKA_OFFSET_INVALID`: no offset.
    static let invalidOffset: Int64 = -1001

    /// A new C list for `partitions`, offsets and metadata included. The caller destroys it.
    static func make(_ offsets: [KafkaTopicPartitionOffset]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))!
        for entry in offsets {
            let element = rd_kafka_topic_partition_list_add(
                list, entry.topicPartition.topic, entry.topicPartition.partition)!
            element.pointee.offset = entry.offset ?? invalidOffset
            if let metadata = entry.metadata {
                // librdkafka frees `metadata` with free() when the list is destroyed.
                let bytes = Array(metadata.utf8)
                let copy = malloc(max(bytes.count, 1))!
                bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
                element.pointee.metadata = copy
                element.pointee.metadata_size = bytes.count
            }
        }
        return list
    }

    /// A new C list for `partitions` without offsets. The caller destroys it.
    static func make(_ partitions: [KafkaTopicPartition]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        make(partitions.map { KafkaTopicPartitionOffset($0, offset: nil) })
    }

    /// The partitions of a C list.
    static func partitions(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>?) -> [KafkaTopicPartition] {
        guard let list, list.pointee.cnt > 0 else { return [] }
        return (0..<Int(list.pointee.cnt)).map { i in
            let e = list.pointee.elems[i]
            return KafkaTopicPartition(topic: String(cString: e.topic), partition: e.partition)
        }
    }

    /// The offsets and metadata of a C list; the first per-partition error is thrown.
    static func offsets(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>, operation: String)
        throws(KafkaError) -> [KafkaTopicPartitionOffset]
    {
        var result: [KafkaTopicPartitionOffset] = []
        result.reserveCapacity(Int(list.pointee.cnt))
        for i in 0..<Int(list.pointee.cnt) {
            let e = list.pointee.elems[i]
            let tp = KafkaTopicPartition(topic: String(cString: e.topic), partition: e.partition)
            try check(e.err, "\(operation) \(tp)")
            var metadata: String?
            if let pointer = e.metadata, e.metadata_size > 0 {
                metadata = String(
                    decoding: UnsafeRawBufferPointer(start: pointer, count: e.metadata_size), as: UTF8.self)
            }
            result.append(KafkaTopicPartitionOffset(tp, offset: e.offset < 0 ? nil : e.offset, metadata: metadata))
        }
        return result
    }
}
