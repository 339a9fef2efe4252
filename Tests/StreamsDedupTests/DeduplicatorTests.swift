import Testing
import StreamsCore
import StreamsDedup
import StreamsState
import StreamsTestKit
import StreamsTestSupport

@Suite("Deduplicator")
struct DeduplicatorTests {
    private func driver(
        key: KeyExtractor = .jsonField("id"),
        time: DeduplicationTime = .eventTime,
        window: Duration = .seconds(10),
        policy: DeserializationErrorPolicy = .fail,
        statistics: DeduplicationStatisticsCollector? = nil,
        withDuplicatesSink: Bool = true,
        store: StoreKind = .inMemory,
        directory: SelfRemovingDirectory = SelfRemovingDirectory()
    ) throws -> TopologyTestDriver {
        var topology = Topology()
        topology.addSource("in", topics: "events")
        topology.addDeduplicator(
            "dedup",
            parents: "in",
            configuration: DeduplicatorConfiguration(
                key: key, time: time, window: window, duplicatesChild: withDuplicatesSink ? "duplicates" : nil,
                statistics: statistics),
            store: store.factory
        )
        topology.addSink("out", topic: "unique", parents: "dedup")
        if withDuplicatesSink { topology.addSink("duplicates", topic: "dups", parents: "dedup") }
        if case .deadLetter(let sink) = policy { topology.addSink(sink, topic: "dead") }
        let configuration = StreamsConfiguration(
            applicationId: "dedup",
            deserializationErrorPolicy: policy,
            stateDirectory: directory.path
        )
        return try TopologyTestDriver(topology, configuration: configuration)
    }

    @Test(arguments: StoreKind.allCases)
    func keysCompareByValue(store: StoreKind) throws {
        let driver = try driver(store: store)
        let input = try driver.inputTopic("events")
        let values = [
            #"{"id":1}"#, #"{"id":1.0}"#, #"{"id":10e-1}"#,  // one number
            #"{"id":"1"}"#, #"{"id":"\u0031"}"#,  // one string, not the number
            #"{"id":"caf\u00e9"}"#, #"{"id":"café"}"#,  // escapes decoded
            #"{"id":true}"#, #"{"id":false}"#,
        ]
        for value in values { try input.pipeInput(value, timestampMs: 1_000) }
        #expect(
            try driver.outputTopic("unique").readValuesToList() == [
                #"{"id":1}"#, #"{"id":"1"}"#, #"{"id":"caf\u00e9"}"#, #"{"id":true}"#, #"{"id":false}"#,
            ]
        )
        #expect(
            try driver.outputTopic("dups").readValuesToList() == [
                #"{"id":1.0}"#, #"{"id":10e-1}"#, #"{"id":"\u0031"}"#, #"{"id":"café"}"#,
            ])
        try driver.close()
    }

    @Test func invalidRecordsFollowThePolicy() throws {
        let bad = [#"{"other":1}"#, #"{"id":null}"#, #"{"id":{"a":1}}"#, #"{"id":[1]}"#, #"not json"#]

        let strict = try driver()
        let error = try #require(throws: StreamsError.self) {
            try strict.inputTopic("events").pipeInput(bad[0], timestampMs: 5)
        }
        #expect(error.code == .invalidRecord)
        #expect(error.message.contains("key field 'id'"))
        #expect(error.origin == RecordOrigin(partition: TopicPartition(topic: "events"), offset: 0))
        #expect(error.node == "dedup")

        let notJSON = try driver()
        let error2 = try #require(throws: StreamsError.self) {
            try notJSON.inputTopic("events").pipeInput(bad[4], timestampMs: 5)
        }
        #expect(error2.code == .deserialization)

        let statistics = DeduplicationStatisticsCollector()
        let lenient = try driver(policy: .deadLetter(sink: "dlq"), statistics: statistics)
        for value in bad + [#"{"id":7}"#] { try lenient.inputTopic("events").pipeInput(value, timestampMs: 5) }
        #expect(try lenient.outputTopic("dead").readValuesToList() == bad)
        #expect(try lenient.outputTopic("unique").readValuesToList() == [#"{"id":7}"#])
        #expect(statistics.snapshot.invalid == 5)
        #expect(statistics.snapshot.seen == 6)
        #expect(statistics.snapshot.emitted == 1)
    }

    @Test func compositeHeaderAndRecordKeys() throws {
        let composite = try driver(key: .composite([.jsonField("customer"), .header("region"), .recordKey]))
        let input = try composite.inputTopic("events")
        func pipe(_ value: String, region: String, key: String) throws {
            try input.pipeInput(
                key: key, value, timestampMs: 0, headers: [RecordHeader(name: "region", string: region)])
        }
        try pipe(#"{"customer":"ab"}"#, region: "c", key: "k")
        try pipe(#"{"customer":"a"}"#, region: "bc", key: "k")  // no ambiguity between ("ab","c") and ("a","bc")
        try pipe(#"{"customer":"ab"}"#, region: "c", key: "k2")
        try pipe(#"{"customer":"ab"}"#, region: "c", key: "k")  // duplicate of the first
        #expect(try composite.outputTopic("unique").queueSize == 3)
        #expect(try composite.outputTopic("dups").queueSize == 1)
        // A missing header is an invalid record.
        let error = try #require(throws: StreamsError.self) {
            try input.pipeInput(key: "k", #"{"customer":"x"}"#, timestampMs: 0)
        }
        #expect(error.code == .invalidRecord)
        #expect(error.message.contains("no header 'region'"))
    }

    @Test func processingTimeUsesTheWallClock() throws {
        let driver = try driver(key: .recordKey, time: .processingTime, window: .seconds(10))
        let input = try driver.inputTopic("events")
        try input.pipeInput(key: "a", "1", timestampMs: 0)
        try driver.advanceWallClockTime(by: .seconds(9))
        try input.pipeInput(key: "a", "2", timestampMs: 0)  // 9 s later on the wall clock: duplicate
        try driver.advanceWallClockTime(by: .seconds(1))
        try input.pipeInput(key: "a", "3", timestampMs: 0)  // 10 s after the first: emitted again
        #expect(try driver.outputTopic("unique").readValuesToList() == ["1", "3"])
        #expect(try driver.outputTopic("dups").readValuesToList() == ["2"])
    }

    @Test func duplicatesWithoutSideOutputAreOnlyCounted() throws {
        let statistics = DeduplicationStatisticsCollector()
        let driver = try driver(statistics: statistics, withDuplicatesSink: false)
        let input = try driver.inputTopic("events")
        for t: Int64 in [0, 1_000, 9_999, 10_000, 25_000] { try input.pipeInput(#"{"id":"a"}"#, timestampMs: t) }
        #expect(try driver.outputTopic("unique").readRecordsToList().map(\.timestampMs) == [0, 10_000, 25_000])
        #expect(
            statistics.snapshot
                == DeduplicationStatistics(
                    seen: 5, emitted: 3, duplicates: 2, invalid: 0, storeEntries: statistics.snapshot.storeEntries))
        #expect(statistics.snapshot.storeEntries >= 1)
    }

    /// A record so late that `t + W + G <= S` (the store reports it `.expired`) matches nothing
    /// by the semantics unless a live entry lies within `W` of it: it is forwarded as a first
    /// occurrence and not stored, so a second such record is forwarded too.
    @Test(arguments: StoreKind.allCases)
    func recordsOlderThanTheWindowBehindStreamTime(store: StoreKind) throws {
        let statistics = DeduplicationStatisticsCollector()
        let driver = try driver(key: .recordKey, window: .seconds(10), statistics: statistics, store: store)
        let input = try driver.inputTopic("events")
        try input.pipeInput(key: "a", "a@100", timestampMs: 100_000)  // S = 100 s
        try input.pipeInput(key: "c", "c@95", timestampMs: 95_000)
        try input.pipeInput(key: "a", "a@50", timestampMs: 50_000)  // expired: first occurrence, not stored
        try input.pipeInput(key: "a", "a@55", timestampMs: 55_000)  // within W of a@50, which was not stored
        try input.pipeInput(key: "c", "c@89", timestampMs: 89_000)  // expired, but c@95 is live and 6 s away
        try input.pipeInput(key: "a", "a@95", timestampMs: 95_000)  // a@100 is live and 5 s away
        try driver.commit()
        #expect(try driver.outputTopic("unique").readValuesToList() == ["a@100", "c@95", "a@50", "a@55"])
        #expect(try driver.outputTopic("dups").readValuesToList() == ["c@89", "a@95"])
        let snapshot = statistics.snapshot
        #expect(snapshot.emitted == 4 && snapshot.duplicates == 2)
        let windowStore = try #require(driver.windowStore(named: "dedup-store"))
        #expect(try Deduplicator.businessEntryCount(in: windowStore) == 2)  // a@100 and c@95
        try driver.close()
    }

    @Test(arguments: StoreKind.allCases)
    func expiredEntriesArePhysicallyDropped(store: StoreKind) throws {
        let driver = try driver(window: .seconds(1), store: store)
        let input = try driver.inputTopic("events")
        for i in 0..<200 { try driver.batch { try input.pipeInput(#"{"id":\#(i)}"#, timestampMs: Int64(i) * 1_000) } }
        let windowStore = try #require(driver.windowStore(named: "dedup-store"))
        #expect(try windowStore.allEntries().count <= 2)
        // The default segment interval is 60 s, so at most about two segments' worth stays on disk.
        #expect(try windowStore.approximateEntryCount <= 130)
        try driver.close()
    }

    @Test func storeWithTheWrongRetentionIsRejected() throws {
        var topology = Topology()
        topology.addSource("in", topics: "events")
        let configuration = DeduplicatorConfiguration(key: .recordKey, window: .seconds(10), grace: .seconds(5))
        topology.addProcessor("dedup", parents: "in", stores: ["dedup-store"]) {
            try Deduplicator(configuration: configuration, context: $0)
        }
        topology.addStateStore("dedup-store") { _ in
            try InMemoryWindowStore(
                configuration: WindowStoreConfiguration(name: "dedup-store", retention: .seconds(10)))
        }
        let error = try #require(throws: StreamsError.self) { _ = try TopologyTestDriver(topology) }
        #expect(error.code == .invalidConfiguration)
        #expect(error.message.contains("window + grace = 15000 ms"))
    }

    @Test func zeroWindowIsRejected() {
        let configuration = DeduplicatorConfiguration(key: .recordKey, window: .zero)
        #expect(throws: StreamsError.self) { try configuration.validate() }
    }
}
