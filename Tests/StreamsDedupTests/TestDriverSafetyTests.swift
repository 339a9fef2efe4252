import Foundation
import StreamsCore
import StreamsDedup
import StreamsState
import StreamsStateLMDB
import StreamsTestKit
import Testing

/// The test driver used as a user's tests use it: several at once, one after another, after a
/// failure, with a typo. None of it may trap, hang or share state.
@Suite("TopologyTestDriver: isolated state, errors instead of traps")
struct TestDriverSafetyTests {
    static func topology(store: WindowStoreFactory = .lmdb()) -> Topology {
        var topology = Topology()
        topology.addSource("orders", topics: "orders")
        topology.addDeduplicator(
            "dedup", parents: "orders",
            configuration: DeduplicatorConfiguration(
                key: .jsonField("id"), window: .seconds(60), duplicatesChild: "duplicates"),
            store: store)
        topology.addSink("unique", topic: "unique", parents: "dedup")
        topology.addSink("duplicates", topic: "duplicates", parents: "dedup")
        return topology
    }

    static let input = [#"{"id":1}"#, #"{"id":2}"#, #"{"id":1}"#]

    static func run(_ driver: TopologyTestDriver) throws -> [String] {
        let orders = try driver.inputTopic("orders")
        for (i, value) in input.enumerated() { try orders.pipeInput(value, timestampMs: Int64(i)) }
        return try driver.outputTopic("unique").readValuesToList()
    }

    @Test("two LMDB drivers with the default configuration at once: separate stores, both right, removed on close")
    func driversAtOnce() throws {
        let a = try TopologyTestDriver(Self.topology())
        let b = try TopologyTestDriver(Self.topology())
        let aDirectory = try #require(a.ownedStateDirectory)
        let bDirectory = try #require(b.ownedStateDirectory)
        #expect(aDirectory != bDirectory)
        #expect(try Self.run(a) == [#"{"id":1}"#, #"{"id":2}"#])
        #expect(try Self.run(b) == [#"{"id":1}"#, #"{"id":2}"#])
        try a.close()
        try b.close()
        #expect(!FileManager.default.fileExists(atPath: aDirectory))
        #expect(!FileManager.default.fileExists(atPath: bDirectory))
    }

    @Test("drivers one after another start from empty state")
    func driversInTurn() throws {
        for _ in 0..<2 {
            let driver = try TopologyTestDriver(Self.topology())
            #expect(try Self.run(driver) == [#"{"id":1}"#, #"{"id":2}"#])
            try driver.close()
        }
    }

    @Test("unknown topics, piping after close and after a failure are errors")
    func misuse() throws {
        let driver = try TopologyTestDriver(Self.topology(store: .inMemory))
        #expect(throws: StreamsError.self) { try driver.inputTopic("typo") }
        #expect(throws: StreamsError.self) { try driver.outputTopic("typo") }
        let orders = try driver.inputTopic("orders")
        // A value without the key field fails the task under the default `fail` policy.
        #expect(throws: StreamsError.self) { try orders.pipeInput(#"{"other":1}"#, timestampMs: 0) }
        let again = #expect(throws: StreamsError.self) { try orders.pipeInput(#"{"id":1}"#, timestampMs: 1) }
        #expect(again?.code == .illegalState)
        try driver.close()
        let other = try TopologyTestDriver(Self.topology(store: .inMemory))
        try other.close()
        let afterClose = #expect(throws: StreamsError.self) {
            try other.inputTopic("orders").pipeInput(#"{"id":1}"#, timestampMs: 0)
        }
        #expect(afterClose?.code == .illegalState)
    }
}
