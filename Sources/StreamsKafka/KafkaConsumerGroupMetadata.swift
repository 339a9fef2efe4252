internal import CStreamsRdKafka

/// A snapshot of a consumer's group membership (group id, generation, member id), for
/// ``KafkaProducer/sendOffsetsToTransaction(_:groupMetadata:timeout:)``: the broker uses it to
/// reject offsets from a member that has been fenced out of the group by a rebalance.
///
/// Take a fresh one from ``KafkaConsumer/groupMetadata()`` for each commit; it does not follow
/// later rebalances.
public final class KafkaConsumerGroupMetadata {
    let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }

    deinit { rd_kafka_consumer_group_metadata_destroy(handle) }
}
