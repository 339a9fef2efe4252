import Foundation
import StreamsCore
import StreamsTestKit
import Synchronization
import Testing

/// Sources' key and timestamp extractors, applied by the runtime for every engine (here the test
/// driver's in-memory engine).
@Suite("Source extractors")
struct SourceExtractorTests {
    /// Where keys and times are extracted: by the task, or by the engine when it polls (as the
    /// embedded engine does on its read-ahead thread, ``RecordPoller/adoptExtraction(_:for:)``).
    enum Place: String, CaseIterable, CustomTestStringConvertible {
        case task, engine
        var testDescription: String { "extracted by the \(rawValue)" }
    }

    private func driver(
        key: RecordKeyExtractor, timestamp: RecordTimestampExtractor = .record,
        policy: DeserializationErrorPolicy = .fail, place: Place = .task
    ) throws -> TopologyTestDriver {
        var topology = Topology()
        topology.addSource("in", topics: ["input"], key: key, timestamp: timestamp)
        topology.addSink("out", topic: "output", parents: "in")
        if case .deadLetter = policy { topology.addSink("dlq", topic: "dead-letters") }
        let driver = try TopologyTestDriver(
            topology,
            configuration: StreamsConfiguration(applicationId: "extractors", deserializationErrorPolicy: policy))
        if place == .engine { driver.engine.extractionClock = driver.clock }
        return driver
    }

    @Test(
        "JSON fields give the canonical key (numbers by value, strings decoded) and the event time",
        arguments: Place.allCases)
    func jsonKeyAndTime(place: Place) throws {
        let driver = try driver(key: .jsonFields(["c", "o.id"]), timestamp: .jsonField("ts"), place: place)
        let input = try driver.inputTopic("input")
        try input.pipeInput(#"{"c":"x","o":{"id":1},"ts":10}"#, timestampMs: 999)
        try input.pipeInput(#"{"o":{"id":1.0},"c":"\u0078","ts":"1970-01-01T00:00:00.020Z"}"#, timestampMs: 999)
        try input.pipeInput(#"{"c":"x","o":{"id":2},"ts":30}"#, timestampMs: 999)
        let records = try driver.outputTopic("output").readRecordsToList()
        #expect(records.map(\.timestampMs) == [10, 20, 30])
        #expect(records[0].key != nil && records[0].key == records[1].key)
        #expect(records[0].key != records[2].key)
    }

    @Test(
        "an invalid record under fail: the records before it are processed, the error names it",
        arguments: Place.allCases)
    func failStopsThePartition(place: Place) throws {
        let driver = try driver(key: .jsonField("id"), timestamp: .jsonField("ts"), place: place)
        let input = try driver.inputTopic("input")
        let error = try #require(throws: StreamsError.self) {
            try input.pipeRecords([
                TestRecord(key: nil, value: Array(#"{"id":1,"ts":1}"#.utf8), timestampMs: 0),
                TestRecord(key: nil, value: Array(#"{"ts":2}"#.utf8), timestampMs: 0),
                TestRecord(key: nil, value: Array(#"{"id":3,"ts":3}"#.utf8), timestampMs: 0),
            ])
        }
        #expect(error.code == .invalidRecord)
        #expect(error.message.contains("key field 'id': the field is missing"), "\(error)")
        #expect(error.node == "in")
        #expect(try driver.outputTopic("output").readValuesToList() == [#"{"id":1,"ts":1}"#])
    }

    @Test(
        "an invalid record under deadLetter keeps its place and is committed with its position",
        arguments: Place.allCases)
    func deadLetterInPlace(place: Place) throws {
        let driver = try driver(key: .jsonField("id"), policy: .deadLetter(sink: "dlq"), place: place)
        let input = try driver.inputTopic("input")
        for value in [#"{"id":1}"#, "not json", #"{"id":[1]}"#, #"{"id":2}"#] { try input.pipeInput(value) }
        #expect(try driver.outputTopic("output").readValuesToList() == [#"{"id":1}"#, #"{"id":2}"#])
        let dead = try driver.outputTopic("dead-letters").readRecordsToList()
        #expect(dead.map(\.valueString) == ["not json", #"{"id":[1]}"#])
        #expect(
            dead[0].headers.contains { $0.name == "streams.error.code" && $0.value == Array("deserialization".utf8) })
        #expect(driver.task.invalidRecordCount == 2)
        #expect(driver.engine.committedOffsets[TopicPartition(topic: "input")] == 3)
    }

    @Test(
        "maxFuture makes a time too far ahead of the wall clock invalid; a limited key refuses long keys",
        arguments: Place.allCases)
    func limits(place: Place) throws {
        let driver = try driver(
            key: .jsonField("id").limited(toBytes: 8), timestamp: .jsonField("ts", maxFuture: .seconds(60)),
            policy: .skip, place: place)
        let input = try driver.inputTopic("input")
        let now = driver.clock.nowMs
        try input.pipeInput(#"{"id":"a","ts":\#(now)}"#)
        try input.pipeInput(#"{"id":"b","ts":\#(now + 3_600_000)}"#)  // an hour ahead
        try input.pipeInput(#"{"id":"much-too-long","ts":\#(now)}"#)
        try input.pipeInput(#"{"id":"c","ts":\#(now)}"#)
        #expect(try driver.outputTopic("output").readValuesToList().count == 2)
        #expect(driver.task.invalidRecordCount == 2)
    }

    @Test("an engine that extracts on poll: every batch arrives extracted and each record is extracted once")
    func engineExtractsOnce() throws {
        let calls = Mutex(0)
        let timestamp = RecordTimestampExtractor.custom { record in
            calls.withLock { $0 += 1 }
            // The digit before the closing brace.
            let digit = record.value[record.value.endIndex - 2]
            guard (48...57).contains(digit) else { throw TestFailure(value: "no time") }
            return Int64(digit - 48)
        }
        for place in Place.allCases {
            calls.withLock { $0 = 0 }
            let driver = try driver(key: .jsonField("id"), timestamp: timestamp, policy: .skip, place: place)
            let input = try driver.inputTopic("input")
            try input.pipeRecords(
                [#"{"id":1,"t":3}"#, #"{"id":2,"t":"x"}"#, "not json", #"{"id":3,"t":5}"#].map {
                    TestRecord(key: nil, value: Array($0.utf8), timestampMs: 0)
                })
            #expect(try driver.outputTopic("output").readValuesToList() == [#"{"id":1,"t":3}"#, #"{"id":3,"t":5}"#])
            #expect(driver.task.invalidRecordCount == 2)
            // Once per record whose key could be extracted (the non-JSON one fails before it).
            #expect(calls.withLock { $0 } == 3, "\(place)")
            #expect(driver.engine.extractedBatchCount == (place == .engine ? 1 : 0))
        }
        // Extracting a batch twice does it once.
        let driver = try driver(key: .jsonField("id"), timestamp: timestamp, policy: .skip)
        var extraction = try #require(driver.task.extraction(for: TopicPartition(topic: "input")))
        var batch = InputBatch(
            partition: TopicPartition(topic: "input"),
            records: [Record(key: nil, value: Array(#"{"id":7,"t":4}"#.utf8), timestampMs: 0)])
        calls.withLock { $0 = 0 }
        extraction.extract(&batch, nowMs: 0)
        extraction.extract(&batch, nowMs: 0)
        #expect(calls.withLock { $0 } == 1)
        #expect(batch.isExtracted && batch.records[0].timestampMs == 4 && batch.records[0].key != nil)
    }

    @Test(
        "a record limit makes records whose key, value and headers exceed it invalid; dead-lettered, they are cut to fit"
    )
    func recordLimit() throws {
        let driver = try driver(
            key: .jsonField("id").limited(toBytes: 1_000, recordBytes: 300, note: " (raise it)"),
            policy: .deadLetter(sink: "dlq"))
        let input = try driver.inputTopic("input")
        let long = #"{"id":1,"pad":""# + String(repeating: "x", count: 400) + #""}"#
        try input.pipeInput(#"{"id":1}"#)
        try input.pipeInput(long)
        // 290 bytes of value fit alone, not with a 20-byte header.
        let headed = #"{"id":2,"pad":""# + String(repeating: "y", count: 290 - 17) + #""}"#
        try input.pipeRecords([
            TestRecord(
                key: nil, value: Array(headed.utf8), timestampMs: 0,
                headers: [RecordHeader(name: "trace", string: String(repeating: "t", count: 15))])
        ])
        try input.pipeInput(#"{"id":3}"#)
        #expect(try driver.outputTopic("output").readValuesToList() == [#"{"id":1}"#, #"{"id":3}"#])
        let dead = try driver.outputTopic("dead-letters").readRecordsToList()
        #expect(dead.count == 2)
        for (record, original) in zip(dead, [long, headed]) {
            let size =
                (record.key?.count ?? 0) + record.value.count
                + record.headers.reduce(0) {
                    $0 + $1.name.utf8.count + ($1.value?.count ?? 0)
                }
            #expect(size == 300, "cut to exactly the limit")
            #expect(original.hasPrefix(record.valueString))
            #expect(
                record.headers.contains {
                    $0.name == "streams.error.value.bytes" && $0.value == Array(String(original.utf8.count).utf8)
                })
        }
        let message = try #require(dead[0].headers.first { $0.name == "streams.error.message" }?.value)
        #expect(String(decoding: message, as: UTF8.self).hasSuffix("more than the limit of 300 bytes (raise it)"))
        #expect(driver.task.invalidRecordCount == 2)
    }

    @Test("a bad field path is a configuration problem found by validation")
    func badPath() throws {
        var topology = Topology()
        topology.addSource("in", topics: ["input"], key: .jsonFields([]), timestamp: .jsonField("a..b"))
        topology.addSink("out", topic: "output", parents: "in")
        let error = try #require(throws: StreamsError.self) { try topology.validate() }
        #expect(error.message.contains("source 'in'"), "\(error)")
    }
}
