import Foundation
import StreamsCore
import StreamsDedup
import StreamsKafka
import StreamsStateLMDB
import StreamsTestSupport
import Testing

/// `KafkaStreams` running the Deduplicator (LMDB store) on a real broker: exactly the expected
/// first occurrences in the `read_committed` output, also when the state directory is lost between
/// runs and the store is rebuilt from its changelog topic.
@Suite("KafkaStreams: deduplication on Kafka", .enabled(if: KafkaBroker.isRunnable, KafkaBroker.skipMessage))
struct KafkaStreamsTests {
    /// events (3 partitions) → dedup by `id` within an hour of `ts` → unique-events.
    static func topology() -> Topology {
        var topology = Topology()
        topology.addSource("events", topics: ["events"], key: .jsonField("id"), timestamp: .jsonField("ts"))
        topology.addDeduplicator(
            "dedup", parents: "events",
            configuration: DeduplicatorConfiguration(key: .recordKey, window: .seconds(3_600)), store: .lmdb())
        topology.addSink("unique", topic: "unique-events", parents: "dedup")
        return topology
    }

    /// `count` events with ids `0..<ids`, every id repeated, keyed by id (so repeats share a
    /// partition), timestamps one second apart: within the window every repeat is a duplicate.
    static func events(_ range: Range<Int>, ids: Int) -> [(key: String, value: String)] {
        range.map { n in
            let id = (n * 7) % ids
            return ("\(id)", #"{"id":\#(id),"seq":\#(n),"ts":\#(1_700_000_000_000 + Int64(n) * 1_000)}"#)
        }
    }

    /// The first event of each id, as the deduplicator must emit them.
    static func expectedUnique(_ events: [(key: String, value: String)]) -> [String] {
        var seen: Set<String> = []
        return events.filter { seen.insert($0.key).inserted }.map(\.value).sorted()
    }

    static func produce(_ events: [(key: String, value: String)], broker: KafkaBroker) throws {
        let producer = try KafkaProducer(
            configuration: broker.configuration(["acks": "all", "partitioner": "murmur2_random"]))
        for event in events {
            try producer.produce(topic: "events", key: Array(event.key.utf8), value: Array(event.value.utf8))
        }
        try producer.flush(timeout: patience)
    }

    /// Runs until `count` records were processed (and committed by the stop), or fails after
    /// `patience`. Returns the changelog entries restored.
    @discardableResult
    static func run(broker: KafkaBroker, state: String, count: Int) throws -> Int {
        let streams = KafkaStreams(
            configuration: KafkaStreamsConfiguration(
                bootstrapServers: broker.bootstrapServers, applicationId: "dedup-app",
                properties: ["consumer.fetch.wait.max.ms": "20"], requestTimeout: patience,
                pollTimeout: .milliseconds(20)),
            logger: testLogger("kafka-streams"))
        var processed = 0
        var restored = 0
        let deadline = ContinuousClock.now + patience
        try streams.run(
            topology(),
            configuration: StreamsConfiguration(
                applicationId: "dedup-app", commitInterval: .milliseconds(100), stateDirectory: state),
            shouldStop: { processed >= count || ContinuousClock.now > deadline },
            onIteration: {
                processed += $0.processed
                restored += $0.restored
            })
        #expect(processed == count, "processed \(processed) of \(count) records in \(patience)")
        return restored
    }

    @Test("3 partitions with duplicates: the read_committed output is exactly the first occurrences")
    func deduplicates() async throws {
        try await KafkaBroker.with { broker in try await onOwnThread { try Self.deduplicates(broker) } }
    }

    static func deduplicates(_ broker: KafkaBroker) throws {
        try broker.createTopics([
            KafkaNewTopic(name: "events", partitions: 3), KafkaNewTopic(name: "unique-events", partitions: 3),
        ])
        let events = Self.events(0..<600, ids: 200)
        try Self.produce(events, broker: broker)
        let state = TemporaryDirectory("kafka-dedup-state")
        defer { state.remove() }
        try Self.run(broker: broker, state: state.path, count: events.count)

        let output = try readCommitted(broker: broker, topic: "unique-events")
        #expect(output.map(\.value).sorted() == Self.expectedUnique(events))
        // The output is keyed by the canonical id: each id once.
        #expect(Set(output.compactMap(\.key)).count == 200)
        let changelog = try readCommitted(broker: broker, topic: "dedup-app-dedup-store-changelog")
        #expect(Set(changelog.compactMap(\.key)).count >= 200, "a changelog record per stored id")
    }

    @Test("state directory lost between runs: the store is restored from the changelog topic, output still exact")
    func restoresLostState() async throws {
        try await KafkaBroker.with { broker in try await onOwnThread { try Self.restoresLostState(broker) } }
    }

    static func restoresLostState(_ broker: KafkaBroker) throws {
        try broker.createTopics([
            KafkaNewTopic(name: "events", partitions: 3), KafkaNewTopic(name: "unique-events", partitions: 3),
        ])
        let first = Self.events(0..<300, ids: 100)
        try Self.produce(first, broker: broker)
        let state = TemporaryDirectory("kafka-dedup-state")
        defer { state.remove() }
        let restoredFirst = try Self.run(broker: broker, state: state.path, count: first.count)
        #expect(restoredFirst == 0)
        state.remove()
        // The second half repeats ids of the first: only the restored store knows them.
        let second = Self.events(300..<600, ids: 150)
        try Self.produce(second, broker: broker)
        let restored = try Self.run(broker: broker, state: state.path, count: second.count)
        #expect(restored >= 100, "every stored id restored from the changelog topic")

        let output = try readCommitted(broker: broker, topic: "unique-events")
        #expect(output.map(\.value).sorted() == Self.expectedUnique(first + second))
    }
}
