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
}
