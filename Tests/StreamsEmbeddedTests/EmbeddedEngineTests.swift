import Foundation
import StreamsCore
import StreamsState
import StreamsTestSupport
import Testing

@testable import DedupApp
@testable import StreamsEmbedded

@Suite("Embedded engine")
struct EmbeddedEngineTests {
    @Test("poll reads every input: values are the lines, offsets where reading resumes, the wall clock as time")
    func poll() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        Files.write(Array("{\"id\":1,\"ts\":10}\n\n{\"id\":\"a\",\"ts\":5}\n".utf8), to: dir.file("a.jsonl"))
        Files.write(Array("{\"id\":2,\"ts\":7}\nnot json\n".utf8), to: dir.file("b.jsonl"))
        let configuration = EmbeddedConfiguration(
            inputs: [.init(topic: "in", files: [dir.file("a.jsonl"), dir.file("b.jsonl")])],
            outputs: [.init(topic: "out", file: dir.file("out.jsonl"))],
            stateDirectory: dir.file("state")
        )
        let state = try StateDirectory(path: dir.file("state"))
        defer { state.unlock() }
        let before = SystemWallClock().nowMs
        let engine = try EmbeddedEngine(configuration: configuration, state: state, clock: SystemWallClock())
        let batches = try engine.poll(maxRecords: 100, timeout: .zero)
        #expect(
            batches.map(\.partition) == [
                TopicPartition(topic: "in", partition: 0), TopicPartition(topic: "in", partition: 1),
            ])
        let a = batches[0].records
        #expect(
            a.map { String(decoding: $0.value, as: UTF8.self) } == ["{\"id\":1,\"ts\":10}", "{\"id\":\"a\",\"ts\":5}"])
        #expect(a.allSatisfy { $0.timestampMs >= before && $0.timestampMs <= SystemWallClock().nowMs })
        #expect(a.map { $0.origin?.offset } == [17, 36])  // after each line, blank line included
        #expect(a.allSatisfy { $0.key == nil })  // keys come from the source's extractor, in the runtime
        let b = batches[1].records
        #expect(b.map { String(decoding: $0.value, as: UTF8.self) } == ["{\"id\":2,\"ts\":7}", "not json"])
        // describe(_:) names the file and line of a record read (for the runtime's messages).
        #expect(engine.describe(b[1].origin!) == "\(dir.file("b.jsonl")):2")
        #expect(engine.describe(a[1].origin!) == "\(dir.file("a.jsonl")):3")
        #expect(try engine.poll(maxRecords: 100, timeout: .zero).isEmpty)  // both inputs ended
        #expect(engine.recordsRead == 4)
    }

    @Test("read ahead: batches arrive extracted on the reading thread, in file order, invalid lines in place")
    func readAhead() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        // Three batches per input (a batch is at most 4,096 lines), one invalid line in each.
        for (name, first) in [("a.jsonl", 0), ("b.jsonl", 100_000)] {
            var lines = (0..<10_000).map { #"{"id":\#(first + $0),"ts":\#($0)}"# }
            lines[5_000] = "not json"
            Files.write(lines, to: dir.file(name))
        }
        let configuration = EmbeddedConfiguration(
            inputs: [.init(topic: "in", files: [dir.file("a.jsonl"), dir.file("b.jsonl")])],
            outputs: [.init(topic: "out", file: dir.file("out.jsonl"))],
            stateDirectory: dir.file("state"))
        let streams = try EmbeddedStreams(configuration: configuration)
        defer { streams.close() }
        var topology = Topology()
        topology.addSource("in", topics: ["in"], key: .jsonField("id"), timestamp: .jsonField("ts"))
        topology.addSink("out", topic: "out", parents: "in")
        _ = try streams.makeThread(
            topology, configuration: StreamsConfiguration(applicationId: "ahead", deserializationErrorPolicy: .skip))
        var records: [TopicPartition: [Record]] = [:]
        while true {
            let batches = try streams.engine.poll(maxRecords: 100_000, timeout: .zero)
            if batches.isEmpty { break }
            for batch in batches {
                let extracted = batch.isExtracted
                #expect(extracted, "a batch of \(batch.partition) came unextracted")
                records[batch.partition, default: []].append(contentsOf: batch.records)
            }
        }
        for (i, partition) in streams.engine.partitions.enumerated() {
            let read = try #require(records[partition])
            #expect(read.count == 10_000)
            #expect(read.map(\.timestampMs) == (0..<10_000).map { $0 == 5_000 ? Int64.min : Int64($0) })
            #expect(read.filter { $0.key == nil }.count == 1)
            // describe(_:) knows every line handed over.
            #expect(streams.engine.describe(read[5_000].origin!) == "\(streams.engine.inputs[i].path):5001")
        }
        #expect(streams.engine.recordsRead == 20_000)
    }

    @Test("read ahead: a failure on the reading thread is thrown by the poll that reaches it, and by every later one")
    func readAheadFailure() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let input = dir.file("in.jsonl")
        Files.write((0..<100).map { #"{"id":\#($0)}"# }, to: input)
        let configuration = EmbeddedConfiguration(
            inputs: [.init(topic: "in", files: [input])], outputs: [.init(topic: "out", file: dir.file("out.jsonl"))],
            stateDirectory: dir.file("state"), follow: true)
        let state = try StateDirectory(path: dir.file("state"))
        defer { state.unlock() }
        let engine = try EmbeddedEngine(configuration: configuration, state: state, clock: SystemWallClock())
        var read = 0
        for _ in 0..<1_000 where read < 100 {
            read += try engine.poll(maxRecords: 100, timeout: .zero).reduce(0) { $0 + $1.records.count }
            usleep(1_000)
        }
        #expect(read == 100)
        // Cut the followed file below what was read: the reading thread finds it on its next read.
        #expect(truncate(input, 3) == 0)
        var failures = 0
        for _ in 0..<1_000 where failures == 0 {
            do { _ = try engine.poll(maxRecords: 100, timeout: .zero) } catch {
                #expect(error.message.contains("shrank"), "\(error)")
                failures += 1
            }
            usleep(1_000)
        }
        #expect(failures == 1)
        #expect(throws: StreamsError.self) { try engine.poll(maxRecords: 100, timeout: .zero) }
        engine.close()
    }

    @Test("EmbeddedStreams refuses files that would destroy data, before it creates or changes anything")
    func dangerousFiles() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let input = dir.file("in.jsonl")
        Files.write(["{\"id\":1}"], to: input)
        let cases: [(outputs: [EmbeddedConfiguration.Output], inputs: [String], expected: String)] = [
            ([.init(topic: "out", file: dir.path + "/./in.jsonl")], [input], "writing it would destroy the input"),
            (
                [.init(topic: "out", file: dir.file("o")), .init(topic: "dup", file: dir.file("o"))], [input],
                "are the same file"
            ),
            (
                [.init(topic: "out", file: "-"), .init(topic: "dup", file: "-")], [input],
                "both write to standard output"
            ),
            ([.init(topic: "out", file: dir.file("state/out.jsonl"))], [input], "inside the state directory"),
            ([.init(topic: "out", file: dir.file("o"))], [input, dir.path + "//in.jsonl"], "read every line twice"),
        ]
        for (outputs, inputs, expected) in cases {
            let configuration = EmbeddedConfiguration(
                inputs: [.init(topic: "in", files: inputs)], outputs: outputs, stateDirectory: dir.file("state"))
            let error = #expect(throws: StreamsError.self) { try EmbeddedStreams(configuration: configuration) }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message.contains(expected) == true, "\(String(describing: error))")
            #expect(Files.lines(input) == ["{\"id\":1}"], "the input was changed")
            #expect(!FileManager.default.fileExists(atPath: dir.file("state")), "a refused run created its state")
        }
    }

    @Test("EmbeddedStreams runs one topology: a second run, or a run after close(), throws illegalState")
    func oneRunPerObject() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        Files.write(["{\"id\":1}", "{\"id\":1}"], to: dir.file("in.jsonl"))
        func topology(store: String) -> Topology {
            var topology = Topology()
            topology.addSource("in", topics: ["in"], key: .jsonField("id"))
            topology.addStateStore(store, connectedTo: ["pass"]) { _ in
                try InMemoryWindowStore(configuration: WindowStoreConfiguration(name: store, retention: .seconds(60)))
            }
            topology.addProcessor("pass", parents: "in", stores: [store]) { context in PassThrough(context: context) }
            topology.addSink("out", topic: "out", parents: "pass")
            return topology
        }
        let streams = try EmbeddedStreams(
            configuration: EmbeddedConfiguration(
                inputs: [.init(topic: "in", files: [dir.file("in.jsonl")])],
                outputs: [.init(topic: "out", file: dir.file("out.jsonl"))],
                stateDirectory: dir.file("state")))
        try streams.run(topology(store: "a"), configuration: StreamsConfiguration(applicationId: "once"))
        #expect(Files.lines(dir.file("out.jsonl")).count == 2)
        // A second topology (with another changelogged store) would restore the first one's changelog.
        let again = #expect(throws: StreamsError.self) {
            try streams.run(topology(store: "b"), configuration: StreamsConfiguration(applicationId: "once"))
        }
        #expect(again?.code == .illegalState)
        streams.close()
        let closed = #expect(throws: StreamsError.self) {
            try streams.run(topology(store: "a"), configuration: StreamsConfiguration(applicationId: "once"))
        }
        #expect(closed?.code == .illegalState)
    }
}

/// Forwards every record.
final class PassThrough: Processor {
    let context: ProcessorContext
    init(context: ProcessorContext) { self.context = context }
    func process(_ record: Record) throws { try context.forward(record) }
}
