internal import CStreamsRdKafka

/// A reusable buffer of records read by ``KafkaConsumer/poll(into:maxMessages:timeout:)``.
///
/// The batch owns librdkafka's messages: they stay valid until the next poll into the batch,
/// ``removeAll()`` or the end of the batch's life, which is what lets a record borrow its key and
/// value bytes without copying them.
///
/// While it holds messages the batch keeps the consumer they came from alive: librdkafka's
/// `rd_kafka_destroy` waits for every message to be destroyed, so a consumer released before a
/// batch of its messages would hang its thread forever.
///
/// - Important: Not `Sendable`; use it on the thread that polls, and clear it (``removeAll()``)
///   before closing its consumer.
public struct KafkaMessageBatch: ~Copyable {
    private let storage: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>>
    /// How many messages a poll may put in the batch.
    public let capacity: Int
    /// How many messages the batch holds.
    public private(set) var count: Int = 0
    /// Non-fatal errors the consumer reported during the last poll (a broker went away, a topic
    /// does not exist yet). librdkafka recovers from these by itself; log them.
    public var errors: [KafkaError] = []
    /// The partitions whose end the last poll reached (`enable.partition.eof=true`), with the end
    /// offset: the high watermark, or for `read_committed` the last stable offset.
    public var partitionEnds: [KafkaTopicPartitionOffset] = []
    /// The consumer of the messages held, kept alive until they are destroyed.
    private var owner: AnyObject?

    /// Creates an empty batch that holds up to `capacity` messages.
    public init(capacity: Int = 500) {
        precondition(capacity > 0, "a batch holds at least one message")
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit {
        for i in 0..<count { rd_kafka_message_destroy(storage[i]) }
        storage.deallocate()
        // `owner` is released after this body: after the messages.
    }

    /// Whether the batch holds no message.
    public var isEmpty: Bool { count == 0 }

    /// The message at `index` (`0..<count`). Valid until the batch is cleared or polled into again.
    public subscript(index: Int) -> KafkaMessage {
        precondition(index >= 0 && index < count, "message index \(index) out of 0..<\(count)")
        return KafkaMessage(storage[index])
    }

    /// Releases every message (and its bytes) and the recorded errors.
    public mutating func removeAll() {
        for i in 0..<count { rd_kafka_message_destroy(storage[i]) }
        count = 0
        owner = nil
        errors.removeAll(keepingCapacity: true)
        partitionEnds.removeAll(keepingCapacity: true)
    }

    /// Appends a message of `consumer`'s; the batch takes ownership (and keeps `consumer` alive).
    mutating func append(_ message: UnsafeMutablePointer<rd_kafka_message_t>, of consumer: AnyObject) {
        precondition(count < capacity)
        if owner == nil { owner = consumer }
        storage[count] = message
        count += 1
    }
}
