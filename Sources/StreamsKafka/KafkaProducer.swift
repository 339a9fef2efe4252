internal import CStreamsRdKafka

/// A Kafka producer, transactional when its configuration sets `transactional.id`.
///
/// The transactional cycle is librdkafka's (and Kafka Streams' `exactly_once_v2`):
/// ``initTransactions(timeout:)`` once, then per commit ``beginTransaction()``, ``produce(to:partition:key:value:timestampMs:headers:tag:)``,
/// ``sendOffsetsToTransaction(_:groupMetadata:timeout:)`` and ``commitTransaction(timeout:)``, or
/// ``abortTransaction(timeout:)`` after an error of class ``KafkaError/Class/abortable``. An error
/// of class ``KafkaError/Class/fenced`` means a newer producer with the same `transactional.id`
/// exists: this one must be dropped.
///
/// Delivery reports are tracked: the first record that could not be delivered in a transaction
/// fails its commit; without transactions it fails the next ``flush(timeout:)``.
///
/// Kafka Streams' counterpart is `StreamsProducer`.
///
/// - Important: Not `Sendable`. Use a producer from one thread; delivery reports are handled on
///   that thread, inside ``poll(timeout:)``, ``flush(timeout:)``, ``commitTransaction(timeout:)`` or
///   ``produce(to:partition:key:value:timestampMs:headers:tag:)`` when the local queue is full.
public final class KafkaProducer {
    /// What the delivery report callback records.
    final class Callbacks {
        let transactional: Bool
        var firstDeliveryError: KafkaError?
        var delivered = 0
        var failed = 0
        /// Per delivery tag (``KafkaProducer/produce(to:partition:key:value:timestampMs:headers:tag:)``),
        /// the offset of the last record delivered with it; -1 when none was.
        var lastOffsets: [Int64] = []

        init(transactional: Bool) { self.transactional = transactional }
    }

    /// The configuration the producer was created with.
    public let configuration: KafkaConfiguration
    /// Whether the configuration sets `transactional.id`.
    public let isTransactional: Bool
    let handle: OpaquePointer
    private let callbacks: Callbacks
    /// Between a successful ``beginTransaction()`` and the commit or abort that ends it.
    private var transactionOpen = false
    /// librdkafka topic handles by name (``topic(_:)``), kept until the producer goes.
    private var topicHandles: [String: OpaquePointer] = [:]

    /// Creates a producer.
    ///
    /// With `transactional.id` set, librdkafka turns on idempotence (`enable.idempotence=true`,
    /// `acks=all`) and the transactional methods become available.
    ///
    /// - Throws: ``KafkaError`` of class ``KafkaError/Class/permanent`` for a bad property.
    public init(configuration: KafkaConfiguration) throws(KafkaError) {
        let transactional = configuration["transactional.id"] != nil
        let callbacks = Callbacks(transactional: transactional)
        let conf = try configuration.makeConf(defaults: [:])
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(callbacks).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf, kafkaDeliveryReportCallback)
        handle = try KafkaClient.make(RD_KAFKA_PRODUCER, conf: conf, operation: "create producer")
        self.configuration = configuration
        self.isTransactional = transactional
        self.callbacks = callbacks
    }

    deinit {
        for topic in topicHandles.values { rd_kafka_topic_destroy(topic) }
        // Outstanding messages are dropped; an open transaction is aborted by the coordinator
        // when a new producer with the same transactional.id initializes (or on its timeout).
        rd_kafka_destroy(handle)
    }

    /// Learns `topic`'s partitions from the cluster now, waiting for the answer, so that the
    /// first record produced to it is partitioned and sent at once.
    ///
    /// Without it, librdkafka 2.0.2 asks for the metadata of a topic first produced to only at
    /// its next periodic scan (up to a second later, measured on noida-db): the records wait,
    /// and so does a transaction's commit.
    ///
    /// - Returns: The topic's partition count.
    /// - Throws: ``KafkaError``: ``KafkaError/Code/timedOut`` (retriable) when no broker answered
    ///   in time, ``KafkaError/Code/unknownTopicOrPartition`` for a topic that does not exist.
    @discardableResult
    public func prepare(topic: String, timeout: Duration) throws(KafkaError) -> Int {
        let topicHandle = try self.topic(topic).handle
        var metadata: UnsafePointer<rd_kafka_metadata_t>?
        try check(
            rd_kafka_metadata(handle, 0, topicHandle, &metadata, timeout.kafkaMilliseconds), "metadata of \(topic)",
            client: handle)
        defer { rd_kafka_metadata_destroy(metadata) }
        guard let described = metadata?.pointee, described.topic_cnt > 0 else {
            throw KafkaError(
                RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, operation: "metadata of \(topic)", client: handle)
        }
        let entry = described.topics[0]
        if entry.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(entry.err, operation: "metadata of \(topic)", client: handle)
        }
        return Int(entry.partition_cnt)
    }

    /// Raises `code` as this producer's fatal error, as librdkafka does when the broker answers
    /// with one (`rd_kafka_test_fatal_error`): every later call fails with `_FATAL`. For tests
    /// of what a fatal producer error does; a real one cannot be provoked on the test broker.
    package func raiseFatalErrorForTesting(_ code: KafkaError.Code, reason: String) {
        _ = rd_kafka_test_fatal_error(handle, rd_kafka_resp_err_t(code.rawValue), reason)
    }

    /// How many records the broker acknowledged so far.
    public var deliveredCount: Int { callbacks.delivered }

    /// How many records failed delivery so far.
    public var failedCount: Int { callbacks.failed }

    /// The offset of the last record produced with `tag` (1 or more) that the broker acknowledged,
    /// or `nil` when none was: for a writer that must know where its records landed (the Kafka
    /// engine's changelog positions). Up to date after ``flush(timeout:)`` or
    /// ``commitTransaction(timeout:)``.
    public func lastDeliveredOffset(tag: Int) -> Int64? {
        guard tag > 0, tag < callbacks.lastOffsets.count, callbacks.lastOffsets[tag] >= 0 else { return nil }
        return callbacks.lastOffsets[tag]
    }

    /// Registers the producer with its transaction coordinator: fences older producers with the
    /// same `transactional.id` and completes or aborts the transaction they left open.
    ///
    /// - Throws: ``KafkaError``: ``KafkaError/Class/retriable`` on a timeout (call again),
    ///   ``KafkaError/Class/fatal`` or ``KafkaError/Class/fenced`` otherwise.
    public func initTransactions(timeout: Duration) throws(KafkaError) {
        try check(rd_kafka_init_transactions(handle, timeout.kafkaMilliseconds), "init_transactions")
    }

    /// Starts a transaction; every record produced until the commit or abort belongs to it.
    ///
    /// - Throws: ``KafkaError`` of class ``KafkaError/Class/fenced`` or ``KafkaError/Class/fatal``,
    ///   or ``KafkaError/Code/state`` when a transaction is already open or not initialized.
    public func beginTransaction() throws(KafkaError) {
        callbacks.firstDeliveryError = nil
        try check(rd_kafka_begin_transaction(handle), "begin_transaction")
        transactionOpen = true
    }

    /// The topic named `name`, to produce to with ``produce(to:partition:key:value:timestampMs:headers:tag:)``
    /// (no name to look up per record). Made on first use and kept while the producer lives.
    ///
    /// Making a topic librdkafka does not know yet asks the cluster for its metadata, which
    /// creates it on a broker that auto-creates topics, as the first record produced to it would.
    ///
    /// - Throws: ``KafkaError`` when librdkafka refuses the name.
    public func topic(_ name: String) throws(KafkaError) -> Topic {
        if let existing = topicHandles[name] { return Topic(handle: existing, producer: ObjectIdentifier(self)) }
        guard let made = rd_kafka_topic_new(handle, name, nil) else {
            throw KafkaError(rd_kafka_last_error(), operation: "topic \(name)", client: handle)
        }
        topicHandles[name] = made
        return Topic(handle: made, producer: ObjectIdentifier(self))
    }

    /// Queues one record for the topic named `topic` (``produce(to:partition:key:value:timestampMs:headers:tag:)``
    /// with ``topic(_:)``).
    public func produce(
        topic: String, partition: Int32? = nil, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
        timestampMs: Int64? = nil, headers: [KafkaHeader] = [], tag: Int = 0
    ) throws(KafkaError) {
        try produce(
            to: self.topic(topic), partition: partition, key: key, value: value, timestampMs: timestampMs,
            headers: headers, tag: tag)
    }

    /// Queues one record for `topic`. The bytes are copied; the call does not wait for the broker.
    ///
    /// - Parameters:
    ///   - topic: The topic, from this producer's ``topic(_:)`` (another producer's is refused: ``KafkaError/Code/invalidArgument``).
    ///   - partition: The partition, or `nil` to let the partitioner choose from the key.
    ///   - key: The key's bytes, or `nil` for no key.
    ///   - value: The value's bytes, or `nil` for no value (a tombstone).
    ///   - timestampMs: The record's timestamp (milliseconds since the Unix epoch), or `nil` for now.
    ///   - headers: The record's headers, in order.
    ///   - tag: 0, or a small number (1 or more) under which the delivery report records the
    ///     record's offset (``lastDeliveredOffset(tag:)``).
    /// - Throws: ``KafkaError``: ``KafkaError/Code/unknownPartition`` or ``KafkaError/Code/unknownTopic``
    ///   (permanent), ``KafkaError/Code/messageSizeTooLarge``, ``KafkaError/Class/fenced`` /
    ///   ``KafkaError/Class/fatal`` for a producer in that state, ``KafkaError/Class/abortable``
    ///   when the open transaction already failed (the first delivery error, such as a record the
    ///   broker rejected, once its report arrived; librdkafka's bare `_STATE` before).
    ///   A full local queue is waited out (delivery reports are served meanwhile), not thrown.
    public func produce(
        to topic: Topic, partition: Int32? = nil, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?,
        timestampMs: Int64? = nil, headers: [KafkaHeader] = [], tag: Int = 0
    ) throws(KafkaError) {
        precondition(tag >= 0 && tag < 1 << 16, "delivery tags are 0..<65536")
        guard topic.producer == ObjectIdentifier(self) else {
            throw KafkaError(
                code: .invalidArgument, errorClass: .permanent,
                message: "the topic handle of \(topic.name) is another producer's; take this producer's topic(_:)",
                operation: "produce to \(topic.name)")
        }
        if tag > 0 && tag >= callbacks.lastOffsets.count {
            callbacks.lastOffsets += Array(repeating: -1, count: tag + 1 - callbacks.lastOffsets.count)
        }
        while true {
            var cHeaders: OpaquePointer?
            if !headers.isEmpty {
                cHeaders = rd_kafka_headers_new(headers.count)
                for header in headers {
                    if let bytes = header.value {
                        bytes.withUnsafeBytes {
                            _ = rd_kafka_header_add(cHeaders, header.name, -1, $0.baseAddress, $0.count)
                        }
                    } else {
                        _ = rd_kafka_header_add(cHeaders, header.name, -1, nil, 0)
                    }
                }
            }
            let err = c_streams_rdkafka_produce(
                handle, topic.handle, partition ?? -1, key?.baseAddress, key?.count ?? 0, value?.baseAddress,
                value?.count ?? 0, timestampMs ?? 0, cHeaders, tag)
            if err == RD_KAFKA_RESP_ERR_NO_ERROR { return }
            // On failure the headers are still ours.
            if let cHeaders { rd_kafka_headers_destroy(cHeaders) }
            if err == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                rd_kafka_poll(handle, 10)
                continue
            }
            if err == RD_KAFKA_RESP_ERR__STATE && transactionOpen { throw transactionFailed(producingTo: topic.name) }
            throw KafkaError(err, operation: "produce to \(topic.name)", client: handle)
        }
    }

    /// Queues one record; the byte-array form of ``produce(to:partition:key:value:timestampMs:headers:tag:)``.
    public func produce(
        topic: String, partition: Int32? = nil, key: [UInt8]?, value: [UInt8]?, timestampMs: Int64? = nil,
        headers: [KafkaHeader] = []
    ) throws(KafkaError) {
        // Array.withUnsafeBytes rethrows untyped errors: carry the typed error out in a Result.
        func withOptional(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> Result<Void, KafkaError>)
            -> Result<Void, KafkaError>
        {
            guard let bytes else { return body(nil) }
            // Empty arrays still get a non-nil pointer, so "empty" stays distinct from "none".
            return bytes.withUnsafeBytes { buffer in
                body(buffer.baseAddress == nil ? UnsafeRawBufferPointer(start: emptyByte, count: 0) : buffer)
            }
        }
        try withOptional(key) { k in
            withOptional(value) { v in
                Result { () throws(KafkaError) in
                    try produce(
                        topic: topic, partition: partition, key: k, value: v, timestampMs: timestampMs, headers: headers
                    )
                }
            }
        }.get()
    }

    /// The error of a produce refused (`_STATE`) inside a transaction this producer began: librdkafka
    /// leaves the `InTransaction` state by itself only when the transaction failed with an abortable
    /// error (a fatal one is reported as `_FATAL` first), for example when the broker rejected one of
    /// its records. The first delivery error is that cause when its report has arrived; either way the
    /// error is of class ``KafkaError/Class/abortable``.
    private func transactionFailed(producingTo topic: String) -> KafkaError {
        rd_kafka_poll(handle, 0)
        if let error = callbacks.firstDeliveryError, error.errorClass == .abortable {
            callbacks.firstDeliveryError = nil
            return error
        }
        return KafkaError(
            code: .state, errorClass: .abortable,
            message: "the transaction failed earlier (an abortable error), producing is refused until it is aborted",
            operation: "produce to \(topic)")
    }

    /// Adds the consumer group's offsets to the open transaction: they are committed if and only
    /// if the transaction commits. Offsets are the next records to read (last processed + 1); the
    /// metadata of each is committed with it.
    ///
    /// - Parameters:
    ///   - offsets: The positions to commit, with optional metadata.
    ///   - groupMetadata: The consumer's ``KafkaConsumer/groupMetadata()``, taken now.
    ///   - timeout: How long to wait for the group and transaction coordinators.
    /// - Throws: ``KafkaError``: ``KafkaError/Class/abortable`` (abort, rewind, reprocess),
    ///   ``KafkaError/Class/retriable`` (call again), ``KafkaError/Class/fenced``, ``KafkaError/Class/fatal``.
    public func sendOffsetsToTransaction(
        _ offsets: [KafkaTopicPartitionOffset], groupMetadata: KafkaConsumerGroupMetadata, timeout: Duration
    ) throws(KafkaError) {
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        guard
            let failed = rd_kafka_send_offsets_to_transaction(
                handle, list, groupMetadata.handle, timeout.kafkaMilliseconds)
        else { return }
        let error = KafkaError(consuming: failed, operation: "send_offsets_to_transaction")
        // A transaction that failed earlier (the broker rejected one of its records) makes
        // librdkafka answer a bare `_STATE`; the cause is the first delivery error, once served.
        if error.code == .state && error.errorClass == .abortable {
            rd_kafka_poll(handle, 0)
            if let cause = callbacks.firstDeliveryError, cause.errorClass == .abortable {
                callbacks.firstDeliveryError = nil
                throw cause
            }
        }
        throw error
    }

    /// Delivers the transaction's records and commits it with its offsets.
    ///
    /// The records are flushed first; if one of them failed delivery, that first error is thrown
    /// (class ``KafkaError/Class/abortable`` unless the producer is fenced or fatal) and nothing
    /// is committed.
    ///
    /// - Throws: ``KafkaError``: ``KafkaError/Class/abortable`` (abort, rewind, reprocess),
    ///   ``KafkaError/Class/retriable`` (call again), ``KafkaError/Class/fenced``, ``KafkaError/Class/fatal``.
    public func commitTransaction(timeout: Duration) throws(KafkaError) {
        _ = rd_kafka_flush(handle, timeout.kafkaMilliseconds)
        if let error = callbacks.firstDeliveryError {
            callbacks.firstDeliveryError = nil
            throw error
        }
        try check(rd_kafka_commit_transaction(handle, timeout.kafkaMilliseconds), "commit_transaction")
        transactionOpen = false
    }

    /// Aborts the open transaction: its records stay in the log but `read_committed` readers
    /// skip them, and its offsets are not committed. Records not yet sent are dropped.
    ///
    /// - Throws: ``KafkaError``: ``KafkaError/Class/retriable`` (call again), ``KafkaError/Class/fenced``,
    ///   ``KafkaError/Class/fatal``.
    public func abortTransaction(timeout: Duration) throws(KafkaError) {
        defer {
            // Serve the delivery reports of the purged records so they cannot fail the next transaction.
            while rd_kafka_poll(handle, 0) > 0 {}
            callbacks.firstDeliveryError = nil
        }
        try check(rd_kafka_abort_transaction(handle, timeout.kafkaMilliseconds), "abort_transaction")
        transactionOpen = false
    }

    /// Waits until every queued record is delivered or failed.
    ///
    /// - Throws: ``KafkaError``: the first delivery error since the last flush or commit (which
    ///   this reports only once), or ``KafkaError/Code/timedOut`` when records are still outstanding.
    public func flush(timeout: Duration) throws(KafkaError) {
        let err = rd_kafka_flush(handle, timeout.kafkaMilliseconds)
        if let error = callbacks.firstDeliveryError {
            callbacks.firstDeliveryError = nil
            throw error
        }
        try check(err, "flush (\(rd_kafka_outq_len(handle)) records outstanding)", client: handle)
    }

    /// Serves delivery reports, waiting up to `timeout` for the first.
    ///
    /// - Returns: How many events were served.
    @discardableResult
    public func poll(timeout: Duration = .zero) -> Int {
        Int(rd_kafka_poll(handle, timeout.kafkaMilliseconds))
    }

    /// Records one delivery report.
    fileprivate static func deliveryReport(
        _ callbacks: Callbacks, _ handle: OpaquePointer?, _ message: UnsafePointer<rd_kafka_message_t>
    ) {
        let err = message.pointee.err
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else {
            callbacks.delivered += 1
            let tag = Int(bitPattern: message.pointee._private)
            if tag > 0 && tag < callbacks.lastOffsets.count && message.pointee.offset > callbacks.lastOffsets[tag] {
                callbacks.lastOffsets[tag] = message.pointee.offset
            }
            return
        }
        callbacks.failed += 1
        // Purged records belong to an aborted transaction: not a failure of the next one.
        if err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT { return }
        guard callbacks.firstDeliveryError == nil else { return }
        let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
        var error = KafkaError(err, operation: "deliver to \(topic)[\(message.pointee.partition)]", client: handle)
        if callbacks.transactional && error.errorClass != .fenced && error.errorClass != .fatal {
            error = KafkaError(
                code: error.code, errorClass: .abortable, message: error.message, operation: error.operation)
        }
        callbacks.firstDeliveryError = error
    }
}

/// A byte to point at for empty keys and values.
nonisolated(unsafe) private let emptyByte = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)

/// librdkafka's delivery report callback; runs inside `rd_kafka_poll` / `rd_kafka_flush` on the
/// producer's thread.
private func kafkaDeliveryReportCallback(
    _ handle: OpaquePointer?, _ message: UnsafePointer<rd_kafka_message_t>?, _ opaque: UnsafeMutableRawPointer?
) {
    guard let message, let opaque else { return }
    let callbacks = Unmanaged<KafkaProducer.Callbacks>.fromOpaque(opaque).takeUnretainedValue()
    KafkaProducer.deliveryReport(callbacks, handle, message)
}

extension KafkaProducer {
    /// A topic of one producer (``KafkaProducer/topic(_:)``): librdkafka's topic handle, valid while
    /// that producer lives.
    public struct Topic {
        let handle: OpaquePointer
        /// The producer whose handle it is: another producer's is refused.
        let producer: ObjectIdentifier

        /// The topic's name.
        public var name: String { String(cString: rd_kafka_topic_name(handle)) }
    }
}
