import Foundation
import StreamsTestSupport
import Testing

/// Invalid input is the user's to fix, never a reason to block a job: an oversized key, a
/// far-future time and many bad lines (issue 9).
@Suite("dedup run: oversized keys, many invalid lines, far-future times")
struct InvalidInputTests {
    static let t0: Int64 = 1_767_225_600_000

    static func arguments(_ dir: TemporaryDirectory, window: String = "100ms", _ extra: [String] = []) -> [String] {
        [
            "run", "--input", dir.file("in.jsonl"), "--output", dir.file("out.jsonl"), "--key", "k.id",
            "--time-field", "ts", "--window", window, "--state", dir.file("state"), "--quiet",
        ] + extra
    }

    static func stderrLines(_ result: DedupResult) -> [String] {
        result.stderr.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    static func stats(_ result: DedupResult) throws -> [String: Any] {
        let line = try #require(stderrLines(result).last { $0.hasPrefix("{") })
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// A line whose key field is a string of `count` `x`s; its encoded key (a JSON string's tag
    /// and 4-byte length, then the characters) is `count + 5` bytes, and the deduplicator's store
    /// key (the record key's tag and length around it) `count + 10`.
    static func keyLine(_ count: Int, ts: Int64) -> String {
        #"{"k":{"id":""# + String(repeating: "x", count: count) + #""},"ts":\#(ts)}"#
    }

    @Test("a key over the store's 16 MiB limit: exit 65 naming file:line, key size and limit; skippable")
    func oversizedKey() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let limit = 16 << 20
        let fits = Self.keyLine(limit - 10, ts: Self.t0 + 1)  // a store key of exactly 16 MiB
        let over = Self.keyLine(limit - 9, ts: Self.t0 + 2)  // one byte more
        let small = [#"{"k":{"id":"a"},"ts":\#(Self.t0)}"#, #"{"k":{"id":"b"},"ts":\#(Self.t0 + 3)}"#]
        Files.write([small[0], fits, over, small[1]], to: dir.file("in.jsonl"))

        let failed = try DedupCLI.run(Self.arguments(dir), in: dir.path, timeout: 120)
        #expect(failed.status == 65, "\(failed.stderr.prefix(2_000))")
        #expect(
            failed.stderr.contains(
                "in.jsonl:3: the key is \(limit - 4) bytes, more than the limit of \(limit - 5) bytes"))
        #expect(Files.lines(dir.file("out.jsonl")) == [small[0], fits])
        #expect(Files.committedLines(dir.file("state")) == 2)

        // The same state goes on past the line once it is skipped.
        let skipped = try DedupCLI.run(
            Self.arguments(dir, ["--on-invalid", "skip", "--invalid", dir.file("bad.jsonl")]), in: dir.path,
            timeout: 120)
        #expect(skipped.status == 0, "\(skipped.stderr.prefix(2_000))")
        #expect(skipped.stderr.contains("in.jsonl:3: skipped an invalid record: the key is"))
        #expect(Files.lines(dir.file("bad.jsonl")) == [over])
        #expect(Files.lines(dir.file("out.jsonl")) == [small[0], fits, small[1]])
    }

    @Test(
        "--on-invalid skip: 1,000 bad lines of four kinds give 10 precise warnings and one count; --stats and --invalid have all"
    )
    func manyInvalidLines() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        var input: [String] = []
        var bad: [String] = []
        var good: [String] = []
        for i in 0..<1_000 {
            let ts = Self.t0 + Int64(i)
            let line: String
            switch i % 4 {
            case 0: line = "not json \(i)"
            case 1: line = #"{"k":{"other":\#(i)},"ts":\#(ts)}"#
            case 2: line = #"{"k":{"id":"o-\#(i)"},"ts":"yesterday"}"#
            default: line = #"{"k":{"id":"o-\#(i)"},"ts":\#(ts),"deep":\#(deep)}"#
            }
            bad.append(line)
            input.append(line)
            let ok = #"{"k":{"id":"o-\#(i % 50)"},"ts":\#(ts)}"#
            good.append(ok)
            input.append(ok)
        }
        Files.write(input, to: dir.file("in.jsonl"))
        let result = try DedupCLI.run(
            Self.arguments(dir, ["--on-invalid", "skip", "--invalid", dir.file("bad.jsonl"), "--stats"]),
            in: dir.path)
        #expect(result.status == 0, "\(result)")
        let lines = Self.stderrLines(result)
        #expect(lines.count <= 12, "\(result.stderr)")
        // The first warnings name the file, the line and what is wrong.
        let expected = [
            (1, "not a JSON object"), (3, "key field 'k.id': the field is missing"),
            (5, "time field 'ts': RFC 3339 timestamp"), (7, "nested too deep"),
        ]
        for (line, (number, reason)) in zip(lines, expected) {
            #expect(line.contains("\(dir.file("in.jsonl")):\(number): skipped an invalid record: \(reason)"), "\(line)")
        }
        #expect(lines.filter { $0.contains("skipped an invalid record") }.count == 10, "\(result.stderr)")
        #expect(!result.stderr.contains("has no key"), "\(result.stderr)")
        #expect(
            result.stderr.contains("990 more invalid lines were skipped")
                && result.stderr.contains("(1000 in all); all are in \(dir.file("bad.jsonl"))"),
            "\(result.stderr)")
        #expect(try Self.stats(result)["invalid"] as? Int == 1_000)
        // The --invalid file holds the raw lines, in input order, to be fixed and fed again.
        #expect(Files.lines(dir.file("bad.jsonl")) == bad)
        #expect(Files.lines(dir.file("out.jsonl")).count == (try Self.stats(result)["emitted"] as? Int))
    }

    @Test("--max-future: a record further ahead of the wall clock is invalid, naming file:line; skippable")
    func maxFuture() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let far = #"{"k":{"id":"a"},"ts":"9999-12-31T23:59:59Z"}"#
        let input = [
            #"{"k":{"id":"a"},"ts":\#(now)}"#, far, #"{"k":{"id":"a"},"ts":\#(now + 1)}"#,
            #"{"k":{"id":"b"},"ts":\#(now + 2)}"#,
        ]
        Files.write(input, to: dir.file("in.jsonl"))

        let failed = try DedupCLI.run(Self.arguments(dir, window: "1m", ["--max-future", "1d"]), in: dir.path)
        #expect(failed.status == 65, "\(failed)")
        #expect(failed.stderr.contains("in.jsonl:2: the event time 9999-12-31T23:59:59.000Z"), "\(failed)")
        #expect(failed.stderr.contains("more than the maximum of 1d"), "\(failed)")
        #expect(Files.lines(dir.file("out.jsonl")) == [input[0]])

        // --max-future is not part of the state's identity: the same state, now skipping.
        let skipped = try DedupCLI.run(
            Self.arguments(
                dir, window: "1m", ["--max-future", "2d", "--on-invalid", "skip", "--invalid", "bad.jsonl"]),
            in: dir.path)
        #expect(skipped.status == 0, "\(skipped)")
        #expect(skipped.stderr.contains("in.jsonl:2: skipped an invalid record: the event time"), "\(skipped)")
        #expect(Files.lines(dir.file("bad.jsonl")) == [far])
        // Deduplication still works after it: the second "a" is a duplicate.
        #expect(Files.lines(dir.file("out.jsonl")) == [input[0], input[3]])
    }

    @Test("without --max-future a far-future time keeps the contract, with one warning naming file:line")
    func farFutureWarning() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let input = [
            #"{"k":{"id":"a"},"ts":\#(now)}"#, #"{"k":{"id":"z"},"ts":"9999-12-31T23:59:59Z"}"#,
            #"{"k":{"id":"y"},"ts":"9999-12-31T23:59:59.5Z"}"#, #"{"k":{"id":"a"},"ts":\#(now + 1)}"#,
        ]
        Files.write(input, to: dir.file("in.jsonl"))
        let result = try DedupCLI.run(Self.arguments(dir, window: "1m"), in: dir.path)
        #expect(result.status == 0, "\(result)")
        // The contract: the second "a" is outside the window behind the stream time, so kept.
        #expect(Files.lines(dir.file("out.jsonl")) == input)
        let warnings = Self.stderrLines(result).filter { $0.contains("ahead of the wall clock") }
        #expect(warnings.count == 1, "\(result)")
        #expect(warnings.first?.contains("in.jsonl:2: the event time 9999-12-31T23:59:59.000Z") == true, "\(result)")
        #expect(warnings.first?.contains("maximum future time") == true, "\(result)")

        // A later run over the same state says so again at the start: the stream time is still there.
        Files.append([#"{"k":{"id":"a"},"ts":\#(now + 2)}"#], to: dir.file("in.jsonl"))
        let again = try DedupCLI.run(Self.arguments(dir, window: "1m"), in: dir.path)
        #expect(again.status == 0, "\(again)")
        #expect(again.stderr.contains("checkpoint.json: the stream time 9999-12-31T23:59:59.500Z"), "\(again)")
        #expect(Self.stderrLines(again).count == 1, "\(again)")
    }

    @Test("--max-future has no effect with processing time")
    func maxFutureProcessingTime() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let input = [#"{"k":{"id":"a"},"ts":"9999-12-31T23:59:59Z"}"#, #"{"k":{"id":"a"}}"#, #"{"k":{"id":"b"}}"#]
        Files.write(input, to: dir.file("in.jsonl"))
        let result = try DedupCLI.run(
            [
                "run", "--input", dir.file("in.jsonl"), "--output", dir.file("out.jsonl"), "--key", "k.id",
                "--window", "1h", "--state", dir.file("state"), "--quiet", "--max-future", "1ms",
            ], in: dir.path)
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
        #expect(Files.lines(dir.file("out.jsonl")) == [input[0], input[2]])
    }
}
