import Foundation
import StreamsCore
import StreamsState
import StreamsTestSupport
import Testing

@testable import StreamsKafka

/// The Kafka engine's changelog reads (``ChangelogReader``) on a real broker, where a store's
/// recorded position lies past an aborted transaction of its task's producer.
@Suite("Kafka engine: changelog restore", .enabled(if: KafkaBroker.isRunnable, KafkaBroker.skipMessage))
struct KafkaChangelogRestoreTests {
    @Test(
        "a store behind its changelog, past an aborted transaction of its task's producer, gets the committed entries after its position"
    )
    func restorePastAbortedTransaction() async throws {
        try await KafkaBroker.with { broker in try await onOwnThread { try Self.restorePastAbortedTransaction(broker) }
        }
    }

    static func restorePastAbortedTransaction(_ broker: KafkaBroker) throws {
        try broker.createTopics([KafkaNewTopic(name: "events", partitions: 1)])
        let settings = KafkaStreamsConfiguration(
            bootstrapServers: broker.bootstrapServers, applicationId: "behind", requestTimeout: patience)
        var topology = Topology()
        topology.addSource("events", topics: ["events"])
        topology.addSink("out", topic: "out", parents: "events")
        let engine = try KafkaEngine(settings: settings, topology: topology, logger: testLogger("behind"))
        defer { engine.close() }
        let changelog = ChangelogID(taskId: TaskId(subtopology: 0, partition: 0), storeName: "store")
        #expect(try engine.changelogEnd(changelog) == .beginning)  // creates the topic

        // The task's producer (as a crashed instance's and the next one's: one transactional.id,
        // so one producer id): k1 committed, k2 aborted, k3 and k4 committed. Offsets: k1 0,
        // marker 1, k2 2, marker 3, k3 4, marker 5, k4 6, marker 7.
        let producer = try KafkaProducer(
            configuration: broker.configuration(["transactional.id": settings.transactionalId(task: "0_0")]))
        try producer.initTransactions(timeout: patience)
        for (key, commit) in [("k1", true), ("k2", false), ("k3", true), ("k4", true)] {
            try producer.beginTransaction()
            try producer.produce(
                topic: settings.changelogTopic(store: "store"), partition: 0,
                key: Array(key.utf8) + [0, 0, 0, 0, 0, 0, 0, 1], value: [1])
            if commit {
                try producer.commitTransaction(timeout: patience)
            } else {
                try producer.flush(timeout: patience)  // the aborted record reaches the log
                try producer.abortTransaction(timeout: patience)
            }
        }
        let end = try #require(try engine.changelogEnd(changelog))
        #expect(end == ChangelogPosition(8))

        // A store that committed after k2's abort (position 4) and not since: k3 and k4 are
        // committed entries it lacks. A read_committed fetch from offset 4 gets k2's aborted
        // transaction in its list on noida-db, and librdkafka then skipped k3 and k4.
        for start: Int64 in [4, 0] {
            var position = ChangelogPosition(start)
            var keys: [String] = []
            let deadline = ContinuousClock.now + patience
            while position < end && ContinuousClock.now < deadline {
                let batch = try engine.readChangelog(changelog, from: position, maxEntries: 100)
                keys += batch.entries.map { String(decoding: $0.key, as: UTF8.self) }
                position = max(position, batch.nextPosition)
            }
            #expect(keys == (start == 0 ? ["k1", "k3", "k4"] : ["k3", "k4"]), "restored from \(start)")
            #expect(position == end)
        }
    }
}
