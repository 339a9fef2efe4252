/// One partition of one input or output: a topic name (or, for the embedded engine, an input name)
/// and a partition number.
///
/// Kafka counterpart: `org.apache.kafka.common.TopicPartition`.
public struct TopicPartition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The topic (or input) name.
    public var topic: String
    /// The partition number, from 0.
    public var partition: Int32

    /// Creates a topic partition.
    public init(topic: String, partition: Int32 = 0) {
        self.topic = topic
        self.partition = partition
    }

    /// `"<topic>-<partition>"`, as Kafka prints it.
    public var description: String { "\(topic)-\(partition)" }

    /// Orders by topic, then partition.
    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }
}
