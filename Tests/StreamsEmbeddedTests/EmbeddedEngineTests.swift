import Foundation
import StreamsCore
import StreamsTestSupport
import Testing

@testable import DedupApp
@testable import StreamsEmbedded

@Suite("Embedded engine")
struct EmbeddedEngineTests {
    @Test("poll reads every input: values are the lines, offsets where reading resumes, times from the field")
    func poll() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        Files.write(Array("{\"id\":1,\"ts\":10}\n\n{\"id\":\"a\",\"ts\":5}\n".utf8), to: dir.file("a.jsonl"))
        Files.write(Array("{\"id\":2,\"ts\":7}\nnot json\n".utf8), to: dir.file("b.jsonl"))
        let configuration = DedupJobConfiguration(
            inputs: [dir.file("a.jsonl"), dir.file("b.jsonl")],
            output: dir.file("out.jsonl"),
            keyFields: ["id"],
            timeField: "ts",
            window: .seconds(1),
            stateDirectory: dir.file("state"),
            onInvalid: .skip
        )
        let state = try StateDirectory(path: configuration.stateDirectory)
        defer { state.unlock() }
        let engine = try EmbeddedEngine(
            configuration: configuration.engineConfiguration, state: state, clock: SystemWallClock())
        let batches = try engine.poll(maxRecords: 100, timeout: .zero)
        #expect(batches.map(\.partition.partition) == [0, 1])
        let a = batches[0].records
        #expect(a.map { String(decoding: $0.value, as: UTF8.self) } == ["{\"id\":1,\"ts\":10}", "{\"id\":\"a\",\"ts\":5}"])
        #expect(a.map(\.timestampMs) == [10, 5])
        #expect(a.map { $0.origin?.offset } == [17, 36])  // after each line, blank line included
        #expect(a.allSatisfy { $0.key != nil })
        #expect(a[0].key != a[1].key)
        let b = batches[1].records
        #expect(b.count == 2)
        #expect(b[1].key == nil)  // the invalid line travels as a record without key, in order
        #expect(b[1].timestampMs == .min)
        #expect(try engine.poll(maxRecords: 100, timeout: .zero).isEmpty)  // both inputs ended
        #expect(engine.recordsRead == 4)
    }
}
