import Foundation
import Testing
import StreamsTestSupport

/// Issue 9: a damaged state directory, or an input that is no longer what was committed, must be
/// refused with a message naming the file and the fix, never resumed into wrong output.
@Suite("dedup run: damaged state and replaced inputs are refused")
struct StateDamageTests {
    static func lines(_ count: Int, from serial: Int = 0, prefix: String = "o") -> [String] {
        (serial..<(serial + count)).map { i in
            #"{"k":{"id":"\#(prefix)-\#(i % 37)"},"ts":\#(1_767_225_600_000 + Int64(i) * 10),"n":\#(i)}"#
        }
    }

    /// Relative paths (the runs start in the directory), so that a copied directory works too.
    static let arguments = [
        "run", "--input", "in.jsonl", "--output", "out.jsonl", "--duplicates", "dup.jsonl", "--key", "k.id",
        "--time-field", "ts", "--window", "1s", "--state", "state", "--quiet",
    ]

    static func expected(_ lines: [String]) -> (kept: [String], dropped: [String]) {
        let result = DedupModel.run(inputs: [lines], keyFields: ["k.id"], timeField: "ts", windowMs: 1_000, graceMs: 0)
        return (result.kept, result.dropped)
    }

    /// Runs over `lines` to the end in `dir`.
    static func firstRun(_ dir: TemporaryDirectory, _ lines: [String], extra: [String] = []) throws {
        Files.write(lines, to: dir.file("in.jsonl"))
        let run = try DedupCLI.run(Self.arguments + extra, in: dir.path)
        #expect(run.status == 0, "\(run)")
        #expect(Files.lines(dir.file("out.jsonl")) == Self.expected(lines).kept)
        #expect(Files.lines(dir.file("dup.jsonl")) == Self.expected(lines).dropped)
    }

    /// The outputs' bytes, to check that a refused run did not touch them.
    static func outputs(_ dir: TemporaryDirectory) -> [[UInt8]] {
        [Files.read(dir.file("out.jsonl")), Files.read(dir.file("dup.jsonl"))]
    }

    // MARK: Item 4: the checkpoint lost

    @Test("checkpoint.json deleted, store kept: exit 74 naming the checkpoint; the outputs untouched")
    func checkpointDeleted() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let first = Self.lines(3_000)
        try Self.firstRun(dir, first)
        let before = Self.outputs(dir)
        try FileManager.default.removeItem(atPath: dir.file("state/checkpoint.json"))
        Files.append(Self.lines(500, from: 3_000), to: dir.file("in.jsonl"))
        let run = try DedupCLI.run(Self.arguments, in: dir.path)
        #expect(run.status == 74, "\(run)")
        #expect(run.stderr.contains("state/checkpoint.json"), "\(run)")
        #expect(run.stderr.contains("is missing"), "\(run)")
        #expect(run.stderr.contains("delete the state directory"), "\(run)")
        #expect(Self.outputs(dir) == before, "a refused run changed the outputs")
    }

    @Test("checkpoint.json and the store deleted after compactions: exit 74 (the changelog shows the commits)")
    func checkpointDeletedAfterCompaction() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        // Mostly new keys, so that compaction shrinks the changelog and runs several times.
        let first = (0..<4_000).map { i in
            #"{"k":{"id":"u-\#(i)"},"ts":\#(1_767_225_600_000 + Int64(i) * 10),"n":\#(i)}"#
        }
        try Self.firstRun(dir, first, extra: ["--compaction-threshold", "4096", "--commit-interval", "5ms"])
        let generation = (Files.checkpoint(dir.file("state"))?["changelog"] as? [String: Any])?["generation"] as? Int
        #expect((generation ?? 0) > 1, "no compaction happened")
        let before = Self.outputs(dir)
        try FileManager.default.removeItem(atPath: dir.file("state/checkpoint.json"))
        try FileManager.default.removeItem(atPath: dir.file("state/store"))
        let run = try DedupCLI.run(Self.arguments, in: dir.path)
        #expect(run.status == 74, "\(run)")
        #expect(run.stderr.contains("state/checkpoint.json"), "\(run)")
        #expect(run.stderr.contains("generation"), "\(run)")
        #expect(Self.outputs(dir) == before, "a refused run changed the outputs")
    }

    /// What a first run killed after syncing its changelog but before its first checkpoint leaves:
    /// a changelog with records, outputs written ahead, no checkpoint and no committed store.
    @Test("nothing committed yet (no checkpoint, no committed store): a clean fresh start")
    func nothingCommittedStartsOver() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let all = Self.lines(2_000)
        try Self.firstRun(dir, all)
        try FileManager.default.removeItem(atPath: dir.file("state/checkpoint.json"))
        try FileManager.default.removeItem(atPath: dir.file("state/store"))
        Files.append(["{\"junk\":1}"], to: dir.file("out.jsonl"))
        let run = try DedupCLI.run(Self.arguments, in: dir.path)
        #expect(run.status == 0, "\(run)")
        #expect(Files.lines(dir.file("out.jsonl")) == Self.expected(all).kept)
        #expect(Files.lines(dir.file("dup.jsonl")) == Self.expected(all).dropped)
    }

    /// What the refusals advise: a checkpoint restored from a backup is older than the store,
    /// which then cannot be caught up and must be rebuilt from the (cut back) changelog, not
    /// topped up with it.
    @Test("an older checkpoint put back from a backup: the store is rebuilt, the output is one run's")
    func olderCheckpointRestored() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let first = Self.lines(2_000)
        try Self.firstRun(dir, first)
        let backup = Files.read(dir.file("state/checkpoint.json"))
        let second = Self.lines(2_000, from: 2_000)
        Files.append(second, to: dir.file("in.jsonl"))
        let run = try DedupCLI.run(Self.arguments, in: dir.path)
        #expect(run.status == 0, "\(run)")
        Files.write(backup, to: dir.file("state/checkpoint.json"))
        let again = try DedupCLI.run(Self.arguments, in: dir.path)
        #expect(again.status == 0, "\(again)")
        #expect(Files.lines(dir.file("out.jsonl")) == Self.expected(first + second).kept)
        #expect(Files.lines(dir.file("dup.jsonl")) == Self.expected(first + second).dropped)
    }

    // MARK: Item 5: a damaged checkpoint

    @Test(
        "an edited checkpoint is refused with exit 74 naming it; the outputs untouched",
        arguments: ["rewound byteOffset", "lowered committedLength", "one byte of the duplicates path"]
    )
    func checkpointEdited(edit: String) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let first = Self.lines(3_000)
        try Self.firstRun(dir, first)
        let before = Self.outputs(dir)
        let path = dir.file("state/checkpoint.json")
        let checkpoint = try #require(Files.checkpoint(dir.file("state")))
        var text = Files.text(path)
        switch edit {
        case "rewound byteOffset":
            let input = try #require((checkpoint["inputs"] as? [[String: Any]])?.first)
            let offset = try #require(input["byteOffset"] as? Int)
            let line = try #require(input["lineNumber"] as? Int)
            text = text.replacingOccurrences(of: "\"byteOffset\" : \(offset)", with: "\"byteOffset\" : 0")
            text = text.replacingOccurrences(of: "\"lineNumber\" : \(line)", with: "\"lineNumber\" : 0")
        case "lowered committedLength":
            let length = try #require(Files.committedLength(dir.file("state"), of: "out.jsonl"))
            text = text.replacingOccurrences(
                of: "\"committedLength\" : \(length)", with: "\"committedLength\" : \(length - 1_000)")
        default:
            text = text.replacingOccurrences(of: "\"dup.jsonl\"", with: "\"dup.jsonm\"")
        }
        #expect(text != Files.text(path), "the edit \(edit) found nothing to change")
        Files.write(Array(text.utf8), to: path)
        let run = try DedupCLI.run(Self.arguments, in: dir.path)
        #expect(run.status == 74, "\(edit): \(run)")
        #expect(run.stderr.contains("state/checkpoint.json"), "\(edit): \(run)")
        #expect(run.stderr.contains("checksum"), "\(edit): \(run)")
        #expect(Self.outputs(dir) == before, "\(edit): a refused run changed the outputs")
    }

    @Test("a version 1 checkpoint is resumed once and rewritten as version 2 with a checksum")
    func versionOneUpgraded() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let first = Self.lines(2_000)
        try Self.firstRun(dir, first)
        // Rewrite the checkpoint as version 1 wrote it: no crc32c, no fingerprints, counters.
        var checkpoint = try #require(Files.checkpoint(dir.file("state")))
        checkpoint["version"] = 1
        checkpoint["crc32c"] = nil
        checkpoint["counters"] = ["duplicatesDropped": 0, "malformed": 0, "recordsRead": 0, "recordsWritten": 0]
        checkpoint["inputs"] = (checkpoint["inputs"] as? [[String: Any]])?.map { input in
            var input = input
            input["fingerprint"] = nil
            return input
        }
        let data = try JSONSerialization.data(withJSONObject: checkpoint, options: [.prettyPrinted, .sortedKeys])
        Files.write(Array(data), to: dir.file("state/checkpoint.json"))

        let second = Self.lines(1_000, from: 2_000)
        Files.append(second, to: dir.file("in.jsonl"))
        let run = try DedupCLI.run(Self.arguments, in: dir.path)
        #expect(run.status == 0, "\(run)")
        #expect(Files.lines(dir.file("out.jsonl")) == Self.expected(first + second).kept)
        #expect(Files.lines(dir.file("dup.jsonl")) == Self.expected(first + second).dropped)
        let upgraded = try #require(Files.checkpoint(dir.file("state")))
        #expect(upgraded["version"] as? Int == 2)
        #expect(upgraded["crc32c"] is String)
        #expect(upgraded["counters"] == nil)
        let input = try #require((upgraded["inputs"] as? [[String: Any]])?.first)
        #expect(input["fingerprint"] != nil)
    }

    // MARK: Item 6: an input replaced since the last commit

    @Test(
        "an input replaced by other content of the same or a greater length: exit 64 naming the input",
        arguments: ["same length", "longer", "last committed line edited", "first line edited"]
    )
    func inputReplaced(how: String) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let first = Self.lines(3_000)
        try Self.firstRun(dir, first)
        let before = Self.outputs(dir)
        var replacement: [String]
        switch how {
        case "same length": replacement = Self.lines(3_000, prefix: "p")
        case "longer": replacement = Self.lines(4_000, from: 10_000)
        case "last committed line edited":
            replacement = first
            replacement[replacement.count - 1] = replacement[replacement.count - 1].replacingOccurrences(
                of: "\"o-", with: "\"q-")
        default:
            replacement = first
            replacement[0] = replacement[0].replacingOccurrences(of: "\"o-", with: "\"q-")
        }
        #expect(replacement != first)
        Files.write(replacement, to: dir.file("in.jsonl"))
        let run = try DedupCLI.run(Self.arguments, in: dir.path)
        #expect(run.status == 64, "\(how): \(run)")
        #expect(run.stderr.contains("in.jsonl"), "\(how): \(run)")
        #expect(run.stderr.contains("replaced or edited"), "\(how): \(run)")
        #expect(Self.outputs(dir) == before, "\(how): a refused run changed the outputs")
    }

    @Test("an input shorter than 4 KiB that grows is resumed; so is a copy of state and inputs elsewhere")
    func appendedSmallInputAndCopiedDirectory() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let first = Self.lines(20)
        try Self.firstRun(dir, first)
        #expect(Files.size(dir.file("in.jsonl")) < 4_096)
        let second = Self.lines(20, from: 20)
        Files.append(second, to: dir.file("in.jsonl"))
        let run = try DedupCLI.run(Self.arguments, in: dir.path)
        #expect(run.status == 0, "\(run)")
        #expect(Files.lines(dir.file("out.jsonl")) == Self.expected(first + second).kept)

        // Another directory (new inodes, new device numbers possibly): the fingerprint is of the
        // content, so the copy resumes like the original.
        let copy = TemporaryDirectory()
        defer { copy.remove() }
        try FileManager.default.removeItem(atPath: copy.path)
        try FileManager.default.copyItem(atPath: dir.path, toPath: copy.path)
        let third = Self.lines(3_000, from: 40)
        Files.append(third, to: copy.file("in.jsonl"))
        let moved = try DedupCLI.run(Self.arguments, in: copy.path)
        #expect(moved.status == 0, "\(moved)")
        #expect(Files.lines(copy.file("out.jsonl")) == Self.expected(first + second + third).kept)
        #expect(Files.lines(copy.file("dup.jsonl")) == Self.expected(first + second + third).dropped)
    }
}
