import Foundation
import Logging
import StreamsCore
@testable import StreamsKafka
import StreamsTestSupport
import Testing

/// Generous timeouts: the tests run on a loaded 2-core machine beside other suites (a full run
/// at load 16 once needed more than 30 s for a restarted member to poll its records). Waits end as
/// soon as their condition holds, so this costs nothing when the machine is quiet.
let patience: Duration = .seconds(90)

/// A record as a test compares it: copied out of its batch.
struct Received: Equatable, CustomStringConvertible {
    var topic: String
    var partition: Int32
    var offset: Int64
    var key: String?
    var value: String?
    var timestampMs: Int64?
    var headers: [KafkaHeader]

    init(_ message: KafkaMessage) {
        topic = message.topic
        partition = message.partition
        offset = message.offset
        key = message.keyBytes.map { String(decoding: $0, as: UTF8.self) }
        value = message.valueBytes.map { String(decoding: $0, as: UTF8.self) }
        timestampMs = message.timestampMs
        headers = message.headers
    }

    var description: String { "\(topic)[\(partition)]@\(offset) \(key ?? "nil")=\(value ?? "nil")" }
}

extension KafkaBroker {
    /// A client configuration for this broker with short reconnect backoffs.
    func configuration(_ properties: [String: String] = [:]) -> KafkaConfiguration {
        KafkaConfiguration(
            bootstrapServers: bootstrapServers,
            ["reconnect.backoff.ms": "20", "reconnect.backoff.max.ms": "500"].merging(properties) { _, new in new })
    }

    /// A consumer in `group` reading from the beginning, with the given isolation level.
    func consumer(group: String, isolation: String = "read_committed", _ properties: [String: String] = [:]) throws
        -> KafkaConsumer
    {
        try KafkaConsumer(
            configuration: configuration(
                [
                    "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": "false",
                    "isolation.level": isolation, "session.timeout.ms": "10000",
                ].merging(properties) { _, new in new }))
    }

    /// Creates topics with the admin client.
    func createTopics(_ topics: [KafkaNewTopic]) throws {
        try KafkaAdminClient(configuration: configuration()).createTopics(topics, timeout: patience)
    }

    /// A stream thread running `topology` as application `app` on this broker, with the tests'
    /// short fetch waits and poll timeout, logging to `log`.
    func streamThread(
        _ topology: Topology, app: String, state: String, commitInterval: Duration,
        maxConsecutiveAborts: Int = 5, log: CapturingLogHandler
    ) throws -> (KafkaEngine, StreamThread) {
        let streams = KafkaStreams(
            configuration: KafkaStreamsConfiguration(
                bootstrapServers: bootstrapServers, applicationId: app,
                properties: ["consumer.fetch.wait.max.ms": "20"], requestTimeout: patience,
                pollTimeout: .milliseconds(20), maxConsecutiveAborts: maxConsecutiveAborts),
            logger: Logger(label: app, factory: { _ in log }))
        return try streams.makeThread(
            topology,
            configuration: StreamsConfiguration(
                applicationId: app, commitInterval: commitInterval, stateDirectory: state))
    }
}

/// The offsets `checker`'s group committed on `partitions`, summed (0 where none, or when the
/// broker does not answer).
func committedCount(_ checker: KafkaConsumer, _ partitions: [KafkaTopicPartition]) -> Int64 {
    (try? checker.committed(partitions, timeout: patience).reduce(0) { $0 + ($1.offset ?? 0) }) ?? 0
}

/// Keeps every log message, as `"<level>: <message>"`.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var captured: [String] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) { lock.withLock { captured.append("\(event.level): \(event.message)") } }

    var messages: [String] { lock.withLock { captured } }
}

/// Polls until `count` records arrived (failing the test after `timeout`) and returns them.
func receive(_ count: Int, from consumer: KafkaConsumer, timeout: Duration = patience) throws -> [Received] {
    var batch = KafkaMessageBatch(capacity: 100)
    var received: [Received] = []
    let deadline = ContinuousClock.now + timeout
    while received.count < count && ContinuousClock.now < deadline {
        try consumer.poll(into: &batch, timeout: .milliseconds(200))
        for i in 0..<batch.count { received.append(Received(batch[i])) }
    }
    #expect(received.count >= count, "received \(received.count) of \(count) records in \(timeout): \(received)")
    return received
}

/// Runs `body` on a thread of its own and waits for it without holding a thread of Swift's
/// cooperative pool: the Kafka engine tests block (polls, commits) for seconds, and on a 2-core
/// machine that starved other suites' tasks running in parallel.
func onOwnThread<R: Sendable>(_ body: @escaping @Sendable () throws -> R) async throws -> R {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
