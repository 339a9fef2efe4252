import Foundation
import StreamsEmbedded
import Testing
import StreamsTestSupport

@Suite("Checkpoint")
struct CheckpointTests {
    static let sample = Checkpoint(
        generation: 12,
        inputs: [
            .init(
                path: "A.jsonl", byteOffset: 1_000, lineNumber: 17,
                fingerprint: .init(headCRC32C: 0x1234_5678, tailCRC32C: 0x9ABC_DEF0)),
            .init(path: "B.jsonl", byteOffset: 0, lineNumber: 0),
        ],
        outputs: [.init(path: "out.jsonl", committedLength: 512), .init(path: "dups.jsonl", committedLength: 4_000)],
        changelog: ChangelogFilePosition(generation: 2, offset: 4_096),
        streamTimeMs: 1_700_000_000_000
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
            of: "\"version\" : 2", with: "\"version\" : 3")
        Files.write(Array(text.utf8), to: path)
        let error = #expect(throws: EmbeddedError.self) { try Checkpoint.load(from: path) }
        #expect(error?.code == .unsupportedVersion)
        #expect(error?.message.contains(path) == true)
    }

    /// The damage of issue 9 that a version 1 checkpoint let through: each edit keeps valid JSON
    /// and a consistent checkpoint, so only the checksum can tell.
    @Test(
        "a checkpoint that does not match its checksum is refused naming the file",
        arguments: [
            ("rewound byteOffset", "\"byteOffset\" : 1000", "\"byteOffset\" : 100"),
            ("lowered committedLength", "\"committedLength\" : 4000", "\"committedLength\" : 3000"),
            ("one byte of an output path", "dups.jsonl", "dupt.jsonl"),
            ("the stream time", "1700000000000", "1700000000001"),
            ("the version number", "\"version\" : 2", "\"version\" : 1"),
            ("the checksum itself", "\"crc32c\" : \"", "\"crc32c\" : \"f"),
            ("the checksum removed", "\"crc32c\"", "\"crc32x\""),
        ]
    )
    func checksumMismatch(what: String, original: String, replacement: String) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("checkpoint.json")
        try Self.sample.save(to: path)
        var text = String(decoding: Files.read(path), as: UTF8.self)
        #expect(text.contains(original), "\(what): \(text)")
        if what == "the checksum itself" {
            // Replace the first hex digit by another one, keeping 8 digits.
            let range = try #require(text.range(of: original))
            let digit = text[range.upperBound]
            text.replaceSubrange(range.upperBound...range.upperBound, with: digit == "f" ? "e" : "f")
        } else {
            text = text.replacingOccurrences(of: original, with: replacement)
        }
        Files.write(Array(text.utf8), to: path)
        let error = #expect(throws: EmbeddedError.self, "\(what)") { try Checkpoint.load(from: path) }
        #expect(error?.code == .corrupt, "\(what)")
        #expect(error?.message.contains(path) == true, "\(what)")
        #expect(error?.message.contains("delete the state directory") == true, "\(what)")
        #expect(error?.message.contains("\n") == false, "\(what)")
    }

    @Test("the file carries crc32c: 8 hex digits, the CRC-32C of the file with them read as 0s")
    func checksumDefinition() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("checkpoint.json")
        try Self.sample.save(to: path)
        let bytes = Files.read(path)
        let text = String(decoding: bytes, as: UTF8.self)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        let stored = try #require(json["crc32c"] as? String)
        #expect(stored.count == 8)
        #expect(json["version"] as? Int == 2)
        #expect(json["counters"] == nil, "the counters were never maintained")
        let zeroed = text.replacingOccurrences(of: "\"\(stored)\"", with: "\"00000000\"")
        #expect(String(CRC32C.checksum(zeroed), radix: 16) == String(UInt32(stored, radix: 16)!, radix: 16))
    }

    @Test("paths that look like the checksum key do not confuse it")
    func pathsLikeTheKey() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("checkpoint.json")
        var checkpoint = Self.sample
        checkpoint.inputs.append(.init(path: "crc32c", byteOffset: 5, lineNumber: 1))
        checkpoint.inputs.append(.init(path: "\"crc32c\" : \"00000000\"", byteOffset: 5, lineNumber: 1))
        checkpoint.outputs.append(.init(path: "crc32c", committedLength: 7))
        try checkpoint.save(to: path)
        #expect(try Checkpoint.load(from: path) == checkpoint)
    }

    @Test("a version 1 checkpoint (no checksum, no fingerprints) is read, and saved again as version 2")
    func versionOne() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("checkpoint.json")
        // As version 1 wrote it (with its never-maintained counters).
        let legacy = """
            {
              "changelog" : { "generation" : 2, "offset" : 4096 },
              "counters" : { "duplicatesDropped" : 0, "malformed" : 0, "recordsRead" : 0, "recordsWritten" : 0 },
              "generation" : 12,
              "inputs" : [ { "byteOffset" : 1000, "lineNumber" : 17, "path" : "A.jsonl" } ],
              "outputs" : [ { "committedLength" : 512, "path" : "out.jsonl" } ],
              "streamTimeMs" : 1700000000000,
              "version" : 1
            }
            """
        Files.write(Array(legacy.utf8), to: path)
        let loaded = try #require(try Checkpoint.load(from: path))
        #expect(loaded.version == 1)
        #expect(loaded.inputs == [.init(path: "A.jsonl", byteOffset: 1_000, lineNumber: 17)])
        #expect(loaded.outputs == [.init(path: "out.jsonl", committedLength: 512)])
        try loaded.save(to: path)
        let again = try #require(try Checkpoint.load(from: path))
        #expect(again.version == Checkpoint.currentVersion)
        #expect(String(decoding: Files.read(path), as: UTF8.self).contains("\"crc32c\""))

        // A version 1 file that was edited is not detected (it has no checksum), but a version 2
        // file edited to say version 1 still is: any file with a checksum is verified.
        let edited = String(decoding: Files.read(path), as: UTF8.self).replacingOccurrences(
            of: "\"version\" : 2", with: "\"version\" : 1")
        Files.write(Array(edited.utf8), to: path)
        #expect(throws: EmbeddedError.self) { try Checkpoint.load(from: path) }
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
