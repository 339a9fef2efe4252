import Foundation
import Logging
import Testing
import StreamsCore
import StreamsTestKit

@Suite("Error policies")
struct ErrorPolicyTests {
    private let failOn: [String: StreamsError.Code] = [
        "bad-json": .deserialization, "no-key": .invalidRecord, "boom": .processing,
    ]

    private func driver(
        _ log: EventLog,
        deserialization: DeserializationErrorPolicy = .fail,
        processing: ProcessingErrorPolicy = .fail
    ) throws -> TopologyTestDriver {
        var topology = passThroughTopology(log: log, failOn: failOn)
        if case .deadLetter = deserialization { topology.addSink("dlq", topic: "dead-letters") }
        let configuration = StreamsConfiguration(
            applicationId: "policies",
            deserializationErrorPolicy: deserialization,
            processingErrorPolicy: processing
        )
        return try TopologyTestDriver(topology, configuration: configuration)
    }

    @Test func deserializationFailCarriesSourceAndPosition() throws {
        let log = EventLog()
        let driver = try driver(log)
        let input = try driver.inputTopic("input")
        try input.pipeInput("ok", timestampMs: 1)
        let error = try #require(throws: StreamsError.self) { try input.pipeInput("bad-json", timestampMs: 2) }
        #expect(error.code == .deserialization)
        #expect(error.origin == RecordOrigin(partition: TopicPartition(topic: "input"), offset: 1))
        #expect(error.node == "pass")
        #expect(error.description.contains("[at input-0@1]"))
        // The failing record is not consumed: the committed offset stays at the previous record.
        #expect(driver.engine.committedOffsets[TopicPartition(topic: "input")] == 0)
        #expect(driver.task.state == .closed)
    }

    @Test func deserializationSkip() throws {
        let log = EventLog()
        let driver = try driver(log, deserialization: .skip)
        let input = try driver.inputTopic("input")
        for value in ["a", "bad-json", "no-key", "b"] { try input.pipeInput(value, timestampMs: 1) }
        #expect(try driver.outputTopic("output").readValuesToList() == ["a", "b"])
        #expect(driver.task.skippedRecordCount == 2)
        #expect(driver.engine.committedOffsets[TopicPartition(topic: "input")] == 3)
        // A processing error is not a deserialization error: the processing policy (fail) applies.
        #expect(throws: StreamsError.self) { try input.pipeInput("boom", timestampMs: 1) }
    }

    @Test func deadLetterKeepsTheRecordAndSaysWhy() throws {
        let log = EventLog()
        let driver = try driver(log, deserialization: .deadLetter(sink: "dlq"))
        let input = try driver.inputTopic("input")
        try input.pipeInput(key: "k", "no-key", timestampMs: 42)
        try input.pipeInput("fine", timestampMs: 43)
        let dead = try #require(try driver.outputTopic("dead-letters").readRecord())
        #expect(dead.keyString == "k")
        #expect(dead.valueString == "no-key")
        #expect(dead.timestampMs == 42)
        #expect(dead.headerString("streams.error.code") == "invalidRecord")
        #expect(dead.headerString("streams.error.node") == "pass")
        #expect(dead.headerString("streams.error.origin") == "input-0@0")
        #expect(dead.headerString("streams.error.message") == "bad value no-key")
        #expect(try driver.outputTopic("output").readValuesToList() == ["fine"])
        #expect(driver.task.deadLetterRecordCount == 1)
    }

    @Test func processingSkipAndFail() throws {
        let log = EventLog()
        let skipping = try driver(log, processing: .skip)
        try skipping.inputTopic("input").pipeRecords(
            ["x", "boom", "y"].map { TestRecord(key: nil, value: $0, timestampMs: 0) }
        )
        #expect(try skipping.outputTopic("output").readValuesToList() == ["x", "y"])

        let failing = try driver(EventLog(), processing: .fail)
        let error = try #require(throws: StreamsError.self) { try failing.inputTopic("input").pipeInput("boom") }
        #expect(error.code == .processing)
        #expect(error.underlying is TestFailure)
        #expect(error.message.contains("processor 'pass' failed"))
        // Deserialization errors still fail under the default deserialization policy.
        let strict = try driver(EventLog(), processing: .skip)
        #expect(throws: StreamsError.self) { try strict.inputTopic("input").pipeInput("bad-json") }
    }
}

/// Keeps every log message with its level.
private final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var captured: [(Logger.Level, String)] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        lock.withLock { captured.append((event.level, "\(event.message)")) }
    }

    var messages: [(Logger.Level, String)] { lock.withLock { captured } }
}

@Suite("Error policies: log level of per-record messages")
struct RecordErrorLogLevelTests {
    private func run(_ configuration: StreamsConfiguration) throws -> [(Logger.Level, String)] {
        var topology = passThroughTopology(log: EventLog(), failOn: ["no-key": .invalidRecord])
        topology.addSink("dlq", topic: "dead-letters")
        let handler = CapturingLogHandler()
        let logger = Logger(label: "test", factory: { _ in handler })
        let engine = InMemoryEngine()
        let clock = ManualWallClock(startMs: 0)
        let input = TopicPartition(topic: "input")
        let task = try StreamTask(
            id: TaskId(partition: 0), topology: topology, configuration: configuration, inputs: [input],
            collector: engine, changelogWriter: engine, clock: clock, logger: logger)
        let manager = TaskManager(
            engine: engine, tasks: [task], configuration: configuration, clock: clock, logger: logger)
        try manager.start()
        engine.enqueue(
            ["a", "no-key", "no-key"].map { Record(key: nil, value: Array($0.utf8), timestampMs: 1) }, to: input)
        try StreamThread(taskManager: manager, configuration: configuration, clock: clock, logger: logger).runOnce()
        #expect(task.deadLetterRecordCount == 2)
        try manager.close()
        return handler.messages.filter { $0.1.contains("dead-letter") }
    }

    @Test func deadLettersAreWarningsByDefault() throws {
        let messages = try run(
            StreamsConfiguration(applicationId: "levels", deserializationErrorPolicy: .deadLetter(sink: "dlq")))
        #expect(messages.map(\.0) == [.warning, .warning])
    }

    @Test func recordErrorLogLevelLowersThem() throws {
        let messages = try run(
            StreamsConfiguration(
                applicationId: "levels", deserializationErrorPolicy: .deadLetter(sink: "dlq"),
                recordErrorLogLevel: .debug))
        #expect(messages.map(\.0) == [.debug, .debug])
    }
}
