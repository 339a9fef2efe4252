import Foundation
import Testing
import StreamsTestSupport

#if canImport(Glibc)
    import Glibc
#endif

@Suite("dedup run --follow")
struct FollowTests {
    /// Polls until `condition` holds, for at most `timeout` seconds.
    static func waitUntil(timeout: Double = 20, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    @Test("lines appended while following are deduplicated; SIGTERM commits everything and exits 0")
    func follow() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let all = ErrorTests.lines(600)
        let input = dir.file("in.jsonl")
        Files.write(Array(all[..<200]), to: input)
        let arguments = ErrorTests.arguments(dir, ["--follow", "--commit-interval", "10ms"])
        let (process, _, stderr) = try DedupCLI.launch(arguments, in: dir.path)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        let expectedFirst = ErrorTests.expected(Array(all[..<200]))
        #expect(
            Self.waitUntil { Files.lines(dir.file("out.jsonl")).count == expectedFirst.count }, "\(Files.text(stderr))")
        #expect(process.isRunning, "a following run ended by itself: \(Files.text(stderr))")

        // Two appends, the second one a line written in two pieces.
        Files.append(Array(all[200..<400]), to: input)
        let handle = FileHandle(forWritingAtPath: input)!
        handle.seekToEndOfFile()
        let last = Array(all[400...]).map { $0 + "\n" }.joined()
        let cut = last.utf8.count - 20
        handle.write(Data(last.utf8.prefix(cut)))
        usleep(100_000)
        handle.write(Data(last.utf8.dropFirst(cut)))
        try handle.close()

        let expected = ErrorTests.expected(all)
        #expect(Self.waitUntil { Files.lines(dir.file("out.jsonl")).count == expected.count }, "\(Files.text(stderr))")
        #expect(process.isRunning)
        kill(process.processIdentifier, SIGTERM)
        DedupCLI.wait(process, timeout: 10)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(Files.text(stderr))")
        #expect(Files.lines(dir.file("out.jsonl")) == expected)
        #expect(Files.committedLines(dir.file("state")) == all.count)
        let committedLength =
            (Files.checkpoint(dir.file("state"))?["outputs"] as? [[String: Any]])?.first?["committedLength"] as? Int
        #expect(committedLength == Files.read(dir.file("out.jsonl")).count)
    }
}
