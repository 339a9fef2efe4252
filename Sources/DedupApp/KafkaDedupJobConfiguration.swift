/// Everything `dedup kafka` needs: the cluster, the application id, the topics, the business key,
/// the window and the state directory.
///
/// The job is a member of the consumer group `applicationId`; several processes started with the
/// same id share the input topics' partitions (see docs/kafka.md).
public struct KafkaDedupJobConfiguration: Sendable, Hashable {
    /// `bootstrap.servers`: `HOST:PORT[,HOST:PORT…]`.
    public var bootstrapServers: String
    /// The consumer group, the prefix of the transactional ids and of the changelog topic
    /// (`<applicationId>-dedup-store-changelog`).
    public var applicationId: String
    /// The input topics; several must have the same number of partitions (partition `p` of each is
    /// one task, merged smallest event time first).
    public var inputTopics: [String]
    /// Where kept records are produced, keyed by the canonical business key.
    public var outputTopic: String
    /// Where dropped duplicates are produced, if anywhere.
    public var duplicatesTopic: String?
    /// Where invalid records go with ``DedupJobConfiguration/InvalidRecordPolicy/skip``, unchanged,
    /// with headers `streams.error.code`, `streams.error.message`, `streams.error.origin`; a record
    /// over the size limit has its value cut to fit, and the header `streams.error.value.bytes`.
    public var deadLetterTopic: String?
    /// Dotted paths of the business key's fields in the JSON value.
    public var keyFields: [String]
    /// Dotted path of the event time in the JSON value; `nil`: the Kafka record's timestamp.
    public var timeField: String?
    /// The deduplication window `W`.
    public var window: Duration
    /// The grace period `G`.
    public var grace: Duration
    /// The state directory: the tasks' LMDB stores under `STATE/<applicationId>/<task>/`.
    public var stateDirectory: String
    /// The invalid-record policy; default ``DedupJobConfiguration/InvalidRecordPolicy/fail``.
    public var onInvalid: DedupJobConfiguration.InvalidRecordPolicy
    /// The processing guarantee; default exactly-once (Kafka transactions).
    public var guarantee: DedupJobConfiguration.Guarantee
    /// How often to commit; `nil`: 100 ms exactly-once, 5 s at-least-once.
    public var commitInterval: Duration?
    /// librdkafka properties for every client (`consumer.`/`producer.` prefixed: only those).
    public var properties: [String: String]

    /// Creates a configuration; optional parameters have the defaults documented on their properties.
    public init(
        bootstrapServers: String,
        applicationId: String,
        inputTopics: [String],
        outputTopic: String,
        duplicatesTopic: String? = nil,
        deadLetterTopic: String? = nil,
        keyFields: [String],
        timeField: String? = nil,
        window: Duration,
        grace: Duration = .zero,
        stateDirectory: String,
        onInvalid: DedupJobConfiguration.InvalidRecordPolicy = .fail,
        guarantee: DedupJobConfiguration.Guarantee = .exactlyOnce,
        commitInterval: Duration? = nil,
        properties: [String: String] = [:]
    ) {
        self.bootstrapServers = bootstrapServers
        self.applicationId = applicationId
        self.inputTopics = inputTopics
        self.outputTopic = outputTopic
        self.duplicatesTopic = duplicatesTopic
        self.deadLetterTopic = deadLetterTopic
        self.keyFields = keyFields
        self.timeField = timeField
        self.window = window
        self.grace = grace
        self.stateDirectory = stateDirectory
        self.onInvalid = onInvalid
        self.guarantee = guarantee
        self.commitInterval = commitInterval
        self.properties = properties
    }

    /// The commit interval in force (the same defaults as `dedup run`).
    public var effectiveCommitInterval: Duration {
        commitInterval ?? DedupJobConfiguration.defaultCommitInterval(guarantee)
    }

    /// librdkafka's default `message.max.bytes`: the producers refuse a larger record.
    static let defaultMessageMaxBytes = 1_000_000
    /// What a record's limit keeps free of its producer's `message.max.bytes`: Kafka's framing of
    /// a record and its headers, and what a changelog record adds to the key (the store's prefix
    /// and the 8-byte time).
    static let recordOverheadBytes = 1_024

    /// The producers' `message.max.bytes` (`-X producer.message.max.bytes` or `-X
    /// message.max.bytes`; librdkafka's default otherwise).
    func messageMaxBytes() -> Result<Int, DedupJobError> {
        let name = properties["producer.message.max.bytes"] != nil ? "producer.message.max.bytes" : "message.max.bytes"
        guard let text = properties[name] else { return .success(Self.defaultMessageMaxBytes) }
        let minimum = Self.minimumTopicLimitBytes
        guard let bytes = Int(text), bytes >= minimum else {
            return .failure(
                DedupJobError(
                    .usage,
                    "-X \(name)=\(text): give a number of bytes of at least \(minimum) (dedup kafka keeps \(Self.recordOverheadBytes) of each record's limit for Kafka's framing)"
                ))
        }
        return .success(bytes)
    }

    /// The longest record (key + value + headers) the job produces, and the longest business key:
    /// the smaller of the producers' `message.max.bytes` and the output topics' `max.message.bytes`
    /// (`topicLimits`, those the cluster reported at the start), less ``recordOverheadBytes``; the
    /// key also within the store's limit. A record over either is invalid (`--on-invalid`), before
    /// it reaches the store or a producer; the note says so in its message. A topic limit below
    /// ``minimumTopicLimitBytes`` leaves no room to fit records to, and is not taken (the broker
    /// refuses what is over it; see ``KafkaStreamsConfiguration/maxConsecutiveAborts``).
    func recordLimits(storeKeyBytes: Int, topicLimits: [(topic: String, maxMessageBytes: Int)] = [])
        -> Result<(key: Int, record: Int, note: String), DedupJobError>
    {
        messageMaxBytes().map { bytes in
            if let topic = topicLimits.filter({ $0.maxMessageBytes >= Self.minimumTopicLimitBytes })
                .min(by: { $0.maxMessageBytes < $1.maxMessageBytes }), topic.maxMessageBytes < bytes
            {
                let record = topic.maxMessageBytes - Self.recordOverheadBytes
                let note =
                    " (the topic \(topic.topic)'s max.message.bytes, \(topic.maxMessageBytes), less \(Self.recordOverheadBytes) for Kafka's framing; for larger records raise that topic's max.message.bytes)"
                return (min(storeKeyBytes, record), record, note)
            }
            let record = bytes - Self.recordOverheadBytes
            let note =
                " (the producers' message.max.bytes, \(bytes), less \(Self.recordOverheadBytes) for Kafka's framing; for larger records raise it with -X message.max.bytes=N, and the brokers' message.max.bytes or the topics' max.message.bytes with it)"
            return (min(storeKeyBytes, record), record, note)
        }
    }

    /// The smallest output topic `max.message.bytes` the job fits records to.
    static let minimumTopicLimitBytes = 4 * recordOverheadBytes

    /// The topics the job produces to, with their flags: output, duplicates, dead letters.
    var outputTopics: [(flag: String, topic: String)] {
        var outputs = [("--output-topic", outputTopic)]
        if let duplicatesTopic { outputs.append(("--duplicates-topic", duplicatesTopic)) }
        if let deadLetterTopic { outputs.append(("--dead-letter-topic", deadLetterTopic)) }
        return outputs
    }

    /// What is wrong with the settings, as a usage error naming the flag, or `nil`.
    func problem() -> String? {
        if inputTopics.isEmpty { return "give at least one --input-topic" }
        if Set(inputTopics).count != inputTopics.count { return "an --input-topic is given twice" }
        let outputs = outputTopics
        for (flag, topic) in outputs {
            if inputTopics.contains(topic) {
                return "\(flag) \(topic) is also an --input-topic; write to another topic"
            }
            if outputs.filter({ $0.1 == topic }).count > 1 {
                return "\(flag) \(topic) is given for another output too; give each output its own topic"
            }
            if topic.hasPrefix(applicationId + "-") && topic.hasSuffix("-changelog") {
                return "\(flag) \(topic) looks like the job's changelog topic; write to another topic"
            }
        }
        if keyFields.isEmpty { return "give at least one --key field path, e.g. --key order.id" }
        if deadLetterTopic != nil && onInvalid != .skip { return "--dead-letter-topic needs --on-invalid skip" }
        return nil
    }
}
