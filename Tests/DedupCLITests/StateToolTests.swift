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
}
