import Testing
import StreamsCore
import StreamsState
import StreamsTestKit

/// A changelogged store that is not a window store: the last value per key, in memory, which logs
/// its own writes (a store type may decorate itself as it likes).
private final class LastValueStore: StateStore {
    let name: String
    var changelog: (any ChangelogSink)?
    private(set) var values: [[UInt8]: [UInt8]] = [:]
    private var committed: [[UInt8]: [UInt8]] = [:]
    private var metadataValues: [String: [UInt8]] = [:]

    init(name: String) { self.name = name }

    func loggingChanges(to changelog: any ChangelogSink) -> any StateStore {
        self.changelog = changelog
        return self
    }

    func set(_ key: [UInt8], _ value: [UInt8], timestampMs: Int64) throws {
        values[key] = value
        try key.withUnsafeBytes { k in
            try value.withUnsafeBytes { v in try changelog?.append(key: k, timestampMs: timestampMs, value: v) }
        }
    }

    func restore(from entries: [ChangelogEntry]) {
        for entry in entries { values[entry.key] = entry.value }
    }

    func commit(metadata: [String: [UInt8]]) {
        committed = values
        metadataValues.merge(metadata) { $1 }
    }
    func abort() { values = committed }
    func metadata(forKey key: String) -> [UInt8]? { metadataValues[key] }
    func close() {}
}

/// Writes each record's value as a key of the store.
private final class LastValueWriter: Processor {
    let store: LastValueStore

    init(context: ProcessorContext) throws {
        store = try #require(try context.stateStore(named: "last") as? LastValueStore)
    }

    func process(_ record: Record) throws {
        try store.set(Array(record.value), [1], timestampMs: record.timestampMs)
    }
}

@Suite("Restore of any state store")
struct StateStoreRestoreTests {
    /// The task restores through ``StateStore/restore(from:)``: a store need not be a window store.
    @Test("a changelogged store that is not a window store is restored from its changelog")
    func restoresAStoreThatIsNotAWindowStore() throws {
        let engine = InMemoryEngine()
        func topology() -> Topology {
            var topology = Topology()
            topology.addSource("in", topics: "input")
            topology.addProcessor("writer", parents: "in", stores: ["last"]) { try LastValueWriter(context: $0) }
            topology.addStateStore("last") { _ in LastValueStore(name: "last") }
            return topology
        }
        do {
            let driver = try TopologyTestDriver(topology(), engine: engine)
            try driver.inputTopic("input").pipeInput("a", timestampMs: 1_000)
            try driver.inputTopic("input").pipeInput("b", timestampMs: 2_000)
            try driver.close()
        }
        // The in-memory store starts empty again: everything comes from the changelog.
        let driver = try TopologyTestDriver(topology(), engine: engine)
        let store = try #require(driver.stateStore(named: "last") as? LastValueStore)
        #expect(store.values == [Array("a".utf8): [1], Array("b".utf8): [1]])
        try driver.close()
    }
}
