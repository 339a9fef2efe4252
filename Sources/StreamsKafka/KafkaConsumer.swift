internal import CStreamsRdKafka

/// A Kafka consumer in a consumer group (librdkafka's high-level consumer): subscribes to topics,
/// reports partition assignment changes as ``KafkaRebalanceEvent``s, and reads batches of records.
///
/// Defaults (each can be overridden in the configuration): `partition.assignment.strategy=range`,
/// the eager protocol, which revokes every partition at each rebalance and so never leaves a task
/// half moved (librdkafka 2.0.2's cooperative protocol has known hangs; see docs/kafka.md).
///
/// Kafka Streams' counterpart is the `Consumer` its `StreamThread` polls.
///
/// - Important: Not `Sendable`. Create, poll, commit and close a consumer on one thread; the
///   rebalance handler runs on that thread, inside ``poll(into:maxMessages:timeout:)`` or ``close()``.
public final class KafkaConsumer {
    /// The librdkafka callbacks' view of this consumer: the handler and the errors to report.
    final class Callbacks {
        weak var consumer: KafkaConsumer?
        var onRebalance: ((KafkaConsumer, KafkaRebalanceEvent) -> Void)?
        var startingOffsets: ((KafkaConsumer, [KafkaTopicPartition]) -> [KafkaTopicPartitionOffset])?
        var errors: [KafkaError] = []
    }

    /// The configuration the consumer was created with (defaults included).
    public let configuration: KafkaConfiguration
    let handle: OpaquePointer
    private let callbacks: Callbacks
    private var closed = false

    /// The properties a consumer gets unless the configuration sets them.
    public static let defaultProperties: [String: String] = [
        "partition.assignment.strategy": "range"
    ]

    /// Creates a consumer; it joins its group (`group.id`, required) at ``subscribe(topics:onRebalance:startingOffsets:)``.
    ///
    /// - Throws: ``KafkaError`` of class ``KafkaError/Class/permanent`` for a bad or missing property.
    public init(configuration: KafkaConfiguration) throws(KafkaError) {
        guard configuration["group.id"] != nil else {
            throw KafkaError(
                code: .invalidArgument, errorClass: .permanent, message: "group.id is not set",
                operation: "create consumer")
        }
        let callbacks = Callbacks()
        let conf = try configuration.makeConf(defaults: Self.defaultProperties)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
        rd_kafka_conf_set_rebalance_cb(conf, kafkaRebalanceCallback)
        handle = try KafkaClient.make(RD_KAFKA_CONSUMER, conf: conf, operation: "create consumer")
        var effective = configuration
        for (name, value) in Self.defaultProperties where effective[name] == nil { effective[name] = value }
        self.configuration = effective
        self.callbacks = callbacks
        // Serve the main queue (logs, errors, rebalances) from consumer_poll.
        rd_kafka_poll_set_consumer(handle)
        callbacks.consumer = self
    }

    deinit {
        // rd_kafka_destroy closes the consumer first if close() was not called (the rebalance
        // handler is not called then: `callbacks.consumer` is already nil).
        rd_kafka_destroy(handle)
    }

    /// Subscribes to `topics` (replacing an earlier subscription); the group assigns partitions
    /// during later polls.
    ///
    /// - Parameters:
    ///   - topics: Topic names (a name starting with `^` is a regular expression).
    ///   - onRebalance: Called on the polling thread for each assignment change, before the
    ///     consumer's assignment is changed for revocations and after it for assignments. It gets
    ///     the consumer to call ``committed(_:timeout:)``, ``pause(_:)``, ``seek(_:timeout:)`` with.
    ///   - startingOffsets: Called on the polling thread when partitions are assigned, before they
    ///     are: returns where each starts (an offset, ``KafkaTopicPartitionOffset/beginning`` or
    ///     ``KafkaTopicPartitionOffset/end``). A partition it leaves out, or returns with a `nil`
    ///     offset, starts at its committed offset (librdkafka fetches it after the assignment, or
    ///     applies `auto.offset.reset`). It may call ``committed(_:timeout:)``. Starting where the
    ///     application will read spares the fetch that a ``seek(_:timeout:)`` after the assignment
    ///     would throw away.
    /// - Throws: ``KafkaError`` when librdkafka rejects the subscription.
    public func subscribe(
        topics: [String], onRebalance: ((KafkaConsumer, KafkaRebalanceEvent) -> Void)? = nil,
        startingOffsets: ((KafkaConsumer, [KafkaTopicPartition]) -> [KafkaTopicPartitionOffset])? = nil
    ) throws(KafkaError) {
        callbacks.onRebalance = onRebalance
        callbacks.startingOffsets = startingOffsets
        let list = PartitionList.make(topics.map { KafkaTopicPartition(topic: $0, partition: -1) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try check(rd_kafka_subscribe(handle, list), "subscribe \(topics.joined(separator: ","))", client: handle)
    }

    /// Reads up to `maxMessages` records (default the batch's capacity) into `batch`, replacing
    /// what it held, waiting up to `timeout` for the first one; rebalance events are delivered
    /// during the call.
    ///
    /// Records of one partition arrive in offset order. With `isolation.level=read_committed`
    /// only committed transactions' records are returned.
    ///
    /// - Returns: The number of records read (0 when none arrived in time).
    /// - Throws: ``KafkaError`` of class ``KafkaError/Class/fatal`` when the consumer cannot go on;
    ///   other errors are put in ``KafkaMessageBatch/errors`` (librdkafka recovers from them).
    @discardableResult
    public func poll(into batch: inout KafkaMessageBatch, maxMessages: Int? = nil, timeout: Duration)
        throws(KafkaError) -> Int
    {
        precondition(!closed, "poll on a closed consumer")
        batch.removeAll()
        let limit = min(maxMessages ?? batch.capacity, batch.capacity)
        var wait = timeout.kafkaMilliseconds
        while batch.count < limit {
            guard let message = rd_kafka_consumer_poll(handle, wait) else { break }
            wait = 0
            let err = message.pointee.err
            if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                batch.append(message, of: self)
                continue
            }
            let error = KafkaError(
                err, operation: "poll", client: handle,
                message: message.pointee.payload.map {
                    String(decoding: UnsafeRawBufferPointer(start: $0, count: message.pointee.len), as: UTF8.self)
                })
            if error.code == .partitionEOF {
                // Only with enable.partition.eof=true: the partition's end (for read_committed, its
                // last stable offset) was reached.
                batch.partitionEnds.append(
                    KafkaTopicPartitionOffset(
                        topic: message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "",
                        partition: message.pointee.partition, offset: message.pointee.offset))
                rd_kafka_message_destroy(message)
                continue
            }
            rd_kafka_message_destroy(message)
            if error.errorClass == .fatal || error.errorClass == .fenced { throw error }
            batch.errors.append(error)
        }
        batch.errors.append(contentsOf: callbacks.errors)
        callbacks.errors.removeAll()
        return batch.count
    }

    /// Stops fetching from `partitions` (they stay assigned); records already polled are not affected.
    ///
    /// - Throws: ``KafkaError`` for the first partition librdkafka could not pause.
    public func pause(_ partitions: [KafkaTopicPartition]) throws(KafkaError) {
        let list = PartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try check(rd_kafka_pause_partitions(handle, list), "pause", client: handle)
        _ = try PartitionList.offsets(list, operation: "pause")
    }

    /// Fetches from `partitions` again, from their current position.
    ///
    /// - Throws: ``KafkaError`` for the first partition librdkafka could not resume.
    public func resume(_ partitions: [KafkaTopicPartition]) throws(KafkaError) {
        let list = PartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try check(rd_kafka_resume_partitions(handle, list), "resume", client: handle)
        _ = try PartitionList.offsets(list, operation: "resume")
    }

    /// Assigns `offsets` to this consumer directly, without a group subscription (a restore
    /// consumer reading a changelog): reading starts at each given offset
    /// (``KafkaTopicPartitionOffset/beginning``, ``KafkaTopicPartitionOffset/end`` or `nil` for the
    /// committed offset). An empty list removes the assignment.
    ///
    /// - Throws: ``KafkaError`` when librdkafka rejects the assignment.
    public func assign(_ offsets: [KafkaTopicPartitionOffset]) throws(KafkaError) {
        if offsets.isEmpty {
            try check(rd_kafka_assign(handle, nil), "unassign", client: handle)
            return
        }
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try check(rd_kafka_assign(handle, list), "assign", client: handle)
    }

    /// How many events (records, mostly) wait in the consumer's queue for the next
    /// ``poll(into:maxMessages:timeout:)``: records fetched but not yet returned. For tests that
    /// must know the consumer has fetched what was produced.
    public var queuedEventCount: Int {
        guard let queue = rd_kafka_queue_get_consumer(handle) else { return 0 }
        defer { rd_kafka_queue_destroy(queue) }
        return Int(rd_kafka_queue_length(queue))
    }

    /// The group's committed offsets of `partitions`, with the metadata committed with them; the
    /// offset is `nil` for a partition without committed offset.
    ///
    /// - Throws: ``KafkaError``: ``KafkaError/Code/timedOut`` (retriable) when the group
    ///   coordinator did not answer within `timeout`.
    public func committed(_ partitions: [KafkaTopicPartition], timeout: Duration) throws(KafkaError)
        -> [KafkaTopicPartitionOffset]
    {
        let list = PartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try check(rd_kafka_committed(handle, list, timeout.kafkaMilliseconds), "committed", client: handle)
        return try PartitionList.offsets(list, operation: "committed")
    }

    /// The consumer's position in `partitions`: the offset of the next record it will return
    /// (`nil` before it has fetched from the partition).
    public func position(_ partitions: [KafkaTopicPartition]) throws(KafkaError) -> [KafkaTopicPartitionOffset] {
        let list = PartitionList.make(partitions)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try check(rd_kafka_position(handle, list), "position", client: handle)
        return try PartitionList.offsets(list, operation: "position")
    }

    /// Moves the position of assigned partitions to the given offsets (or
    /// ``KafkaTopicPartitionOffset/beginning`` / ``KafkaTopicPartitionOffset/end``); records
    /// fetched before are discarded.
    ///
    /// - Throws: ``KafkaError`` for the first partition that could not be moved.
    public func seek(_ offsets: [KafkaTopicPartitionOffset], timeout: Duration) throws(KafkaError) {
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try check(rd_kafka_seek_partitions(handle, list, timeout.kafkaMilliseconds), "seek")
        _ = try PartitionList.offsets(list, operation: "seek")
    }

    /// Commits `offsets` (next offset to read, with optional metadata) for the group, synchronously.
    /// For at-least-once processing; exactly-once commits go through
    /// ``KafkaProducer/sendOffsetsToTransaction(_:groupMetadata:timeout:)``.
    ///
    /// - Throws: ``KafkaError`` when the commit failed (for example after a rebalance).
    public func commit(_ offsets: [KafkaTopicPartitionOffset]) throws(KafkaError) {
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        try check(rd_kafka_commit(handle, list, 0), "commit", client: handle)
        _ = try PartitionList.offsets(list, operation: "commit")
    }

    /// The partitions currently assigned to this consumer.
    public func assignment() throws(KafkaError) -> [KafkaTopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        try check(rd_kafka_assignment(handle, &list), "assignment", client: handle)
        defer { if let list { rd_kafka_topic_partition_list_destroy(list) } }
        return PartitionList.partitions(list)
    }

    /// The low and high watermark offsets of a partition, asked of its leader.
    ///
    /// The high watermark is the offset the next appended record will get; with transactions it
    /// counts commit and abort markers, so compare positions with it rather than "last offset + 1".
    ///
    /// - Throws: ``KafkaError``: ``KafkaError/Code/timedOut`` when the leader did not answer in time,
    ///   ``KafkaError/Code/unknownTopicOrPartition`` for a partition that does not exist.
    public func watermarks(topic: String, partition: Int32, timeout: Duration) throws(KafkaError) -> KafkaWatermarks {
        var low: Int64 = 0
        var high: Int64 = 0
        try check(
            rd_kafka_query_watermark_offsets(handle, topic, partition, &low, &high, timeout.kafkaMilliseconds),
            "query watermark offsets \(topic)[\(partition)]", client: handle)
        return KafkaWatermarks(low: low, high: high)
    }

    /// The consumer's current group membership, for
    /// ``KafkaProducer/sendOffsetsToTransaction(_:groupMetadata:timeout:)``.
    public func groupMetadata() -> KafkaConsumerGroupMetadata {
        // Non-nil for a consumer with group.id, which init requires.
        KafkaConsumerGroupMetadata(handle: rd_kafka_consumer_group_metadata(handle)!)
    }

    /// The librdkafka name of the rebalance protocol in use: `"EAGER"`, `"COOPERATIVE"` or `"NONE"`
    /// before the first assignment.
    public var rebalanceProtocol: String {
        rd_kafka_rebalance_protocol(handle).map { String(cString: $0) } ?? "NONE"
    }

    /// Leaves the group: revokes the assignment (the rebalance handler sees ``KafkaRebalanceEvent/revoked(_:)``
    /// and may commit), commits nothing by itself when `enable.auto.commit=false`, and stops
    /// fetching. Calling it twice does nothing.
    ///
    /// - Throws: ``KafkaError`` when leaving the group failed; the consumer is closed anyway.
    public func close() throws(KafkaError) {
        guard !closed else { return }
        closed = true
        try check(rd_kafka_consumer_close(handle), "close consumer", client: handle)
    }

    /// Runs the rebalance handler and changes the assignment as librdkafka requires.
    fileprivate func rebalance(
        _ err: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
    ) {
        let partitions = PartitionList.partitions(list)
        let cooperative = rebalanceProtocol == "COOPERATIVE"
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if let list, let startingOffsets = callbacks.startingOffsets {
                for start in startingOffsets(self, partitions) {
                    guard let offset = start.offset else { continue }
                    for i in 0..<Int(list.pointee.cnt) {
                        let element = list.pointee.elems[i]
                        if element.partition == start.topicPartition.partition,
                            String(cString: element.topic) == start.topicPartition.topic
                        {
                            list.pointee.elems[i].offset = offset
                        }
                    }
                }
            }
            if cooperative {
                record(rd_kafka_incremental_assign(handle, list), "incremental assign")
            } else {
                record(rd_kafka_assign(handle, list), "assign")
            }
            callbacks.onRebalance?(self, .assigned(partitions))
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let lost = rd_kafka_assignment_lost(handle) != 0
            callbacks.onRebalance?(self, lost ? .lost(partitions) : .revoked(partitions))
            if cooperative {
                record(rd_kafka_incremental_unassign(handle, list), "incremental unassign")
            } else {
                record(rd_kafka_assign(handle, nil), "unassign")
            }
        default:
            callbacks.onRebalance?(self, .failed(KafkaError(err, operation: "rebalance", client: handle)))
            record(rd_kafka_assign(handle, nil), "unassign")
        }
    }

    private func record(_ err: rd_kafka_resp_err_t, _ operation: String) {
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            callbacks.errors.append(KafkaError(err, operation: operation, client: handle))
        }
    }

    private func record(_ error: OpaquePointer?, _ operation: String) {
        if let error { callbacks.errors.append(KafkaError(consuming: error, operation: operation)) }
    }
}

/// librdkafka's rebalance callback; runs on the thread inside `rd_kafka_consumer_poll` or
/// `rd_kafka_consumer_close`.
private func kafkaRebalanceCallback(
    _ handle: OpaquePointer?, _ err: rd_kafka_resp_err_t,
    _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, _ opaque: UnsafeMutableRawPointer?
) {
    let callbacks = Unmanaged<KafkaConsumer.Callbacks>.fromOpaque(opaque!).takeUnretainedValue()
    if let consumer = callbacks.consumer {
        consumer.rebalance(err, list)
        return
    }
    // The consumer is being destroyed: change the assignment without calling the handler.
    if err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
        _ = rd_kafka_assign(handle, list)
    } else {
        _ = rd_kafka_assign(handle, nil)
    }
}
