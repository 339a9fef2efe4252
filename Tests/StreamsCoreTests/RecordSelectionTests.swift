import Testing
import StreamsCore
import StreamsTestKit

@Suite("Record selection across inputs")
struct RecordSelectionTests {
    private func topology(_ log: EventLog) -> Topology {
        var topology = Topology()
        topology.addSource("a", topics: "topic-a")
        topology.addSource("b", topics: "topic-b", "topic-c")
        topology.addProcessor("pass", parents: "a", "b") { PassThrough(context: $0, log: log) }
        topology.addSink("out", topic: "merged", parents: "pass")
        return topology
    }

    @Test func smallestHeadTimestampFirstTiesToFirstInput() throws {
        let log = EventLog()
        let driver = try TopologyTestDriver(topology(log))
        let a = try driver.inputTopic("topic-a")
        let b = try driver.inputTopic("topic-b")
        let c = try driver.inputTopic("topic-c")
        try driver.batch {
            // Enqueued in an order unrelated to the expected processing order.
            try c.pipeRecords([
                TestRecord(key: nil, value: "c5", timestampMs: 5), TestRecord(key: nil, value: "c1", timestampMs: 1),
            ])
            try b.pipeRecords([
                TestRecord(key: nil, value: "b5", timestampMs: 5), TestRecord(key: nil, value: "b7", timestampMs: 7),
            ])
            try a.pipeRecords([
                TestRecord(key: nil, value: "a2", timestampMs: 2), TestRecord(key: nil, value: "a5", timestampMs: 5),
                TestRecord(key: nil, value: "a9", timestampMs: 9),
            ])
        }
        // Heads: a2 b5 c5 -> a2; a5 b5 c5 -> tie at 5, a is declared first -> a5; then a9 b5 c5 -> b5 (b before c);
        // a9 b7 c5 -> c5; c's next head is c1 (within a partition, offset order wins) -> c1; a9 b7 -> b7; a9.
        #expect(try driver.outputTopic("merged").readValuesToList() == ["a2", "a5", "b5", "c5", "c1", "b7", "a9"])
        #expect(driver.streamTimeMs == 9)
        #expect(driver.engine.committedOffsets[TopicPartition(topic: "topic-c")] == 1)
        #expect(driver.engine.committedOffsets[TopicPartition(topic: "topic-a")] == 2)
    }
}
