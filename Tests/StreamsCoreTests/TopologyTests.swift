import Testing
import StreamsCore
import StreamsState

@Suite("Topology validation and description")
struct TopologyTests {
    private func problems(_ topology: Topology, configuration: StreamsConfiguration? = nil) -> String? {
        do {
            if let configuration { try topology.validate(for: configuration) } else { try topology.validate() }
            return nil
        } catch {
            #expect(error.code == .invalidTopology)
            return error.message
        }
    }

    private static let noop: ProcessorFactory = { _ in NoOp() }
    private final class NoOp: Processor { func process(_ record: Record) throws {} }
    private static let store: StoreFactory = { _ in
        try InMemoryWindowStore(configuration: WindowStoreConfiguration(name: "s", retention: .seconds(1)))
    }

    @Test func validTopologyPasses() throws {
        var topology = Topology()
        topology.addSink("out", topic: "o", parents: "p")  // added before its parent: order is free
        topology.addSource("in", topics: "a", "b")
        topology.addProcessor("p", parents: "in", stores: ["s"]) { _ in NoOp() }
        topology.addStateStore("s", Self.store)
        try topology.validate()
    }

    @Test func unknownParent() throws {
        var topology = Topology()
        topology.addSource("in", topics: "a")
        topology.addProcessor("p", parents: "nope") { _ in NoOp() }
        let message = try #require(problems(topology))
        #expect(message.contains("node 'p' lists unknown parent 'nope'"))
    }

    @Test func cycle() throws {
        var topology = Topology()
        topology.addSource("in", topics: "a")
        topology.addProcessor("p1", parents: "in", "p3") { _ in NoOp() }
        topology.addProcessor("p2", parents: "p1") { _ in NoOp() }
        topology.addProcessor("p3", parents: "p2") { _ in NoOp() }
        let message = try #require(problems(topology))
        #expect(message.contains("cycle: 'p1' -> 'p2' -> 'p3' -> 'p1'"))
    }

    @Test func duplicateNames() throws {
        var topology = Topology()
        topology.addSource("x", topics: "a")
        topology.addProcessor("x", parents: "x") { _ in NoOp() }
        topology.addStateStore("s", connectedTo: ["x"], Self.store)
        topology.addStateStore("s", connectedTo: ["x"], Self.store)
        let message = try #require(problems(topology))
        #expect(message.contains("duplicate node name 'x'"))
        #expect(message.contains("duplicate store name 's'"))
    }

    @Test func storeProblems() throws {
        var topology = Topology()
        topology.addSource("in", topics: "a")
        topology.addProcessor("p", parents: "in", stores: ["missing"]) { _ in NoOp() }
        topology.addStateStore("s", Self.store)
        topology.addStateStore("t", connectedTo: ["in", "ghost"], Self.store)
        let message = try #require(problems(topology))
        #expect(message.contains("processor 'p' is connected to unknown store 'missing'"))
        #expect(message.contains("store 's' is not connected to any processor"))
        #expect(message.contains("store 't' is connected to 'in', which is not a processor"))
        #expect(message.contains("store 't' is connected to unknown processor 'ghost'"))
    }

    @Test func sinkWithChildrenAndSourceWithoutTopic() throws {
        var topology = Topology()
        topology.addSource("in", topics: [])
        topology.addSource("in2", topics: "a")
        topology.addSink("out", topic: "o", parents: "in2")
        topology.addProcessor("after-sink", parents: "out") { _ in NoOp() }
        let message = try #require(problems(topology))
        #expect(message.contains("source 'in' has no topic"))
        #expect(message.contains("sink 'out' cannot have children, but 'after-sink' lists it as parent"))
        #expect(message.contains("processor 'after-sink' has no parents") == false)
    }

    @Test func topicReadTwiceAndProcessorWithoutParents() throws {
        var topology = Topology()
        topology.addSource("a", topics: "t")
        topology.addSource("b", topics: "t")
        topology.addProcessor("orphan", parents: []) { _ in NoOp() }
        let message = try #require(problems(topology))
        #expect(message.contains("topic 't' is read by both source 'a' and source 'b'"))
        #expect(message.contains("processor 'orphan' has no parents"))
    }

    @Test func deadLetterSinkMustExist() throws {
        var topology = Topology()
        topology.addSource("in", topics: "a")
        topology.addSink("out", topic: "o", parents: "in")
        let configuration = StreamsConfiguration(
            applicationId: "t", deserializationErrorPolicy: .deadLetter(sink: "dlq"))
        let message = try #require(problems(topology, configuration: configuration))
        #expect(message.contains("dead-letter sink 'dlq' is not in the topology"))

        topology.addSink("dlq", topic: "dead")
        #expect(problems(topology, configuration: configuration) == nil)
        topology.addSink("lonely", topic: "x")
        let message2 = try #require(problems(topology, configuration: configuration))
        #expect(message2.contains("sink 'lonely' has no parents and is not the dead-letter sink"))
    }

    @Test func describeMatchesKafkaFormat() {
        var topology = Topology()
        topology.addSource("orders", topics: "orders", "orders-eu")
        topology.addProcessor("enrich", parents: "orders") { _ in NoOp() }
        topology.addProcessor("dedup", parents: "enrich", stores: ["dedup-store"]) { _ in NoOp() }
        topology.addStateStore("dedup-store", Self.store)
        topology.addSink("out", topic: "unique", parents: "dedup")
        topology.addSink("dups", topic: "duplicates", parents: "dedup")
        topology.addSource("other", topics: "audit")
        topology.addSink("audit-out", topic: "audit-copy", parents: "other")
        let expected = """
            Topologies:
               Sub-topology: 0
                Source: orders (topics: [orders, orders-eu])
                  --> enrich
                Processor: enrich (stores: [])
                  --> dedup
                  <-- orders
                Processor: dedup (stores: [dedup-store])
                  --> out, dups
                  <-- enrich
                Sink: out (topic: unique)
                  <-- dedup
                Sink: dups (topic: duplicates)
                  <-- dedup
               Sub-topology: 1
                Source: other (topics: [audit])
                  --> audit-out
                Sink: audit-out (topic: audit-copy)
                  <-- other

            """
        #expect(topology.describe().description == expected)
    }
}
