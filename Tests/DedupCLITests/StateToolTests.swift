import Foundation
import StreamsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("dedup verify, store counts and a full store disk")
struct StateToolTests {
    static let t0: Int64 = 1_767_225_600_000

    /// `count` distinct keys 10 ms apart, then a duplicate of the last one 5 ms later: stream time
    /// ends past every emitted record, so the deduplicator writes its stream-time marker.
    static func distinctKeys(_ count: Int) -> [String] {
        var lines = (0..<count).map { i in #"{"id":"key-\#(i)","ts":\#(t0 + Int64(i) * 10)}"# }
        lines.append(#"{"id":"key-\#(count - 1)","ts":\#(t0 + Int64(count - 1) * 10 + 5)}"#)
        return lines
    }

    static func runArguments(_ dir: TemporaryDirectory, _ extra: [String] = []) -> [String] {
        [
            "run", "--input", dir.file("in.jsonl"), "--output", dir.file("out.jsonl"), "--key", "id", "--time-field",
            "ts", "--window", "1h", "--state", dir.file("state"), "--quiet",
        ] + extra
    }

    @Test("liveKeys in --stats and live entries in dedup inspect count business keys only")
    func liveKeysCountBusinessKeys() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let n = 57
        Files.write(Self.distinctKeys(n), to: dir.file("in.jsonl"))
        let run = try DedupCLI.run(Self.runArguments(dir, ["--stats"]), in: dir.path)
        #expect(run.status == 0, "\(run)")
        #expect(Files.lines(dir.file("out.jsonl")).count == n)
        #expect(run.stderr.contains(#""liveKeys":\#(n),"#) || run.stderr.contains(#""liveKeys" : \#(n),"#), "\(run)")
        let inspect = try DedupCLI.run(["inspect", "--state", dir.file("state")], in: dir.path)
        #expect(inspect.status == 0, "\(inspect)")
        #expect(inspect.stdout.contains("live entries:       \(n) "), "\(inspect)")

        // A second run over more of the same keys keeps one marker, not one per run.
        Files.write(
            Self.distinctKeys(n) + [#"{"id":"key-0","ts":\#(Self.t0 + Int64(n) * 10 + 50)}"#], to: dir.file("in.jsonl"))
        let again = try DedupCLI.run(Self.runArguments(dir, ["--stats"]), in: dir.path)
        #expect(again.status == 0, "\(again)")
        let inspectAgain = try DedupCLI.run(["inspect", "--state", dir.file("state")], in: dir.path)
        #expect(inspectAgain.stdout.contains("live entries:       \(n) "), "\(inspectAgain)")
    }

    @Test(
        "a full disk under the store: exit 74 saying disk full and naming the store; with more space the run completes",
        .enabled(
            if: SmallFileSystem.isPermitted, "mounting a tmpfs is not permitted here (needs root with CAP_SYS_ADMIN)")
    )
    func storeDiskFull() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        // Only the store is on the small disk: the changelog and the outputs have room.
        let store = dir.file("state/store")
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        #expect(runTool("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", store]) == 0)
        defer { runTool("/bin/umount", [store]) }
        let lines = (0..<100_000).map { i in #"{"id":"key-\#(i)","ts":\#(Self.t0 + Int64(i))}"# }
        Files.write(lines, to: dir.file("in.jsonl"))

        let full = try DedupCLI.run(Self.runArguments(dir), in: dir.path, timeout: 120)
        #expect(full.status == 74, "\(full)")
        #expect(full.stderr.contains("disk full"), "\(full)")
        #expect(full.stderr.contains(store), "\(full)")
        #expect(!full.stderr.contains("check the device"), "\(full)")

        #expect(runTool("/bin/mount", ["-o", "remount,size=64m", store]) == 0)
        let again = try DedupCLI.run(Self.runArguments(dir), in: dir.path, timeout: 120)
        #expect(again.status == 0, "\(again)")
        #expect(Files.lines(dir.file("out.jsonl")) == lines)
    }

    /// Changes every copy of `needle` in `path` (LMDB keeps old copies of pages in free pages,
    /// so the live one is among them) by overwriting `replacement` at `offset` within it; returns
    /// how many were found.
    static func patch(_ path: String, _ needle: [UInt8], at offset: Int, with replacement: [UInt8]) -> Int {
        var bytes = Files.read(path)
        var found = 0
        var i = 0
        while i + needle.count <= bytes.count {
            if bytes[i] == needle[0] && Array(bytes[i..<(i + needle.count)]) == needle {
                bytes.replaceSubrange((i + offset)..<(i + offset + replacement.count), with: replacement)
                found += 1
                i += needle.count
            } else {
                i += 1
            }
        }
        Files.write(bytes, to: path)
        return found
    }

    @Test("dedup verify: 0 when store and changelog agree, 65 naming the difference after key bytes flip in data.mdb")
    func verifyFindsFlippedKeyBytes() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let n = 500
        Files.write(Self.distinctKeys(n), to: dir.file("in.jsonl"))
        #expect(try DedupCLI.run(Self.runArguments(dir), in: dir.path).status == 0)
        let ok = try DedupCLI.run(["verify", "--state", dir.file("state")], in: dir.path)
        #expect(ok.status == 0, "\(ok)")
        #expect(ok.stdout.contains("store and changelog agree: \(n) live entries"), "\(ok)")

        // "key-123" becomes "kez-123": the store now answers "not seen" for key-123.
        // The stored key holds the canonical string component: "s", its length, its UTF-8.
        let found = Self.patch(
            dir.file("state/store/data.mdb"), [UInt8(ascii: "s"), 7] + Array("key-123".utf8), at: 4, with: [0x7A])
        #expect(found >= 1)
        let bad = try DedupCLI.run(["verify", "--state", dir.file("state")], in: dir.path)
        #expect(bad.status == 65, "\(bad)")
        #expect(bad.stderr.contains("disagrees with the changelog"), "\(bad)")
        #expect(bad.stderr.contains(#"key "key-123""#) || bad.stderr.contains(#"key "kez-123""#), "\(bad)")
        #expect(bad.stderr.contains("rm -rf \(dir.file("state/store"))"), "\(bad)")
        #expect(bad.stderr.split(separator: "\n").count == 1, "\(bad)")

        // The advice works: the rebuilt store agrees again.
        try FileManager.default.removeItem(atPath: dir.file("state/store"))
        #expect(try DedupCLI.run(Self.runArguments(dir), in: dir.path).status == 0)
        let rebuilt = try DedupCLI.run(["verify", "--state", dir.file("state")], in: dir.path)
        #expect(rebuilt.status == 0, "\(rebuilt)")
    }

    @Test("dedup verify after compactions and restarts agrees; a directory that is no state is a usage error")
    func verifyAfterCompaction() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        // Keys recur and expire (window 100 ms over 3 s of data), so compaction drops entries.
        let lines = (0..<3_000).map { i in #"{"id":"key-\#(i % 200)","ts":\#(Self.t0 + Int64(i))}"# }
        Files.write(Array(lines[..<1_500]), to: dir.file("in.jsonl"))
        var arguments = Self.runArguments(dir, ["--compaction-threshold", "4096", "--commit-interval", "5ms"])
        arguments[arguments.firstIndex(of: "1h")!] = "100ms"
        #expect(try DedupCLI.run(arguments, in: dir.path).status == 0)
        Files.write(lines, to: dir.file("in.jsonl"))
        #expect(try DedupCLI.run(arguments, in: dir.path).status == 0)
        let generations = try FileManager.default.contentsOfDirectory(atPath: dir.file("state/changelog"))
        #expect(!generations.contains("changelog-00000000000000000001.log"), "no compaction: \(generations)")
        let ok = try DedupCLI.run(["verify", "--state", dir.file("state")], in: dir.path)
        #expect(ok.status == 0, "\(ok)")
        #expect(ok.stdout.contains("store and changelog agree"), "\(ok)")

        let notState = try DedupCLI.run(["verify", "--state", dir.path], in: dir.path)
        #expect(notState.status == 64, "\(notState)")
    }

    @Test(
        "dedup verify on a store behind the checkpoint compares the prefix the store reflects and says it is replayed")
    func verifyStoreBehind() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let lines = Self.distinctKeys(400)
        Files.write(Array(lines[..<200]), to: dir.file("in.jsonl"))
        #expect(try DedupCLI.run(Self.runArguments(dir), in: dir.path).status == 0)
        // The store of the first run, put back after the second: as if the second run had died
        // between its checkpoint and its store commit.
        try FileManager.default.copyItem(atPath: dir.file("state/store"), toPath: dir.file("old-store"))
        Files.write(lines, to: dir.file("in.jsonl"))
        #expect(try DedupCLI.run(Self.runArguments(dir), in: dir.path).status == 0)
        try FileManager.default.removeItem(atPath: dir.file("state/store"))
        try FileManager.default.moveItem(atPath: dir.file("old-store"), toPath: dir.file("state/store"))

        let behind = try DedupCLI.run(["verify", "--state", dir.file("state")], in: dir.path)
        #expect(behind.status == 0, "\(behind)")
        #expect(behind.stdout.contains("store and changelog agree: 200 live entries"), "\(behind)")
        #expect(behind.stdout.contains("the next dedup run replays the rest"), "\(behind)")

        // Damage in the part the store reflects is still found.
        #expect(
            Self.patch(
                dir.file("state/store/data.mdb"), [UInt8(ascii: "s"), 6] + Array("key-42".utf8), at: 4, with: [0x7A])
                >= 1)
        let bad = try DedupCLI.run(["verify", "--state", dir.file("state")], in: dir.path)
        #expect(bad.status == 65, "\(bad)")
        #expect(bad.stderr.contains("key-42"), "\(bad)")

        // A run replays and rebuilds as promised; then they agree on everything.
        try FileManager.default.removeItem(atPath: dir.file("state/store"))
        #expect(try DedupCLI.run(Self.runArguments(dir), in: dir.path).status == 0)
        let after = try DedupCLI.run(["verify", "--state", dir.file("state")], in: dir.path)
        #expect(after.status == 0, "\(after)")
        #expect(after.stdout.contains("store and changelog agree: 400 live entries"), "\(after)")
    }
}
