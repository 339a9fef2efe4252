/// A change of a ``KafkaConsumer``'s partition assignment, delivered to the handler given to
/// ``KafkaConsumer/subscribe(topics:onRebalance:startingOffsets:)`` inside ``KafkaConsumer/poll(into:maxMessages:timeout:)``.
///
/// Kafka Streams' counterpart is `ConsumerRebalanceListener` (`onPartitionsAssigned`,
/// `onPartitionsRevoked`, `onPartitionsLost`).
public enum KafkaRebalanceEvent: Sendable, Hashable {
    /// The partitions are now this consumer's. Delivered after librdkafka assigned them, so the
    /// handler may read their committed offsets, pause them or seek in them. With the eager
    /// protocol (the `range` default) this is the whole new assignment.
    case assigned([KafkaTopicPartition])
    /// The partitions are about to be taken away in an orderly rebalance: the handler may still
    /// commit for them (a transaction of theirs, their offsets) before it returns; they are
    /// unassigned after it returns.
    case revoked([KafkaTopicPartition])
    /// The partitions were lost (the group moved on without this member, for example after
    /// `max.poll.interval.ms` or a session timeout): another member may own them already, so the
    /// handler must not commit for them; close their tasks dirty.
    case lost([KafkaTopicPartition])
    /// The group reported an error instead of an assignment; the consumer dropped its assignment.
    case failed(KafkaError)
}
