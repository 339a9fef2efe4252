/// Where and how ``KafkaStreams`` runs a topology on Kafka: the cluster, the application id (the
/// consumer group, the transactional ids, the changelog topics' prefix), librdkafka properties and
/// the processing guarantee.
///
/// Kafka Streams counterpart: the `bootstrap.servers`, `application.id` and
/// `processing.guarantee` entries of `StreamsConfig`.
public struct KafkaStreamsConfiguration: Sendable {
    /// What survives a crash.
    public enum Guarantee: String, Sendable, Hashable {
        /// Kafka Streams' `exactly_once_v2`: one transactional producer per task
        /// (`transactional.id = <applicationId>-<taskId>`); output, changelog records and input
        /// offsets commit in one transaction, read with `isolation.level=read_committed`.
        case exactlyOnce = "exactly-once"
        /// No transactions: the producer is flushed, then the input offsets are committed. A crash
        /// between the two repeats the records processed since the last commit.
        case atLeastOnce = "at-least-once"
    }

    /// `bootstrap.servers`, for example `"127.0.0.1:9092"`.
    public var bootstrapServers: String
    /// The application's id: the consumer group (`group.id`), the prefix of each task's
    /// `transactional.id` and of the changelog topics (`<applicationId>-<store>-changelog`).
    public var applicationId: String
    /// Any librdkafka property, for every client the engine makes (consumer, restore consumer,
    /// producers, admin client); a name prefixed `consumer.` or `producer.` goes only to consumers
    /// or producers (prefix removed). The engine's own settings win over these: `group.id`,
    /// `enable.auto.commit=false`, `transactional.id` and, under exactly-once,
    /// `isolation.level=read_committed`. Examples: `group.instance.id`, `session.timeout.ms`,
    /// `partition.assignment.strategy` (default `range`, see docs/kafka.md), `linger.ms`.
    public var properties: [String: String]
    /// The processing guarantee; default ``Guarantee/exactlyOnce``.
    public var guarantee: Guarantee
    /// How long a call to the cluster may take (`init_transactions`, `commit_transaction`,
    /// committed offsets, metadata) before the engine gives up on it; default 60 s.
    public var requestTimeout: Duration
    /// How long a poll waits for records when no task has any buffered (nothing else to do);
    /// default 100 ms, Kafka Streams' `poll.ms`. A poll never waits while records wait to be processed.
    public var pollTimeout: Duration
    /// Added to a window store's retention for its changelog topic's `retention.ms`; default one
    /// day, Kafka Streams' `windowstore.changelog.additional.retention.ms`.
    public var changelogRetentionMargin: Duration
    /// How many times in a row a task may abort its transaction and start again from its committed
    /// offsets (after an abortable or fatal producer error) with no commit of its offsets in
    /// between; at the last of them the engine stops with ``StreamsError/Code/engine`` naming the
    /// task, its committed offsets and the error, rather than reprocess without end a record the
    /// broker refuses every time (an output record over its topic's `max.message.bytes`). Default
    /// ``defaultMaxConsecutiveAborts``; values below 1 count as 1 (the first abort stops).
    public var maxConsecutiveAborts: Int

    /// The default of ``maxConsecutiveAborts``.
    public static let defaultMaxConsecutiveAborts = 5

    /// Creates a configuration.
    ///
    /// - Parameters:
    ///   - bootstrapServers: `bootstrap.servers`.
    ///   - applicationId: The consumer group and the prefix of transactional ids and changelog topics.
    ///   - properties: More librdkafka properties (see ``properties``).
    ///   - guarantee: Default ``Guarantee/exactlyOnce``.
    ///   - requestTimeout: Default 60 s.
    ///   - pollTimeout: Default 100 ms.
    ///   - changelogRetentionMargin: Default one day.
    ///   - maxConsecutiveAborts: Default ``defaultMaxConsecutiveAborts``.
    public init(
        bootstrapServers: String,
        applicationId: String,
        properties: [String: String] = [:],
        guarantee: Guarantee = .exactlyOnce,
        requestTimeout: Duration = .seconds(60),
        pollTimeout: Duration = .milliseconds(100),
        changelogRetentionMargin: Duration = .seconds(86_400),
        maxConsecutiveAborts: Int = defaultMaxConsecutiveAborts
    ) {
        self.bootstrapServers = bootstrapServers
        self.applicationId = applicationId
        self.properties = properties
        self.guarantee = guarantee
        self.requestTimeout = requestTimeout
        self.pollTimeout = pollTimeout
        self.changelogRetentionMargin = changelogRetentionMargin
        self.maxConsecutiveAborts = maxConsecutiveAborts
    }

    /// The properties for one kind of client: the unprefixed ones, then those with `prefix`.
    func clientProperties(prefix: String) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in properties where !name.hasPrefix("consumer.") && !name.hasPrefix("producer.") {
            result[name] = value
        }
        for (name, value) in properties where name.hasPrefix(prefix) {
            result[String(name.dropFirst(prefix.count))] = value
        }
        return result
    }

    /// The changelog topic of `store`: `<applicationId>-<store>-changelog`, as Kafka Streams names it.
    public func changelogTopic(store: String) -> String { "\(applicationId)-\(store)-changelog" }

    /// The `transactional.id` of task `task`: `<applicationId>-<task>`.
    public func transactionalId(task: String) -> String { "\(applicationId)-\(task)" }
}
