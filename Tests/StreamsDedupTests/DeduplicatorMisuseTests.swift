import Foundation
import Testing
import StreamsCore
import StreamsDedup
import StreamsState
import StreamsTestKit

// A user's mistakes with the Deduplicator, as an outside package makes them: each must be a
// StreamsError naming the node and the bad value, found when the topology is validated (before any
// store is opened), never a trap and never records sent to the wrong sink.

@Suite("Deduplicator misuse")
struct DeduplicatorMisuseTests {
    private static func topology(
        window: Duration,
        grace: Duration = .zero,
        duplicatesChild: String? = nil,
        sinks: [String] = ["unique"],
        store: StoreKind = .inMemory
    ) -> Topology {
        var topology = Topology()
        topology.addSource("in", topics: "events")
        topology.addDeduplicator(
            "dedup",
            parents: "in",
            configuration: DeduplicatorConfiguration(
                key: .jsonField("id"), window: window, grace: grace, duplicatesChild: duplicatesChild),
            store: store.factory
        )
        for sink in sinks { topology.addSink(sink, topic: "topic-\(sink)", parents: "dedup") }
        return topology
    }

    // Item 7: window zero, window + grace <= 0, sub-millisecond window.
    @Test(
        arguments: StoreKind.allCases,
        [
            (Duration.zero, Duration.zero, "window must be at least 1 ms, got 0 ms"),
            (.milliseconds(10), .milliseconds(-20), "grace period cannot be negative, got -20 ms"),
            (.seconds(-5), .zero, "window must be at least 1 ms, got -5000 ms"),
            (.microseconds(500), .zero, "window must be at least 1 ms, got 0 ms"),
        ])
    func windowOutOfRangeIsAnErrorBeforeAnyStoreOpens(
        store: StoreKind, settings: (window: Duration, grace: Duration, message: String)
    ) throws {
        let directory = SelfRemovingDirectory()
        let topology = Self.topology(window: settings.window, grace: settings.grace, store: store)

        let validation = try #require(throws: StreamsError.self) { try topology.validate() }
        #expect(validation.code == .invalidConfiguration)
        #expect(validation.node == "dedup")
        #expect(validation.message.contains("deduplicator 'dedup'"))
        #expect(validation.message.contains(settings.message))

        let error = try #require(throws: StreamsError.self) {
            _ = try TopologyTestDriver(
                topology, configuration: StreamsConfiguration(applicationId: "app", stateDirectory: directory.path))
        }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message == validation.message)
        #expect(!FileManager.default.fileExists(atPath: "\(directory.path)/app"), "no store may be opened")
    }

    // Item 11: two children and none designated for duplicates.
    @Test func twoChildrenWithoutADuplicatesChildIsAnError() throws {
        let topology = Self.topology(window: .seconds(10), sinks: ["unique", "duplicate-orders"])
        let error = try #require(throws: StreamsError.self) { try topology.validate() }
        #expect(error.code == .invalidTopology)
        #expect(error.message.contains("deduplicator 'dedup' has 2 children"))
        #expect(error.message.contains("\"duplicate-orders\""))
        #expect(error.message.contains("set DeduplicatorConfiguration.duplicatesChild"))
        #expect(throws: StreamsError.self) { _ = try TopologyTestDriver(topology) }
    }

    // Item 11: a duplicates child that is not a child of the deduplicator (a typo).
    @Test func duplicatesChildThatIsNotAChildIsAnError() throws {
        let topology = Self.topology(
            window: .seconds(10), duplicatesChild: "duplicate", sinks: ["unique", "duplicates"])
        let error = try #require(throws: StreamsError.self) { try topology.validate() }
        #expect(error.code == .invalidTopology)
        #expect(error.message.contains("sends duplicates to 'duplicate', which is not one of its children"))
        #expect(throws: StreamsError.self) { _ = try TopologyTestDriver(topology) }
    }

    // Item 11: a sink of any name receives the duplicates when designated, and only them.
    @Test func theDesignatedChildReceivesOnlyTheDuplicates() throws {
        let driver = try TopologyTestDriver(
            Self.topology(window: .seconds(10), duplicatesChild: "repeats", sinks: ["unique", "repeats"]))
        let input = try driver.inputTopic("events")
        try input.pipeInput(#"{"id":1}"#, timestampMs: 0)
        try input.pipeInput(#"{"id":1}"#, timestampMs: 1_000)
        try input.pipeInput(#"{"id":2}"#, timestampMs: 2_000)
        #expect(try driver.outputTopic("topic-unique").readValuesToList() == [#"{"id":1}"#, #"{"id":2}"#])
        #expect(try driver.outputTopic("topic-repeats").readValuesToList() == [#"{"id":1}"#])
        try driver.close()
    }

    // Item 11: added with addProcessor (no topology check registered), the Deduplicator checks
    // its children itself when the task makes it, before any record.
    @Test func deduplicatorAddedByHandChecksItsChildren() throws {
        let configuration = DeduplicatorConfiguration(
            key: .jsonField("id"), window: .seconds(10), duplicatesChild: "duplicate")
        var topology = Topology()
        topology.addSource("in", topics: "events")
        topology.addProcessor("dedup", parents: "in", stores: ["dedup-store"]) {
            try Deduplicator(configuration: configuration, context: $0)
        }
        topology.addStateStore("dedup-store") { _ in
            try InMemoryWindowStore(configuration: configuration.windowStoreConfiguration)
        }
        topology.addSink("unique", topic: "unique", parents: "dedup")
        topology.addSink("duplicates", topic: "duplicates", parents: "dedup")
        let error = try #require(throws: StreamsError.self) { _ = try TopologyTestDriver(topology) }
        #expect(error.code == .invalidTopology)
        #expect(error.node == "dedup")
        #expect(error.message.contains("sends duplicates to 'duplicate'"))
    }
}
