// The README's "Your own topology on files" example, built by `swift build` (product
// `file-orders-example`) and killed at random moments by Tests/StreamsEmbeddedTests/
// UserTopologyTests.swift: keep the three in sync.
//
//   file-orders-example STATE UNIQUE DUPLICATES INPUT...
//
// Reads JSON order events from the INPUT files, drops test orders with the user's own processor,
// deduplicates by `order.id` within 10 minutes of event time (`ts`), and writes first occurrences
// to UNIQUE and repeats to DUPLICATES, exactly once across crashes and restarts.
import StreamsCore
import StreamsDedup
import StreamsEmbedded
import StreamsStateLMDB

#if canImport(Glibc)
    import Glibc
#endif

/// The user's own processor: drops test orders (`"test":true`) before deduplication.
final class DropTestOrders: Processor {
    private let context: ProcessorContext

    init(context: ProcessorContext) {
        self.context = context
    }

    func process(_ record: Record) throws {
        let isTest = record.value.withUnsafeBytes { bytes in
            bytes.firstRange(of: Array(#""test":true"#.utf8)) != nil
        }
        if !isTest { try context.forward(record) }
    }
}

/// orders → drop-test-orders → dedup → unique-orders (+ duplicate-orders)
func orderTopology() -> Topology {
    var topology = Topology()
    topology.addSource("orders", topics: ["orders"], key: .jsonField("order.id"), timestamp: .jsonField("ts"))
    topology.addProcessor("drop-test-orders", parents: "orders") { DropTestOrders(context: $0) }
    topology.addDeduplicator(
        "dedup",
        parents: "drop-test-orders",
        configuration: DeduplicatorConfiguration(
            key: .recordKey, window: .seconds(600), duplicatesChild: "duplicates"),
        store: .lmdb()
    )
    topology.addSink("unique", topic: "unique-orders", parents: "dedup")
    topology.addSink("duplicates", topic: "duplicate-orders", parents: "dedup")
    return topology
}

let arguments = CommandLine.arguments
guard arguments.count >= 5 else {
    print("usage: file-orders-example STATE UNIQUE DUPLICATES INPUT...")
    exit(64)
}
do {
    let streams = try EmbeddedStreams(
        configuration: EmbeddedConfiguration(
            inputs: [.init(topic: "orders", files: Array(arguments[4...]))],
            outputs: [
                .init(topic: "unique-orders", file: arguments[2]),
                .init(topic: "duplicate-orders", file: arguments[3]),
            ],
            stateDirectory: arguments[1]
        )
    )
    try streams.run(
        orderTopology(),
        configuration: StreamsConfiguration(applicationId: "orders", commitInterval: .milliseconds(20))
    )
} catch {
    print("file-orders-example: \(error)")
    exit(1)
}
