internal import CStreamsRdKafka

/// A topic to create with ``KafkaAdminClient/createTopics(_:timeout:)``.
public struct KafkaNewTopic: Sendable, Hashable {
    /// The topic's name.
    public var name: String
    /// The number of partitions.
    public var partitions: Int32
    /// The replication factor, or `-1` for the broker's `default.replication.factor`.
    public var replicationFactor: Int32
    /// Topic configuration, for example `["cleanup.policy": "compact,delete", "retention.ms": "86400000"]`.
    public var configs: [String: String]

    /// Creates a topic description.
    public init(name: String, partitions: Int32, replicationFactor: Int32 = -1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// What the cluster's metadata says about a topic.
public struct KafkaTopicDescription: Sendable, Hashable {
    /// The topic's name.
    public var name: String
    /// The partition numbers, ascending.
    public var partitions: [Int32]
}

/// Creates, deletes and describes topics (librdkafka's Admin API).
///
/// - Important: Not `Sendable`; use it from one thread. Each call waits for its result.
public final class KafkaAdminClient {
    let handle: OpaquePointer
    private let queue: OpaquePointer

    /// Creates an admin client (librdkafka uses a producer handle underneath).
    ///
    /// - Throws: ``KafkaError`` of class ``KafkaError/Class/permanent`` for a bad property.
    public init(configuration: KafkaConfiguration) throws(KafkaError) {
        let conf = try configuration.makeConf(defaults: [:])
        handle = try KafkaClient.make(RD_KAFKA_PRODUCER, conf: conf, operation: "create admin client")
        queue = rd_kafka_queue_new(handle)
    }

    deinit {
        rd_kafka_queue_destroy(queue)
        rd_kafka_destroy(handle)
    }

    /// Creates `topics` and waits until the broker has created them.
    ///
    /// - Throws: ``KafkaError`` for the first topic that could not be created;
    ///   ``KafkaError/Code/topicAlreadyExists`` when it exists (catch it to make creation idempotent).
    public func createTopics(_ topics: [KafkaNewTopic], timeout: Duration) throws(KafkaError) {
        var newTopics: [OpaquePointer?] = []
        defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
        for topic in topics {
            let failure: String? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { buffer in
                buffer[0] = 0
                let made = rd_kafka_NewTopic_new(
                    topic.name, topic.partitions, topic.replicationFactor, buffer.baseAddress, 512)
                guard let made else { return String(cString: buffer.baseAddress!) }
                newTopics.append(made)
                return nil
            }
            if let failure {
                throw KafkaError(
                    code: .invalidArgument, errorClass: .permanent, message: failure,
                    operation: "create topic \(topic.name)")
            }
            for (name, value) in topic.configs.sorted(by: { $0.key < $1.key }) {
                try check(
                    rd_kafka_NewTopic_set_config(newTopics.last!, name, value),
                    "create topic \(topic.name): config \(name)=\(value)")
            }
        }
        let options = try self.options(RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout: timeout)
        defer { rd_kafka_AdminOptions_destroy(options) }
        newTopics.withUnsafeMutableBufferPointer {
            rd_kafka_CreateTopics(handle, $0.baseAddress, $0.count, options, queue)
        }
        let event = try waitForResult(RD_KAFKA_EVENT_CREATETOPICS_RESULT, timeout: timeout, operation: "create topics")
        defer { rd_kafka_event_destroy(event) }
        var count = 0
        let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count)
        try Self.checkTopicResults(results, count, operation: "create topic")
    }

    /// Deletes `topics` and waits for the broker's answer.
    ///
    /// - Throws: ``KafkaError`` for the first topic that could not be deleted
    ///   (``KafkaError/Code/unknownTopicOrPartition`` when it does not exist).
    public func deleteTopics(_ topics: [String], timeout: Duration) throws(KafkaError) {
        var deletions: [OpaquePointer?] = topics.map { rd_kafka_DeleteTopic_new($0) }
        defer { for deletion in deletions { rd_kafka_DeleteTopic_destroy(deletion) } }
        let options = try self.options(RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout: timeout)
        defer { rd_kafka_AdminOptions_destroy(options) }
        deletions.withUnsafeMutableBufferPointer {
            rd_kafka_DeleteTopics(handle, $0.baseAddress, $0.count, options, queue)
        }
        let event = try waitForResult(RD_KAFKA_EVENT_DELETETOPICS_RESULT, timeout: timeout, operation: "delete topics")
        defer { rd_kafka_event_destroy(event) }
        var count = 0
        let results = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event), &count)
        try Self.checkTopicResults(results, count, operation: "delete topic")
    }

    /// The names of the cluster's topics, sorted.
    ///
    /// - Throws: ``KafkaError`` when the metadata request failed (``KafkaError/Code/timedOut``).
    public func listTopics(timeout: Duration) throws(KafkaError) -> [String] {
        try withMetadata(timeout: timeout) { metadata in
            (0..<Int(metadata.pointee.topic_cnt)).map { String(cString: metadata.pointee.topics[$0].topic) }.sorted()
        }
    }

    /// What the cluster's metadata says about topic `name`, or `nil` when it does not exist.
    ///
    /// - Throws: ``KafkaError`` when the metadata request failed.
    public func describeTopic(_ name: String, timeout: Duration) throws(KafkaError) -> KafkaTopicDescription? {
        try withMetadata(timeout: timeout) { metadata in
            for i in 0..<Int(metadata.pointee.topic_cnt) {
                let topic = metadata.pointee.topics[i]
                guard String(cString: topic.topic) == name else { continue }
                if topic.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART { return nil }
                let partitions = (0..<Int(topic.partition_cnt)).map { topic.partitions[$0].id }.sorted()
                return KafkaTopicDescription(name: name, partitions: partitions)
            }
            return nil
        }
    }

    /// The configuration of topic `name` as the broker reports it (`cleanup.policy`,
    /// `retention.ms`, …), defaults included.
    ///
    /// - Throws: ``KafkaError`` when the request failed or the topic does not exist.
    public func topicConfiguration(_ name: String, timeout: Duration) throws(KafkaError) -> [String: String] {
        var resource: OpaquePointer? = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name)
        defer { rd_kafka_ConfigResource_destroy(resource) }
        let options = try self.options(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout: timeout)
        defer { rd_kafka_AdminOptions_destroy(options) }
        rd_kafka_DescribeConfigs(handle, &resource, 1, options, queue)
        let operation = "describe configs of topic \(name)"
        let event = try waitForResult(RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, timeout: timeout, operation: operation)
        defer { rd_kafka_event_destroy(event) }
        var count = 0
        let resources = rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event), &count)
        var result: [String: String] = [:]
        for i in 0..<count {
            guard let described = resources?[i] else { continue }
            let err = rd_kafka_ConfigResource_error(described)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(
                    err, operation: operation,
                    message: rd_kafka_ConfigResource_error_string(described).map { String(cString: $0) })
            }
            var entries = 0
            let configs = rd_kafka_ConfigResource_configs(described, &entries)
            for j in 0..<entries {
                guard let entry = configs?[j], let entryName = rd_kafka_ConfigEntry_name(entry) else { continue }
                result[String(cString: entryName)] = rd_kafka_ConfigEntry_value(entry).map { String(cString: $0) }
            }
        }
        return result
    }

    private func options(_ operation: rd_kafka_admin_op_t, timeout: Duration) throws(KafkaError) -> OpaquePointer {
        let options = rd_kafka_AdminOptions_new(handle, operation)!
        // Wait for the broker to finish the operation, not only to accept it.
        let failure: String? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { buffer in
            buffer[0] = 0
            var err = rd_kafka_AdminOptions_set_request_timeout(
                options, timeout.kafkaMilliseconds, buffer.baseAddress, 512)
            if err == RD_KAFKA_RESP_ERR_NO_ERROR, operation != RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS {
                err = rd_kafka_AdminOptions_set_operation_timeout(
                    options, timeout.kafkaMilliseconds, buffer.baseAddress, 512)
            }
            return err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : String(cString: buffer.baseAddress!)
        }
        if let failure {
            rd_kafka_AdminOptions_destroy(options)
            throw KafkaError(
                code: .invalidArgument, errorClass: .permanent, message: failure, operation: "admin options")
        }
        return options
    }

    /// Waits for the admin result event of `type`; the caller destroys it.
    private func waitForResult(_ type: Int32, timeout: Duration, operation: String) throws(KafkaError) -> OpaquePointer
    {
        // The request times out by itself after `timeout`; allow a little more for the event to arrive.
        let wait = (timeout + .seconds(5)).kafkaMilliseconds
        guard let event = rd_kafka_queue_poll(queue, wait) else {
            throw KafkaError(
                code: .timedOut, errorClass: .retriable, message: "no answer in \(timeout)", operation: operation)
        }
        let err = rd_kafka_event_error(event)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let message = rd_kafka_event_error_string(event).map { String(cString: $0) }
            rd_kafka_event_destroy(event)
            throw KafkaError(err, operation: operation, client: handle, message: message)
        }
        precondition(rd_kafka_event_type(event) == type, "unexpected admin event type on the admin client's queue")
        return event
    }

    private static func checkTopicResults(
        _ results: UnsafeMutablePointer<OpaquePointer?>?, _ count: Int, operation: String
    )
        throws(KafkaError)
    {
        for i in 0..<count {
            guard let result = results?[i] else { continue }
            let err = rd_kafka_topic_result_error(result)
            guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            let name = String(cString: rd_kafka_topic_result_name(result))
            throw KafkaError(
                err, operation: "\(operation) \(name)",
                message: rd_kafka_topic_result_error_string(result).map { String(cString: $0) })
        }
    }

    private func withMetadata<R>(
        timeout: Duration, _ body: (UnsafePointer<rd_kafka_metadata_t>) -> R
    ) throws(KafkaError) -> R {
        var metadata: UnsafePointer<rd_kafka_metadata_t>?
        try check(rd_kafka_metadata(handle, 1, nil, &metadata, timeout.kafkaMilliseconds), "metadata", client: handle)
        defer { rd_kafka_metadata_destroy(metadata) }
        return body(metadata!)
    }
}
