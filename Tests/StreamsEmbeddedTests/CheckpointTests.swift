import Foundation
import StreamsEmbedded
import Testing
import StreamsTestSupport

@Suite("Checkpoint")
struct CheckpointTests {
    static let sample = Checkpoint(
        generation: 12,
        inputs: [
            .init(path: "A.jsonl", byteOffset: 1_000, lineNumber: 17),
            .init(path: "B.jsonl", byteOffset: 0, lineNumber: 0),
        ],
        outputs: [.init(path: "out.jsonl", committedLength: 512)],
        changelog: ChangelogFilePosition(generation: 2, offset: 4_096),
        streamTimeMs: 1_700_000_000_000,
        counters: .init(recordsRead: 17, recordsWritten: 9, duplicatesDropped: 8)
    )

    @Test("save then load round-trips; a missing file is a fresh start")
    func roundTrip() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("checkpoint.json")
        #expect(try Checkpoint.load(from: path) == nil)
        try Self.sample.save(to: path)
        #expect(try Checkpoint.load(from: path) == Self.sample)
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
        var next = Self.sample
        next.generation += 1
        next.streamTimeMs = nil
        try next.save(to: path)
        #expect(try Checkpoint.load(from: path) == next)
        let text = String(decoding: Files.read(path), as: UTF8.self)
        #expect(text.contains("\"byteOffset\" : 1000"), "the checkpoint should stay readable JSON")
    }

    @Test(
        "damaged checkpoints give corrupt errors naming the file",
        arguments: [
            "truncated", "empty", "garbage", "missingField", "negativeOffset", "badChangelog", "duplicateInput",
        ]
    )
    func damaged(kind: String) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("checkpoint.json")
        try Self.sample.save(to: path)
        let text = String(decoding: Files.read(path), as: UTF8.self)
        let damaged: String
        switch kind {
        case "truncated": damaged = String(text.prefix(text.count / 2))
        case "empty": damaged = ""
        case "garbage": damaged = "\u{0}\u{1}binary"
        case "missingField": damaged = text.replacingOccurrences(of: "\"outputs\"", with: "\"outputz\"")
        case "negativeOffset": damaged = text.replacingOccurrences(of: "1000", with: "-1000")
        case "badChangelog": damaged = text.replacingOccurrences(of: "4096", with: "3")
        default: damaged = text.replacingOccurrences(of: "B.jsonl", with: "A.jsonl")
        }
        Files.write(Array(damaged.utf8), to: path)
        let error = #expect(throws: EmbeddedError.self) { try Checkpoint.load(from: path) }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains(path) == true)
        #expect(error?.message.contains("delete the state directory") == true)
    }

    @Test("a newer format version is refused with unsupportedVersion")
    func newerVersion() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("checkpoint.json")
        try Self.sample.save(to: path)
        let text = String(decoding: Files.read(path), as: UTF8.self).replacingOccurrences(
            of: "\"version\" : 1", with: "\"version\" : 2")
        Files.write(Array(text.utf8), to: path)
        let error = #expect(throws: EmbeddedError.self) { try Checkpoint.load(from: path) }
        #expect(error?.code == .unsupportedVersion)
        #expect(error?.message.contains(path) == true)
    }

    @Test("a leftover temporary file from a crash during save does not matter")
    func leftoverTemporary() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("checkpoint.json")
        try Self.sample.save(to: path)
        Files.write(Array("{\"half".utf8), to: path + ".tmp")
        #expect(try Checkpoint.load(from: path) == Self.sample)
        var next = Self.sample
        next.generation = 99
        try next.save(to: path)
        #expect(try Checkpoint.load(from: path) == next)
    }
}
