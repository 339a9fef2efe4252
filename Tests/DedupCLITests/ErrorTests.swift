import Foundation
import Testing
import StreamsTestSupport

#if canImport(Glibc)
    import Glibc
#endif

@Suite("dedup run: invalid data, I/O errors, usage")
struct ErrorTests {
    static func lines(_ count: Int, from serial: Int = 0) -> [String] {
        (serial..<(serial + count)).map { i in
            #"{"k":{"id":"o-\#(i % 37)"},"ts":\#(1_767_225_600_000 + Int64(i) * 10),"n":\#(i)}"#
        }
    }

    static func arguments(_ dir: TemporaryDirectory, inputs: [String] = ["in.jsonl"], _ extra: [String] = [])
        -> [String]
    {
        ["run"] + inputs.flatMap { ["--input", dir.file($0)] } + [
            "--output", dir.file("out.jsonl"), "--key", "k.id", "--time-field", "ts", "--window", "100ms",
            "--state", dir.file("state"), "--quiet",
        ] + extra
    }

    static func expected(_ lines: [String]) -> [String] {
        DedupModel.run(inputs: [lines], keyFields: ["k.id"], timeField: "ts", windowMs: 100, graceMs: 0).kept
    }

    @Test(
        "a malformed line stops the run with exit 65 naming file:line; everything before it is committed",
        arguments: [
            #"{"k":{"id":"o-1"},"ts":17672256"#,  // not JSON (cut short)
            #"{"k":{"other":1},"ts":1767225600000}"#,  // no key
            #"{"k":{"id":"o-1"},"ts":"yesterday"}"#,  // bad time
            #"not json at all"#,
        ]
    )
    func malformedFails(bad: String) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let good = Self.lines(300)
        Files.write(Array(good[..<200]) + [bad] + Array(good[200...]), to: dir.file("in.jsonl"))
        let result = try DedupCLI.run(Self.arguments(dir), in: dir.path)
        #expect(result.status == 65, "\(result)")
        #expect(result.stderr.contains("in.jsonl:201"), "\(result)")
        #expect(Files.lines(dir.file("out.jsonl")) == Self.expected(Array(good[..<200])))
        #expect(Files.committedLines(dir.file("state")) == 200)
    }

    @Test("--on-invalid skip --invalid FILE: exit 0, bad lines in FILE, the others deduplicated")
    func malformedSkipped() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let good = Self.lines(300)
        let bad = [
            #"{"k":{"id":"o-1"},"ts":17672256"#, #"{"k":{"other":1},"ts":1767225600000}"#, #"{"k":{"id":[1]},"ts":1}"#,
            "[]",
        ]
        var input = good
        for (i, line) in bad.enumerated() { input.insert(line, at: 50 + i * 60) }
        Files.write(input, to: dir.file("in.jsonl"))
        let result = try DedupCLI.run(
            Self.arguments(dir, ["--on-invalid", "skip", "--invalid", dir.file("bad.jsonl")]),
            in: dir.path
        )
        #expect(result.status == 0, "\(result)")
        #expect(Files.lines(dir.file("bad.jsonl")) == bad)
        #expect(Files.lines(dir.file("out.jsonl")) == Self.expected(good))
    }

    @Test("keys of 1 MiB and unicode keys")
    func bigAndUnicodeKeys() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let big = String(repeating: "x", count: 1 << 20)
        let t: Int64 = 1_767_225_600_000
        let input = [
            #"{"k":{"id":"\#(big)"},"ts":\#(t),"n":1}"#,
            #"{"k":{"id":"\#(big)"},"ts":\#(t + 1),"n":2}"#,  // duplicate
            #"{"k":{"id":"\#(big.dropLast())y"},"ts":\#(t + 2),"n":3}"#,  // differs in the last byte
            #"{"k":{"id":"日本語"},"ts":\#(t + 3),"n":4}"#,
            #"{"k":{"id":"\u65e5\u672c\u8a9e"},"ts":\#(t + 4),"n":5}"#,  // the same, escaped
            #"{"k":{"id":"é"},"ts":\#(t + 5),"n":6}"#,  // precomposed
            #"{"k":{"id":"e\#u{301}"},"ts":\#(t + 6),"n":7}"#,  // decomposed: another key
            #"{"k":{"id":"\ud83d\ude00"},"ts":\#(t + 7),"n":8}"#,
            #"{"k":{"id":"😀"},"ts":\#(t + 8),"n":9}"#,  // the same
            #"{"k":{"id":"\#(big)"},"ts":\#(t + 200),"n":10}"#,  // after the window: kept
        ]
        Files.write(input, to: dir.file("in.jsonl"))
        let result = try DedupCLI.run(Self.arguments(dir, ["--duplicates", dir.file("dup.jsonl")]), in: dir.path)
        #expect(result.status == 0, "\(result)")
        #expect(Files.lines(dir.file("out.jsonl")).count == 7)
        #expect(Files.lines(dir.file("out.jsonl")) == Self.expected(input))
        #expect(Files.lines(dir.file("dup.jsonl")) == [input[1], input[4], input[8]])
    }

    @Test("an output path under a regular file: exit 74 naming the path")
    func outputUnwritable() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        Files.write(Self.lines(10), to: dir.file("in.jsonl"))
        Files.write([UInt8](), to: dir.file("plain-file"))
        let output = dir.file("plain-file/out.jsonl")
        var arguments = Self.arguments(dir)
        arguments[arguments.firstIndex(of: "--output")! + 1] = output
        let result = try DedupCLI.run(arguments, in: dir.path)
        #expect(result.status == 74, "\(result)")
        #expect(result.stderr.contains(output), "\(result)")

        // A missing input is an I/O error too, and names the file.
        let missing = try DedupCLI.run(Self.arguments(dir, inputs: ["nope.jsonl"]), in: dir.path)
        #expect(missing.status == 74, "\(missing)")
        #expect(missing.stderr.contains("nope.jsonl"), "\(missing)")
    }

    static let canMount: Bool = {
        let probe = TemporaryDirectory("probe")
        defer { probe.remove() }
        guard runTool("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe.path]) == 0 else { return false }
        runTool("/bin/umount", [probe.path])
        return true
    }()

    @Test(
        "a full disk: exit 74 saying so; after freeing space the same command completes, nothing lost",
        .enabled(if: ErrorTests.canMount, "mounting a tmpfs is not permitted here")
    )
    func diskFull() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let disk = dir.file("disk")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        #expect(runTool("/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", disk]) == 0)
        defer { runTool("/bin/umount", [disk]) }
        // Take most of the space first, so that the output fills the rest.
        Files.write([UInt8](repeating: 0x41, count: 200 << 10), to: disk + "/filler")

        let input = Self.lines(3_000).enumerated().map { i, line in
            i % 3 == 0 ? line.replacingOccurrences(of: "o-", with: "p-\(i)-") : line
        }
        Files.write(input, to: dir.file("in.jsonl"))
        let expected = Self.expected(input)
        #expect(expected.joined(separator: "\n").utf8.count > 100 << 10, "the output would fit")
        var arguments = Self.arguments(dir, ["--commit-interval", "5ms"])
        arguments[arguments.firstIndex(of: "--output")! + 1] = disk + "/out.jsonl"

        let full = try DedupCLI.run(arguments, in: dir.path)
        #expect(full.status == 74, "\(full)")
        #expect(full.stderr.contains("No space left") || full.stderr.contains("disk"), "\(full)")
        #expect(full.stderr.contains(disk + "/out.jsonl"), "\(full)")
        let committedOutput =
            (Files.checkpoint(dir.file("state"))?["outputs"] as? [[String: Any]])?.first?["committedLength"] as? Int
            ?? 0
        let committedPrefix = Array(Files.read(disk + "/out.jsonl").prefix(committedOutput))

        try FileManager.default.removeItem(atPath: disk + "/filler")
        let again = try DedupCLI.run(arguments, in: dir.path)
        #expect(again.status == 0, "\(again)")
        let output = Files.read(disk + "/out.jsonl")
        #expect(Array(output.prefix(committedOutput)) == committedPrefix, "committed output changed")
        #expect(Files.lines(disk + "/out.jsonl") == expected)
    }

    @Test(
        "usage errors exit 64",
        arguments: [
            (["--key"], "key"),  // missing --key
            (["--window"], "window"),  // bad duration
        ] as [([String], String)])
    func usage(drop: [String], what: String) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        Files.write(Self.lines(10), to: dir.file("in.jsonl"))
        var arguments = Self.arguments(dir)
        let i = arguments.firstIndex(of: drop[0])!
        if what == "key" {
            arguments.removeSubrange(i...(i + 1))
        } else {
            arguments[i + 1] = "10x"
        }
        let result = try DedupCLI.run(arguments, in: dir.path)
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains(what), "\(result)")
        #expect(!Files.exists(dir.file("out.jsonl")))
    }

    @Test(
        "bad durations exit 64, good ones run",
        arguments: [
            ("0s", 64), ("10", 64), ("ms", 64), ("1h-5m", 64), ("1.5s", 64), ("99999999999999999999d", 64), ("", 64),
            ("250ms", 0), ("1h30m", 0), ("7d", 0), ("1d12h", 0),
        ] as [(String, Int32)])
    func durations(text: String, status: Int32) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        Files.write(Self.lines(10), to: dir.file("in.jsonl"))
        var arguments = Self.arguments(dir)
        arguments[arguments.firstIndex(of: "--window")! + 1] = text
        let result = try DedupCLI.run(arguments, in: dir.path)
        #expect(result.status == status, "--window \(text): \(result)")
    }

    @Test("reusing a state directory with another --key exits 64 and says why")
    func otherKey() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        Files.write(Self.lines(50), to: dir.file("in.jsonl"))
        let first = try DedupCLI.run(Self.arguments(dir), in: dir.path)
        #expect(first.status == 0, "\(first)")
        let before = Files.read(dir.file("out.jsonl"))
        var arguments = Self.arguments(dir)
        arguments[arguments.firstIndex(of: "k.id")!] = "n"
        let second = try DedupCLI.run(arguments, in: dir.path)
        #expect(second.status == 64, "\(second)")
        #expect(second.stderr.contains("--key k.id"), "\(second)")
        #expect(second.stderr.contains(dir.file("state")), "\(second)")
        #expect(Files.read(dir.file("out.jsonl")) == before, "the output was touched")

        // Another window is refused the same way; --invalid without skip is a usage error.
        var window = Self.arguments(dir)
        window[window.firstIndex(of: "100ms")!] = "1s"
        #expect(try DedupCLI.run(window, in: dir.path).status == 64)
        #expect(try DedupCLI.run(Self.arguments(dir, ["--invalid", dir.file("bad.jsonl")]), in: dir.path).status == 64)
    }
}
