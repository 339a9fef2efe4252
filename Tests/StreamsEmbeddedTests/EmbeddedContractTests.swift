import Foundation
import StreamsCore
import StreamsTestKit
import StreamsTestSupport
import Synchronization
import Testing

@testable import StreamsEmbedded

/// The engine-contract suite of StreamsTestKit against the embedded engine: real files, a real
/// state directory (changelog, checkpoint), and a restart that reopens them as a new process
/// would. Rebalance scenarios (revoke and assign, a fenced task among others) need an engine
/// with assignments and several tasks: the embedded engine runs one task over fixed files.
@Suite("Engine contract: embedded engine")
struct EmbeddedContractTests {
    static let scenarios = EngineContract.Scenario.allCases.filter {
        $0 != .revokeAndAssign && $0 != .fencedTaskClosesDirty
    }

    @Test("scenario", arguments: scenarios)
    func scenario(_ scenario: EngineContract.Scenario) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let harness = EmbeddedContractHarness(directory: dir)
        defer { harness.close() }
        try scenario.run(harness)
    }

    @Test("the rebalance scenarios are refused, not passed by accident")
    func rebalanceUnsupported() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let harness = EmbeddedContractHarness(directory: dir)
        defer { harness.close() }
        #expect(throws: EngineContractViolation.self) { try EngineContract.Scenario.revokeAndAssign.run(harness) }
    }
}

/// Input partitions are files `<topic>-<partition>.jsonl` in a temporary directory, read in follow
/// mode (so appends after the start are read); sink topics are files `<topic>.out`; a line's
/// timestamp is looked up by its position (lines of a file carry none).
final class EmbeddedContractHarness: EngineContractHarness {
    let directory: TemporaryDirectory
    private var topology = Topology()
    private var configuration = StreamsConfiguration(applicationId: "contract")
    private var streams: EmbeddedStreams?
    private var current: StreamThread?
    private var partitions: [TopicPartition] = []
    private var lengths: [TopicPartition: Int64] = [:]
    /// `(partition, offset after the line)` → the timestamp `append` was given.
    private final class Timestamps: Sendable {
        let map = Mutex<[RecordOrigin: Int64]>([:])
    }

    private let timestamps = Timestamps()

    init(directory: TemporaryDirectory) {
        self.directory = directory
    }

    var sourceTimestamps: RecordTimestampExtractor {
        .custom { [timestamps] record in
            guard let origin = record.origin, let timestamp = timestamps.map.withLock({ $0[origin] }) else {
                throw EngineContractViolation.expectation("no timestamp for \(String(describing: record.origin))")
            }
            return timestamp
        }
    }

    func path(_ partition: TopicPartition) -> String {
        directory.file("\(partition.topic)-\(partition.partition).jsonl")
    }

    func start(_ topology: Topology, configuration: StreamsConfiguration) throws {
        self.topology = topology
        self.configuration = configuration
        // Partition 0 of every source topic exists from the start.
        for nodes in topology.describe().subtopologies {
            for node in nodes where node.kind == "Source" {
                for topic in node.topics { try ensure(TopicPartition(topic: topic)) }
            }
        }
    }

    private func ensure(_ partition: TopicPartition) throws {
        guard lengths[partition] == nil else { return }
        guard current == nil else {
            throw EngineContractViolation.unsupported("partition \(partition) added after the start: no rebalances")
        }
        _ = FileManager.default.createFile(atPath: path(partition), contents: nil)
        lengths[partition] = 0
        partitions.append(partition)
    }

    var thread: StreamThread {
        if let current { return current }
        do {
            try open()
        } catch {
            preconditionFailure("cannot start the embedded engine: \(error)")
        }
        return current!
    }

    private func open() throws {
        let topics = partitions.reduce(into: [String]()) { if !$0.contains($1.topic) { $0.append($1.topic) } }
        let inputs = topics.map { topic in
            EmbeddedConfiguration.Input(
                topic: topic,
                files: partitions.filter { $0.topic == topic }.sorted { $0.partition < $1.partition }.map(path))
        }
        var sinkTopics: [String] = []
        for nodes in topology.describe().subtopologies {
            for node in nodes where node.kind == "Sink" { sinkTopics += node.topics }
        }
        let streams = try EmbeddedStreams(
            configuration: EmbeddedConfiguration(
                inputs: inputs,
                outputs: sinkTopics.map { .init(topic: $0, file: directory.file("\($0).out")) },
                stateDirectory: directory.file("state"),
                follow: true
            ),
            clock: ManualWallClock(startMs: 0)
        )
        self.streams = streams
        current = try streams.makeThread(topology, configuration: configuration)
    }

    func append(_ records: [(value: String, timestampMs: Int64)], to partition: TopicPartition) throws {
        try ensure(partition)
        var bytes: [UInt8] = []
        var offset = lengths[partition]!
        for record in records {
            bytes += Array(record.value.utf8) + [UInt8(ascii: "\n")]
            offset += Int64(record.value.utf8.count + 1)
            timestamps.map.withLock { $0[RecordOrigin(partition: partition, offset: offset)] = record.timestampMs }
        }
        lengths[partition] = offset
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path(partition)))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(bytes))
        try handle.close()
    }

    func assign(_ partitions: [TopicPartition]) throws {
        throw EngineContractViolation.unsupported("the embedded engine has fixed partitions (no assignments)")
    }

    func revoke(_ partitions: [TopicPartition]) throws {
        throw EngineContractViolation.unsupported("the embedded engine has fixed partitions (no revocations)")
    }

    /// The committed prefix of the topic's file (the checkpoint's length), as lines.
    func committedValues(topic: String) throws -> [String] {
        let file = directory.file("\(topic).out")
        guard let checkpoint = try Checkpoint.load(from: directory.file("state") + "/checkpoint.json"),
            let output = checkpoint.outputs.first(where: { $0.path == file })
        else { return [] }
        let bytes = Files.read(file).prefix(Int(output.committedLength))
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    func restart() throws {
        current?.taskManager.closeDirty()
        streams?.close()
        current = nil
        streams = nil
        try open()
    }

    func close() {
        current?.taskManager.closeDirty()
        streams?.close()
    }
}
