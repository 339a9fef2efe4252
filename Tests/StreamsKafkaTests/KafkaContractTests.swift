import Foundation
import Logging
import StreamsCore
import StreamsTestKit
import StreamsTestSupport
import Testing

@testable import StreamsKafka

/// The engine-contract suite of StreamsTestKit against the Kafka engine on a real broker: a
/// consumer group of one member, a transactional producer per task, changelog topics, and a
/// restart that closes the engine and joins the group again as a new process would.
///
/// "revoke and assign" is not run: it expects a revocation of one task only, and under the eager
/// `range` protocol (the default, docs/kafka.md) every rebalance revokes every task. The Kafka
/// rebalance test below checks the hand-over on the real protocol instead.
@Suite("Engine contract: Kafka engine", .enabled(if: KafkaBroker.isRunnable, KafkaBroker.skipMessage))
struct KafkaContractTests {
    static let scenarios = EngineContract.Scenario.allCases.filter { $0 != .revokeAndAssign }

    @Test("scenario", arguments: scenarios)
    func scenario(_ scenario: EngineContract.Scenario) async throws {
        try await KafkaBroker.with("contract") { broker in
            try await onOwnThread {
                let harness = try KafkaContractHarness(broker: broker)
                defer { harness.close() }
                try scenario.run(harness)
            }
        }
    }
}

/// Source topics have 2 partitions, sink topics 1 (so that committed values keep their order);
/// the test producer writes records with the timestamps the scenarios give. The task manager's
/// clock never moves, so only the scenarios commit.
final class KafkaContractHarness: EngineContractHarness {
    let broker: KafkaBroker
    let state = TemporaryDirectory("kafka-contract-state")
    let producer: KafkaProducer
    private let clock = ManualWallClock(startMs: 0)
    private var topology = Topology()
    private var configuration = StreamsConfiguration(applicationId: "contract")
    private var engine: KafkaEngine?
    private var current: StreamThread?
    private var appended: [TopicPartition: Int64] = [:]
    private var sourcePartitions: [TopicPartition] = []

    init(broker: KafkaBroker) throws {
        self.broker = broker
        producer = try KafkaProducer(configuration: broker.configuration(["acks": "all"]))
    }

    func start(_ topology: Topology, configuration: StreamsConfiguration) throws {
        self.topology = topology
        var configuration = configuration
        configuration.stateDirectory = state.path
        self.configuration = configuration
        var topics: [KafkaNewTopic] = []
        // The records' timestamps are in 2001 (`base`): noida-db's time retention (7 days by
        // default) may delete them at any moment, and did once under load (the consumer was reset
        // past the uncommitted a3 and a4 of "abort and restart", "offset out of range").
        let keep = ["retention.ms": "-1"]
        for nodes in topology.describe().subtopologies {
            for node in nodes where node.kind == "Source" {
                for topic in node.topics {
                    topics.append(KafkaNewTopic(name: topic, partitions: 2, configs: keep))
                    sourcePartitions += [0, 1].map { TopicPartition(topic: topic, partition: $0) }
                }
            }
            for node in nodes where node.kind == "Sink" {
                topics += node.topics.map { KafkaNewTopic(name: $0, partitions: 1, configs: keep) }
            }
        }
        try broker.createTopics(topics)
        try open()
    }

    /// Joins the group and steps the thread until every source partition is assigned and its task runs.
    private func open() throws {
        let streams = KafkaStreams(
            configuration: KafkaStreamsConfiguration(
                bootstrapServers: broker.bootstrapServers, applicationId: configuration.applicationId,
                properties: ["consumer.fetch.wait.max.ms": "20", "reconnect.backoff.ms": "20"],
                requestTimeout: patience,
                pollTimeout: .milliseconds(20)),
            clock: clock, logger: testLogger("contract"))
        let (engine, thread) = try streams.makeThread(topology, configuration: configuration)
        self.engine = engine
        current = thread
        try stepUntil("every source partition is assigned and its task runs") {
            Set(sourcePartitions).isSubset(of: engine.assignedPartitions)
                && !thread.taskManager.tasks.isEmpty && !thread.taskManager.hasTasksToRestore
        }
    }

    private func stepUntil(_ what: String, _ condition: () -> Bool) throws {
        let deadline = ContinuousClock.now + patience
        while !condition() {
            guard ContinuousClock.now < deadline else {
                throw EngineContractViolation.expectation("timed out waiting until \(what)")
            }
            try current!.runOnce()
        }
    }

    /// Records carry `base + ` the scenario's timestamp (Kafka takes 0 for "now"); the sources
    /// take the base off again.
    static let base: Int64 = 1_000_000_000_000

    var sourceTimestamps: RecordTimestampExtractor { .custom { $0.timestampMs - KafkaContractHarness.base } }

    /// The thread, once every record appended to a partition its tasks run has been polled
    /// (and buffered in its task): a real broker delivers asynchronously, and the scenarios'
    /// `processAvailable()` processes what is there.
    var thread: StreamThread {
        guard let current, let engine else { preconditionFailure("call start(_:configuration:) first") }
        let deadline = ContinuousClock.now + patience
        while ContinuousClock.now < deadline {
            let missing = engine.assignedPartitions.contains { partition in
                guard let task = current.taskManager.task(owning: partition), task.state == .running else {
                    return false
                }
                if case .active = engine.status(of: partition) { return true }
                return (engine.positions[partition] ?? 0) < appended[partition, default: 0]
            }
            if !missing { break }
            do { try current.taskManager.pollAndRoute(maxRecords: 1_000, timeout: .milliseconds(20)) } catch {
                break  // the scenario's next call reports it
            }
        }
        return current
    }

    func append(_ records: [(value: String, timestampMs: Int64)], to partition: TopicPartition) throws {
        for record in records {
            try producer.produce(
                topic: partition.topic, partition: partition.partition, key: nil, value: Array(record.value.utf8),
                timestampMs: Self.base + record.timestampMs)
        }
        try producer.flush(timeout: patience)
        appended[partition, default: 0] += Int64(records.count)
    }

    func assign(_ partitions: [TopicPartition]) throws {
        try stepUntil("\(partitions) are assigned and their tasks run") {
            Set(partitions).isSubset(of: engine!.assignedPartitions) && !current!.taskManager.hasTasksToRestore
        }
    }

    func revoke(_ partitions: [TopicPartition]) throws {
        throw EngineContractViolation.unsupported("the eager protocol revokes every task at once")
    }

    /// What a `read_committed` consumer reads from `topic`, from the beginning to its end.
    func committedValues(topic: String) throws -> [String] {
        try readCommitted(broker: broker, topic: topic).map(\.value)
    }

    func restart() throws {
        current?.taskManager.closeDirty()
        engine?.close()
        current = nil
        engine = nil
        try open()
    }

    func close() {
        current?.taskManager.closeDirty()
        engine?.close()
        state.remove()
    }
}

/// A logger printing to stderr when `KAFKA_TEST_LOG` is set (to a level: `debug`, `info`), else none.
func testLogger(_ label: String) -> Logger {
    guard let level = ProcessInfo.processInfo.environment["KAFKA_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) else {
        return Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() })
    }
    var logger = Logger(label: label, factory: { StreamLogHandler.standardError(label: $0) })
    logger.logLevel = level
    return logger
}

/// Every record a `read_committed` reader sees in `topic` (all partitions, from the beginning to
/// the last stable offset), in partition then offset order.
func readCommitted(broker: KafkaBroker, topic: String, isolation: String = "read_committed") throws -> [(
    key: String?, value: String
)] {
    let admin = try KafkaAdminClient(configuration: broker.configuration())
    guard let description = try admin.describeTopic(topic, timeout: patience) else { return [] }
    let consumer = try broker.consumer(
        group: "reader-\(UUID().uuidString)", isolation: isolation, ["enable.partition.eof": "true"])
    defer { try? consumer.close() }
    try consumer.assign(
        description.partitions.map {
            KafkaTopicPartitionOffset(topic: topic, partition: $0, offset: KafkaTopicPartitionOffset.beginning)
        })
    var ended: Set<Int32> = []
    var records: [(partition: Int32, offset: Int64, key: String?, value: String)] = []
    var batch = KafkaMessageBatch(capacity: 500)
    let deadline = ContinuousClock.now + patience
    while ended.count < description.partitions.count {
        guard ContinuousClock.now < deadline else {
            throw EngineContractViolation.expectation("reading \(topic): no end of partitions \(ended) seen")
        }
        try consumer.poll(into: &batch, timeout: .milliseconds(50))
        for i in 0..<batch.count {
            let message = batch[i]
            records.append(
                (
                    message.partition, message.offset, message.keyBytes.map { String(decoding: $0, as: UTF8.self) },
                    String(decoding: message.valueBytes ?? [], as: UTF8.self)
                ))
            ended.remove(message.partition)
        }
        for end in batch.partitionEnds { ended.insert(end.topicPartition.partition) }
    }
    return records.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }.map { ($0.key, $0.value) }
}
