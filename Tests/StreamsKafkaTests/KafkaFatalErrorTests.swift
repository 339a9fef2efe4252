import Foundation
@testable import StreamsCore
import StreamsDedup
@testable import StreamsKafka
import StreamsStateLMDB
import StreamsTestSupport
import Testing

/// A fatal producer error at a changelog write, raised by librdkafka itself
/// (`rd_kafka_test_fatal_error`: noida-db cannot provoke one): the task closes dirty, its state is
/// wiped, and it starts again from its committed offsets with a new producer; the job goes on.
@Suite("KafkaStreams: a fatal producer error", .enabled(if: KafkaBroker.isRunnable, KafkaBroker.skipMessage))
struct KafkaFatalErrorTests {
    /// Lets the test's processor reach the engine, which is made after the topology.
    final class Trip: @unchecked Sendable {
        var engine: KafkaEngine?
        var tripped: TaskId?
        /// The value of the record that trips it.
        let marker: String

        init(marker: String) { self.marker = marker }
    }

    /// Forwards every record; at the first one containing the trip's marker it waits for the
    /// task's open transaction to reach the broker, then raises a fatal error on the task's
    /// producer. The record is a first occurrence, so the deduplicator's next call is a store
    /// write, whose changelog record is the producer's next produce.
    final class Tripping: Processor {
        let context: ProcessorContext
        let trip: Trip

        init(context: ProcessorContext, trip: Trip) {
            self.context = context
            self.trip = trip
        }

        func process(_ record: Record) throws {
            if trip.tripped == nil, String(decoding: record.value, as: UTF8.self).contains(trip.marker) {
                trip.tripped = context.taskId
                usleep(300_000)
                // OUT_OF_ORDER_SEQUENCE_NUMBER: the idempotent producer's fatal error.
                trip.engine?.raiseFatalErrorForTesting(
                    task: context.taskId, KafkaError.Code(rawValue: 45), reason: "injected by the test")
            }
            try context.forward(record)
        }
    }

    @Test(
        "a fatal producer error at a changelog write restarts only that task from its committed offsets: output exact, the aborted records invisible to read_committed"
    )
    func fatalAtChangelogWrite() async throws {
        try await KafkaBroker.with { broker in try await onOwnThread { try Self.fatalAtChangelogWrite(broker) } }
    }

    static func fatalAtChangelogWrite(_ broker: KafkaBroker) throws {
        // The output's timestamps are the events' (2023): keep them (see docs/kafka.md, "Output timestamps").
        try broker.createTopics([
            KafkaNewTopic(name: "events", partitions: 3),
            KafkaNewTopic(name: "unique-events", partitions: 3, configs: ["retention.ms": "-1"]),
        ])
        // Ids 0..<400 (seq n has id 7n mod 400): seqs 0..<400 are first occurrences, the rest
        // repeats. The first 300 are committed before the rest is produced, so that the fault
        // hits a later transaction (a new producer's first records reach the broker only after
        // about a second, see docs/kafka.md "Where the start-up goes").
        let events = KafkaStreamsTests.events(0..<600, ids: 400)
        try KafkaStreamsTests.produce(Array(events[..<300]), broker: broker)
        let state = TemporaryDirectory("kafka-fatal-state")
        defer { state.remove() }

        let trip = Trip(marker: #""seq":350,"#)
        var topology = Topology()
        topology.addSource("events", topics: ["events"], key: .jsonField("id"), timestamp: .jsonField("ts"))
        topology.addProcessor("trip", parents: "events") { Tripping(context: $0, trip: trip) }
        topology.addDeduplicator(
            "dedup", parents: "trip",
            configuration: DeduplicatorConfiguration(key: .recordKey, window: .seconds(3_600)), store: .lmdb())
        topology.addSink("unique", topic: "unique-events", parents: "dedup")

        let capture = CapturingLogHandler()
        let app = "fatal-app"
        let (engine, thread) = try broker.streamThread(
            topology, app: app, state: state.path, commitInterval: .seconds(1), log: capture)
        defer { engine.close() }
        trip.engine = engine

        // Until the group committed every input record (the restarted task reads its partition
        // again from its committed offsets).
        let checker = try broker.consumer(group: app)
        defer { try? checker.close() }
        let partitions = (0..<3).map { KafkaTopicPartition(topic: "events", partition: $0) }
        var lastCheck = ContinuousClock.now
        var committed: Int64 = 0
        var produced = 300
        let deadline = ContinuousClock.now + patience
        _ = try thread.run(shouldStop: {
            guard ContinuousClock.now < deadline else { return true }
            guard ContinuousClock.now - lastCheck > .milliseconds(100) else { return false }
            lastCheck = ContinuousClock.now
            committed = committedCount(checker, partitions)
            if committed == Int64(produced) && produced < events.count {
                try? KafkaStreamsTests.produce(Array(events[produced...]), broker: broker)
                produced = events.count
            }
            return committed == Int64(events.count)
        })
        #expect(committed == Int64(events.count), "committed \(committed) of \(events.count) in \(patience)")

        let task = try #require(trip.tripped, "no record tripped the fault")
        let log = capture.messages
        let closing = log.first { $0.contains("closing task \(task) dirty") }
        #expect(
            closing?.contains("taskCorrupted") == true
                && closing?.contains("produce to \(app)-dedup-store-changelog") == true
                && closing?.contains("OUT_OF_ORDER_SEQUENCE_NUMBER") == true,
            "\(log.filter { !$0.hasPrefix("info") })")
        #expect(log.contains { $0.contains("wiped the state of task \(task)") }, "\(log)")
        // Only that task: the other tasks never closed.
        #expect(log.filter { $0.contains("dirty") }.count == 1, "\(log.filter { $0.contains("dirty") })")

        let output = try readCommitted(broker: broker, topic: "unique-events").map(\.value)
        #expect(output.count == 400, "no record twice")
        #expect(output.sorted() == KafkaStreamsTests.expectedUnique(events))
        // The aborted transaction's records reached the broker: only read_uncommitted sees them.
        let uncommitted = try readCommitted(broker: broker, topic: "unique-events", isolation: "read_uncommitted")
        #expect(uncommitted.count > output.count, "\(uncommitted.count) records read_uncommitted")
    }
}
