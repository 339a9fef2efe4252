import Foundation
import StreamsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Outputs that alias an input, each other or the state, and outputs changed between runs:
/// each is refused before anything on disk is touched, so no user file is ever cut.
@Suite("dedup run: outputs never destroy data")
struct OutputSafetyTests {
    static let input = ErrorTests.lines(50)

    /// A directory with `in.jsonl` (and a symbolic link `link.jsonl` to it).
    static func setUp() -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        Files.write(input, to: dir.file("in.jsonl"))
        symlink(dir.file("in.jsonl"), dir.file("link.jsonl"))
        return dir
    }

    static func run(_ dir: TemporaryDirectory, _ outputs: [String]) throws -> DedupResult {
        try DedupCLI.run(
            ["run", "--input", dir.file("in.jsonl"), "--key", "k.id", "--time-field", "ts", "--window", "1s"]
                + ["--state", dir.file("state"), "--quiet"] + outputs,
            in: dir.path
        )
    }

    @Test(
        "an output naming an input (by path, ./path or a symbolic link) is refused with 64; the input is intact",
        arguments: [
            ["--output", "in.jsonl"], ["--output", "./in.jsonl"], ["--output", "link.jsonl"],
            ["--output", "out.jsonl", "--duplicates", "in.jsonl"],
            ["--output", "out.jsonl", "--on-invalid", "skip", "--invalid", "./link.jsonl"],
        ])
    func outputIsInput(outputs: [String]) throws {
        let dir = Self.setUp()
        defer { dir.remove() }
        let result = try Self.run(dir, outputs)
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains("is the input"), "\(result)")
        #expect(Files.lines(dir.file("in.jsonl")) == Self.input, "the input was changed")
        #expect(!Files.exists(dir.file("state")), "a refused run created its state directory")
        #expect(result.stderr.split(separator: "\n").count == 1, "not one line: \(result)")
    }

    @Test(
        "two outputs on one file, two on standard output, or an output inside the state directory: 64",
        arguments: [
            (["--output", "o.jsonl", "--duplicates", "o.jsonl"], "are the same file"),
            (["--output", "o.jsonl", "--duplicates", "./o.jsonl"], "are the same file"),
            (["--output", "-", "--duplicates", "-"], "standard output"),
            (["--output", "state/job.json"], "inside the state directory"),
            (["--output", "state/out.jsonl"], "inside the state directory"),
        ])
    func aliasedOutputs(outputs: [String], message: String) throws {
        let dir = Self.setUp()
        defer { dir.remove() }
        let result = try Self.run(dir, outputs)
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains(message), "\(result)")
        #expect(!Files.exists(dir.file("state")), "a refused run created its state directory")
    }

    @Test("the same input twice (another spelling, a link) is refused with 64")
    func inputTwice() throws {
        let dir = Self.setUp()
        defer { dir.remove() }
        for second in ["./in.jsonl", "link.jsonl"] {
            let result = try DedupCLI.run(
                ["run", "--input", "in.jsonl", "--input", second, "--key", "k.id", "--window", "1s"]
                    + ["--output", "out.jsonl", "--state", "state", "--quiet"],
                in: dir.path)
            #expect(result.status == 64, "\(result)")
            #expect(result.stderr.contains("are the same file"), "\(result)")
            #expect(!Files.exists(dir.file("state")))
        }
    }

    @Test("a second run writing the same output (another --state) is refused with 74 naming the holder's pid")
    func outputLocked() throws {
        let dir = Self.setUp()
        defer { dir.remove() }
        Files.write([String](), to: dir.file("other.jsonl"))
        // A following run keeps its output open (and locked) until it is stopped.
        let first = try DedupCLI.launch(
            ["run", "--input", dir.file("in.jsonl"), "--key", "k.id", "--window", "1h", "--follow", "--quiet"]
                + ["--output", dir.file("out.jsonl"), "--state", dir.file("state-1")],
            in: dir.path
        )
        defer { if first.process.isRunning { kill(first.process.processIdentifier, SIGKILL) } }
        #expect(FollowTests.waitUntil { Files.checkpoint(dir.file("state-1")) != nil }, "\(Files.text(first.stderr))")
        let before = Files.read(dir.file("out.jsonl"))
        let second = try DedupCLI.run(
            ["run", "--input", dir.file("other.jsonl"), "--key", "k.id", "--window", "1h", "--quiet"]
                + ["--output", dir.file("./out.jsonl"), "--state", dir.file("state-2")],
            in: dir.path
        )
        #expect(second.status == 74, "\(second)")
        #expect(second.stderr.contains("pid \(first.process.processIdentifier)"), "\(second)")
        #expect(Files.read(dir.file("out.jsonl")) == before, "the second run changed the first one's output")
        kill(first.process.processIdentifier, SIGTERM)
        DedupCLI.wait(first.process)
        #expect(first.process.terminationStatus == 0, "\(Files.text(first.stderr))")
        // The refused run left no settings behind: it can run with another output.
        let retry = try DedupCLI.run(
            ["run", "--input", dir.file("other.jsonl"), "--key", "k.id", "--window", "1h", "--quiet"]
                + ["--output", dir.file("out-2.jsonl"), "--state", dir.file("state-2")],
            in: dir.path
        )
        #expect(retry.status == 0, "\(retry)")
    }

    @Test("each output belongs to the state: another file is refused; left out and named again, it resumes")
    func outputChanged() throws {
        let dir = Self.setUp()
        defer { dir.remove() }
        let all = ErrorTests.lines(300)
        Files.write(Array(all[..<100]), to: dir.file("in.jsonl"))
        #expect(try Self.run(dir, ["--output", "a.jsonl", "--duplicates", "d.jsonl"]).status == 0)
        let firstA = Files.lines(dir.file("a.jsonl"))
        let firstD = Files.lines(dir.file("d.jsonl"))
        #expect(!firstA.isEmpty && !firstD.isEmpty)

        Files.append(Array(all[100..<200]), to: dir.file("in.jsonl"))
        for (outputs, named) in [
            (["--output", "b.jsonl", "--duplicates", "d.jsonl"], "--output a.jsonl"),
            (["--output", "a.jsonl", "--duplicates", "e.jsonl"], "--duplicates d.jsonl"),
        ] {
            let changed = try Self.run(dir, outputs)
            #expect(changed.status == 64, "\(changed)")
            #expect(changed.stderr.contains(named), "the message names the state's output: \(changed)")
        }
        #expect(!Files.exists(dir.file("b.jsonl")) && !Files.exists(dir.file("e.jsonl")))
        #expect(Files.lines(dir.file("a.jsonl")) == firstA, "a refused run changed a.jsonl")
        #expect(Files.lines(dir.file("d.jsonl")) == firstD, "a refused run changed d.jsonl")

        // --duplicates left out: the run writes no duplicates, and d.jsonl keeps its lines.
        #expect(try Self.run(dir, ["--output", "./a.jsonl"]).status == 0)
        #expect(Files.lines(dir.file("d.jsonl")) == firstD)
        // Named again (the same file, spelled otherwise), it resumes after its committed lines.
        Files.append(Array(all[200...]), to: dir.file("in.jsonl"))
        #expect(try Self.run(dir, ["--output", "a.jsonl", "--duplicates", "./d.jsonl"]).status == 0)

        let model = DedupModel.run(
            inputs: [all], keyFields: ["k.id"], timeField: "ts", windowMs: 1_000, graceMs: 0)
        let unwritten = Set(all[100..<200])
        let finalA = Files.lines(dir.file("a.jsonl"))
        let finalD = Files.lines(dir.file("d.jsonl"))
        #expect(finalA == model.kept, "a.jsonl holds \(finalA.count) lines, the first \(finalA.first ?? "")")
        #expect(finalD == model.dropped.filter { !unwritten.contains($0) }, "d.jsonl holds \(finalD.count) lines")
    }
}
