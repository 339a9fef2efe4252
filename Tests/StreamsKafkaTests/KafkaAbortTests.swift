import Foundation
@testable import StreamsCore
import StreamsDedup
@testable import StreamsKafka
import StreamsStateLMDB
import StreamsTestSupport
import Testing

/// Abortable errors from the broker itself, in a real run: at planned moments a test processor
/// produces, in the task's open transaction, a record larger than the `max.message.bytes` of its
/// topic (the client lets it through: it is under librdkafka's own `message.max.bytes`). noida-db
/// rejects it (`MSG_SIZE_TOO_LARGE`), librdkafka puts the transaction in its abortable state, and
/// the engine must abort the transaction, make the task start again from its committed offsets and
/// process those records again. Nothing but the oversized record is injected.
@Suite("KafkaStreams: abortable errors", .enabled(if: KafkaBroker.isRunnable, KafkaBroker.skipMessage))
struct KafkaAbortTests {
    /// An event: `id` is the business key (and the Kafka key), `producer` the producer that wrote it.
    struct Event {
        var id: String
        var seq: Int
        var ts: Int64
        var producer: Int
        var json: String { #"{"id":"\#(id)","seq":\#(seq),"ts":\#(ts),"producer":\#(producer)}"# }
        /// The input partition, by business key (`o-N` → N mod 3), so the test knows where each event is.
        var partition: Int32 { Int32(Int(id.dropFirst(2))! % 3) }
    }

    /// `count` events one second apart; from seq 10 on, a third repeat the id of one of the 900
    /// events before (up to 15 minutes back: inside or outside the 10-minute window). Events are
    /// written by 3 producers in turns of 100, so most repeats come from another producer.
    static func events(count: Int, seed: UInt64) -> [Event] {
        var random = SplitMix64(seed: seed)
        var events: [Event] = []
        var nextId = 0
        for seq in 0..<count {
            let ts = 1_700_000_000_000 + Int64(seq) * 1_000
            let producer = (seq / 100) % 3
            if seq >= 10 && random.next() % 3 == 0 {
                let back = Int(random.next() % UInt64(min(seq, 900))) + 1
                events.append(Event(id: events[seq - back].id, seq: seq, ts: ts, producer: producer))
            } else {
                events.append(Event(id: "o-\(nextId)", seq: seq, ts: ts, producer: producer))
                nextId += 1
            }
        }
        return events
    }

    static let windowMs: Int64 = 600_000

    /// events (keyed and timed by their JSON) → the deduplicator on LMDB → unique-events.
    static func dedupTopology() -> Topology {
        var topology = Topology()
        topology.addSource("events", topics: ["events"], key: .jsonField("id"), timestamp: .jsonField("ts"))
        topology.addDeduplicator(
            "dedup", parents: "events",
            configuration: DeduplicatorConfiguration(key: .recordKey, window: .milliseconds(windowMs)), store: .lmdb())
        topology.addSink("unique", topic: "unique-events", parents: "dedup")
        return topology
    }

    /// The contract on events in time order (each id's events in one partition, in seq order): an
    /// event is a duplicate iff the last event kept with its id is less than the window before it.
    static func model(_ events: [Event]) -> [String] {
        var lastKept: [String: Int64] = [:]
        var kept: [String] = []
        for event in events {
            if let t0 = lastKept[event.id], event.ts - t0 < windowMs { continue }
            lastKept[event.id] = event.ts
            kept.append(event.json)
        }
        return kept.sorted()
    }

    /// Produces `events` in seq order, each with the producer its `producer` names, keyed by id, to
    /// its ``Event/partition``. Each turn is flushed before the next producer writes, so that every
    /// partition holds its events in seq order.
    static func produce(_ events: ArraySlice<Event>, producers: [KafkaProducer]) throws {
        var start = events.startIndex
        while start < events.endIndex {
            let producer = events[start].producer
            var end = start
            while end < events.endIndex && events[end].producer == producer { end += 1 }
            for event in events[start..<end] {
                try producers[producer].produce(
                    topic: "events", partition: event.partition, key: Array(event.id.utf8),
                    value: Array(event.json.utf8))
            }
            try producers[producer].flush(timeout: patience)
            start = end
        }
    }

    /// Where an abortable error surfaces.
    enum Surface: String {
        /// At the commit: the oversized record is the task's last before the commit (the last
        /// record of its partition in a slice), and `commit_transaction` meets its delivery error.
        case commit
        /// At the task's next produce: after the oversized record the processor forwards small
        /// records, 50 ms apart, until one's produce is refused (the broker has refused the oversized
        /// one and librdkafka has put the transaction in its abortable state).
        case produce
    }

    /// When to abort: per abort the task's partition, the first seq that trips it, and where the
    /// error surfaces.
    final class Plan: @unchecked Sendable {
        var pending: [(partition: Int32, seq: Int, surface: Surface)]
        var fired: [(task: TaskId, seq: Int, surface: Surface)] = []

        init(_ pending: [(partition: Int32, seq: Int, surface: Surface)]) { self.pending = pending }

        /// The abort that `seq`, processed by `task`, trips: the next one planned for its partition.
        func trip(task: TaskId, seq: Int) -> Surface? {
            guard let i = pending.firstIndex(where: { $0.partition == task.partition && seq >= $0.seq }) else {
                return nil
            }
            let surface = pending.remove(at: i).surface
            fired.append((task, seq, surface))
            return surface
        }
    }

    /// Forwards nothing, except at a planned abort: it waits for the task's open transaction
    /// (its output and changelog records so far, the tripping record's included: the deduplicator
    /// runs first) to reach the broker, then forwards a record too large for its sink's topic.
    final class Tripping: Processor {
        let context: ProcessorContext
        let plan: Plan

        init(context: ProcessorContext, plan: Plan) {
            self.context = context
            self.plan = plan
        }

        func process(_ record: Record) throws {
            let value = String(decoding: record.value, as: UTF8.self)
            guard let range = value.range(of: #""seq":"#),
                let seq = Int(value[range.upperBound...].prefix { $0.isNumber }),
                let surface = plan.trip(task: context.taskId, seq: seq)
            else { return }
            let key = record.key.map(Array.init)
            usleep(300_000)
            try context.forward(
                Record(
                    key: key, value: Array(repeating: UInt8(ascii: "x"), count: 5_000), timestampMs: record.timestampMs)
            )
            guard surface == .produce else { return }
            // Small records until one is refused: the broker's answer takes about a second when
            // the producer had not written to that partition yet.
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                usleep(50_000)
                try context.forward(Record(key: key, value: Array("small".utf8), timestampMs: record.timestampMs))
            }
        }
    }

    @Test(
        "abortable errors from the broker in a real run: each aborts its task's transaction, which starts again from its committed offsets; read_committed output exactly the model, the aborted records only read_uncommitted"
    )
    func brokerRejectsRecords() async throws {
        try await KafkaBroker.with { broker in try await onOwnThread { try Self.brokerRejectsRecords(broker) } }
    }

    static func brokerRejectsRecords(_ broker: KafkaBroker) throws {
        // The output's timestamps are the events' (2023): keep them (see docs/kafka.md, "Output timestamps").
        try broker.createTopics([
            KafkaNewTopic(name: "events", partitions: 3),
            KafkaNewTopic(name: "unique-events", partitions: 3, configs: ["retention.ms": "-1"]),
            KafkaNewTopic(name: "oversized", partitions: 3, configs: ["max.message.bytes": "1000"]),
        ])
        let count = 20_000
        let slice = 4_000
        let events = Self.events(count: count, seed: 13)
        let producers = try (0..<3).map { _ in
            try KafkaProducer(configuration: broker.configuration(["acks": "all", "partitioner": "murmur2_random"]))
        }
        // A slice at a time, the next once the previous is committed: each abort hits a later
        // transaction of a producer already running (a new producer's first records reach the
        // broker only after about a second, see docs/kafka.md "Where the start-up goes").
        try produce(events[..<slice], producers: producers)
        let state = TemporaryDirectory("kafka-abort-state")
        defer { state.remove() }

        // Every task, at different moments, each way; the first slice has none (the producers start).
        func last(of partition: Int32, inSlice n: Int) -> Int {
            events[(n * slice)..<((n + 1) * slice)].last { $0.partition == partition }!.seq
        }
        let plan = Plan([
            (0, last(of: 0, inSlice: 1), .commit), (1, 9_000, .produce), (2, last(of: 2, inSlice: 2), .commit),
            (0, 14_000, .produce), (1, last(of: 1, inSlice: 4), .commit),
        ])
        var topology = dedupTopology()
        topology.addProcessor("trip", parents: "events") { Tripping(context: $0, plan: plan) }
        topology.addSink("oversized", topic: "oversized", parents: "trip")

        let capture = CapturingLogHandler()
        let app = "abort-app"
        // Tasks 0_0 and 0_1 abort twice, with commits in between: each commit ends the task's
        // streak, so a limit of 2 aborts in a row is never reached.
        let (engine, thread) = try broker.streamThread(
            topology, app: app, state: state.path, commitInterval: .milliseconds(200), maxConsecutiveAborts: 2,
            log: capture)
        defer { engine.close() }

        let checker = try broker.consumer(group: app)
        defer { try? checker.close() }
        let partitions = (0..<3).map { KafkaTopicPartition(topic: "events", partition: $0) }
        var lastCheck = ContinuousClock.now
        var committed: Int64 = 0
        var produced = slice
        let deadline = ContinuousClock.now + patience
        _ = try thread.run(shouldStop: {
            guard ContinuousClock.now < deadline else { return true }
            guard ContinuousClock.now - lastCheck > .milliseconds(100) else { return false }
            lastCheck = ContinuousClock.now
            committed = committedCount(checker, partitions)
            if committed == Int64(produced) && produced < count {
                try? produce(events[produced..<(produced + slice)], producers: producers)
                produced += slice
            }
            return committed == Int64(count)
        })
        #expect(committed == Int64(count), "committed \(committed) of \(count) in \(patience)")
        #expect(plan.pending.isEmpty, "aborts not tripped: \(plan.pending)")

        let log = capture.messages
        let aborted = log.filter { $0.contains("was aborted") }
        #expect(aborted.count == plan.fired.count, "\(log.filter { !$0.hasPrefix("info") })")
        // In order, each its task's and where it was planned to surface: at the commit either in
        // librdkafka's send_offsets_to_transaction (the broker's answer came first) or as the
        // delivery error commit_transaction finds; at the produce as the delivery error.
        for (abort, message) in zip(plan.fired, aborted) {
            let steps =
                abort.surface == .commit
                ? ["send_offsets_to_transaction", "commit_transaction"] : ["produce to oversized"]
            let closing =
                "closing task \(abort.task) dirty: taskCorrupted: the transaction of task \(abort.task) was aborted"
            #expect(
                steps.contains { message.contains("\(closing) (\($0)): ") } && message.contains("oversized")
                    && message.contains("Message size too large")
                    && message.contains("[MSG_SIZE_TOO_LARGE, abortable]"),
                "\(abort): \(message)")
        }
        #expect(Set(plan.fired.map(\.task.partition)) == [0, 1, 2])
        #expect(log.filter { $0.contains("dirty") }.count == plan.fired.count, "\(log.filter { $0.contains("dirty") })")

        let output = try readCommitted(broker: broker, topic: "unique-events").map(\.value)
        let expected = model(events)
        #expect(output.count == expected.count, "each first occurrence once")
        #expect(output.sorted() == expected)
        // The aborted transactions' records reached the broker: only read_uncommitted sees them,
        // and each of them was processed again and committed.
        let uncommitted = try readCommitted(broker: broker, topic: "unique-events", isolation: "read_uncommitted")
            .map(\.value)
        #expect(uncommitted.count > output.count, "\(uncommitted.count) records read_uncommitted")
        #expect(Set(uncommitted) == Set(output))
        #expect(try readCommitted(broker: broker, topic: "oversized").isEmpty)
    }

    @Test(
        "a record the broker refuses every time: its task aborts maxConsecutiveAborts times in a row, then the engine stops with an error naming the task, its committed offset, MSG_SIZE_TOO_LARGE and the fix; the records before it committed"
    )
    func brokerRefusesARecordEveryTime() async throws {
        try await KafkaBroker.with { broker in try await onOwnThread { try Self.brokerRefusesARecordEveryTime(broker) }
        }
    }

    static func brokerRefusesARecordEveryTime(_ broker: KafkaBroker) throws {
        // The output topic takes batches up to 100,000 bytes: the small records' batches fit, a
        // 200,000-byte record does not (it is under librdkafka's message.max.bytes, so the client
        // sends it, the broker refuses it: MSG_SIZE_TOO_LARGE, abortable).
        try broker.createTopics([
            KafkaNewTopic(name: "events", partitions: 1),
            KafkaNewTopic(
                name: "unique-events", partitions: 1, configs: ["retention.ms": "-1", "max.message.bytes": "100000"]),
        ])
        let events = Self.events(count: 200, seed: 7)
        let big =
            #"{"id":"o-big","seq":200,"ts":1700000200000,"pad":""# + String(repeating: "x", count: 200_000) + #""}"#
        let producer = try KafkaProducer(configuration: broker.configuration(["acks": "all"]))
        func produce(_ values: [String]) throws {
            for value in values {
                try producer.produce(topic: "events", partition: 0, key: nil, value: Array(value.utf8))
            }
            try producer.flush(timeout: patience)
        }
        try produce(events.map(\.json))
        let state = TemporaryDirectory("kafka-poison-state")
        defer { state.remove() }

        let topology = dedupTopology()

        let capture = CapturingLogHandler()
        let app = "poison-app"
        let (engine, thread) = try broker.streamThread(
            topology, app: app, state: state.path, commitInterval: .milliseconds(100), maxConsecutiveAborts: 3,
            log: capture)
        defer { engine.close() }

        // The 200 events committed, then the big one and 10 more behind it.
        let checker = try broker.consumer(group: app)
        defer { try? checker.close() }
        let partition = [KafkaTopicPartition(topic: "events", partition: 0)]
        func committed() -> Int64 { committedCount(checker, partition) }
        var lastCheck = ContinuousClock.now
        var poisoned = false
        let started = ContinuousClock.now
        // Bounded: on code without the limit the task aborts and starts again until this deadline.
        let deadline = started + .seconds(90)
        var stop: StreamsError?
        do {
            _ = try thread.run(shouldStop: {
                guard ContinuousClock.now < deadline else { return true }
                guard !poisoned, ContinuousClock.now - lastCheck > .milliseconds(100) else { return false }
                lastCheck = ContinuousClock.now
                if committed() == 200 {
                    try? produce([big] + Self.events(count: 10, seed: 8).map(\.json))
                    poisoned = true
                }
                return false
            })
        } catch {
            stop = error
        }
        let elapsed = ContinuousClock.now - started
        #expect(poisoned)
        let error = try #require(stop, "no error within \(elapsed): the task kept aborting")
        #expect(error.code == .engine, "\(error)")
        #expect(error.taskId == TaskId(subtopology: 0, partition: 0))
        #expect(
            error.message.hasPrefix(
                "task 0_0 aborted its transaction 3 times in a row without committing, each time starting again from its committed offsets (events-0@200)"
            ), "\(error.message)")
        #expect(error.message.contains("[MSG_SIZE_TOO_LARGE]") && error.message.contains("unique-events"), "\(error)")
        #expect(
            error.message.contains("raise that topic's max.message.bytes")
                && error.message.contains("producer.message.max.bytes"), "\(error.message)")
        #expect(!error.message.contains("\n"))
        #expect((error.underlying as? KafkaAbortStreakError)?.recordTooLarge == true)
        // Twice the task started again; the third abort stopped the engine.
        let log = capture.messages
        #expect(log.filter { $0.contains("closing task 0_0 dirty: taskCorrupted") }.count == 2, "\(log)")
        // The records before it committed, none after it.
        #expect(committed() == 200)
        #expect(try readCommitted(broker: broker, topic: "unique-events").map(\.value).sorted() == model(events))
    }
}
