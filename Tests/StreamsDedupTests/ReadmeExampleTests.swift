// The example of docs/runtime.md, compiled and run: keep the two in sync.
import Testing
import StreamsCore
import StreamsDedup
import StreamsState
import StreamsTestKit

// MARK: Application code

/// The shape of an order event, for the user's own processor.
struct OrderEvent: Codable {
    struct Order: Codable {
        var id: Double
        var test: Bool?
    }

    var order: Order
}

/// Drops test orders (`"test": true`) before deduplication.
final class DropTestOrders: Processor {
    private let context: ProcessorContext

    init(context: ProcessorContext) {
        self.context = context
    }

    func process(_ record: Record) throws {
        let event = try record.value(as: .json(OrderEvent.self))
        if event.order.test == true { return }
        try context.forward(record)
    }
}

/// orders → drop-test-orders → dedup → unique-orders (+ duplicate-orders)
func orderTopology(store: WindowStoreFactory) -> Topology {
    var topology = Topology()
    topology.addSource("orders", topics: "orders")
    topology.addProcessor("drop-test-orders", parents: "orders") { DropTestOrders(context: $0) }
    topology.addDeduplicator(
        "dedup",
        parents: "drop-test-orders",
        configuration: DeduplicatorConfiguration(
            key: .jsonField("order.id"), window: .seconds(600), duplicatesChild: "duplicates"),
        store: store
    )
    topology.addSink("unique", topic: "unique-orders", parents: "dedup")
    topology.addSink("duplicates", topic: "duplicate-orders", parents: "dedup")
    return topology
}

// MARK: Unit test

@Suite("README example")
struct ReadmeExampleTests {
    @Test func duplicateOrdersAreDroppedWithinTenMinutes() throws {
        let driver = try TopologyTestDriver(orderTopology(store: .inMemory))
        let orders = try driver.inputTopic("orders")
        let unique = try driver.outputTopic("unique-orders")
        let duplicates = try driver.outputTopic("duplicate-orders")

        try orders.pipeInput(#"{"order":{"id":1}}"#, timestampMs: 0)
        try orders.pipeInput(#"{"order":{"id":1.0}}"#, timestampMs: 60_000)  // same id, a minute later
        try orders.pipeInput(#"{"order":{"id":2,"test":true}}"#, timestampMs: 60_000)  // dropped by our processor
        try orders.pipeInput(#"{"order":{"id":1}}"#, timestampMs: 600_000)  // ten minutes later: new again

        #expect(unique.readValuesToList() == [#"{"order":{"id":1}}"#, #"{"order":{"id":1}}"#])
        #expect(duplicates.readValuesToList() == [#"{"order":{"id":1.0}}"#])
        try driver.close()
    }

    @Test func undecodableOrdersFailWithTheirPosition() throws {
        let driver = try TopologyTestDriver(orderTopology(store: .inMemory))
        let error = try #require(throws: StreamsError.self) {
            try driver.inputTopic("orders").pipeInput(#"{"order":"oops"}"#, timestampMs: 0)
        }
        #expect(error.code == .deserialization)
        #expect(error.node == "drop-test-orders")
        #expect(error.origin?.description == "orders-0@0")
    }

    @Test func describeMatchesTheDocs() {
        #expect(
            orderTopology(store: .inMemory).describe().description == """
                Topologies:
                   Sub-topology: 0
                    Source: orders (topics: [orders])
                      --> drop-test-orders
                    Processor: drop-test-orders (stores: [])
                      --> dedup
                      <-- orders
                    Processor: dedup (stores: [dedup-store])
                      --> unique, duplicates
                      <-- drop-test-orders
                    Sink: unique (topic: unique-orders)
                      <-- dedup
                    Sink: duplicates (topic: duplicate-orders)
                      <-- dedup

                """
        )
    }
}
