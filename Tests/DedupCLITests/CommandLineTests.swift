import Foundation
import StreamsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What README.md says of the command line: durations, usage, one-line errors, signals, and
/// that a refused run changes nothing on disk.
@Suite("dedup run: the command line as documented")
struct CommandLineTests {
    @Test("--grace 0, 0s and 0ms are accepted (the default is 0)", arguments: ["0", "0s", "0ms"])
    func zeroGrace(grace: String) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let lines = ErrorTests.lines(100)
        Files.write(lines, to: dir.file("in.jsonl"))
        let result = try DedupCLI.run(ErrorTests.arguments(dir, ["--grace", grace]), in: dir.path)
        #expect(result.status == 0, "\(result)")
        #expect(Files.lines(dir.file("out.jsonl")) == ErrorTests.expected(lines))
    }

    @Test(
        "a bad --window gets one line saying why",
        arguments: [
            ("0", "must be more than zero"), ("0s", "must be more than zero"), ("-1h", "cannot be negative"),
            ("1h1h", "appears twice"), ("30m1h", "largest first"), ("10", "needs a unit"), ("1.5s", "fractions"),
            ("5sec", "unknown unit"),
        ])
    func badWindow(window: String, reason: String) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        Files.write(ErrorTests.lines(10), to: dir.file("in.jsonl"))
        var arguments = ErrorTests.arguments(dir)
        arguments[arguments.firstIndex(of: "100ms")!] = window
        // `--window=-1h`: a value starting with - must be attached to its option.
        if let i = arguments.firstIndex(of: "--window") {
            arguments[i] = "--window=" + arguments[i + 1]
            arguments.remove(at: i + 1)
        }
        let result = try DedupCLI.run(arguments, in: dir.path)
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains("--window \(window): "), "\(result)")
        #expect(result.stderr.contains(reason), "\(result)")
        #expect(result.stderr.split(separator: "\n").count == 1, "not one line: \(result)")
        #expect(!Files.exists(dir.file("state")))
    }

    @Test(
        "dedup kafka refuses the settings dedup run refuses, before it connects or creates its --state",
        arguments: [
            (["--window", "1000000d"], "more than 100 years"), (["--key", "a..b"], "bad field path 'a..b'"),
            (["--time-field", "ts."], "bad field path 'ts.'"),
            (["-X", "message.max.bytes=1000"], "-X message.max.bytes=1000: give a number of bytes of at least 4096"),
        ])
    func kafkaSettings(_ change: [String], reason: String) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var arguments = [
            "kafka", "--bootstrap-servers", "127.0.0.1:1", "--application-id", "a", "--input-topic", "in",
            "--output-topic", "out", "--key", "k", "--window", "1h", "--state", dir.file("state"),
        ]
        if let i = arguments.firstIndex(of: change[0]) { arguments[i + 1] = change[1] } else { arguments += change }
        // An unreachable cluster: a check made only after connecting would take its 30 s timeout.
        let result = try DedupCLI.run(arguments, in: dir.path, timeout: 20)
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains(reason), "\(result)")
        #expect(!Files.exists(dir.file("state")))
    }

    @Test("a refused configuration changes nothing on disk: a sane rerun on the same --state works")
    func refusedLeavesNothing() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let lines = ErrorTests.lines(100)
        Files.write(lines, to: dir.file("in.jsonl"))
        let huge = ErrorTests.arguments(dir).map { $0 == "100ms" ? "106751991167d" : $0 } + ["--grace", "1d"]
        let refused = try DedupCLI.run(huge, in: dir.path)
        #expect(refused.status == 64, "\(refused)")
        #expect(refused.stderr.contains("100 years"), "\(refused)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "not one line: \(refused)")
        #expect(!Files.exists(dir.file("state")), "the refused run created the state directory")
        #expect(!Files.exists(dir.file("out.jsonl")), "the refused run created the output")

        let missingInput = try DedupCLI.run(
            ErrorTests.arguments(dir, inputs: ["in.jsonl", "nope.jsonl"]), in: dir.path)
        #expect(missingInput.status == 74, "\(missingInput)")
        #expect(missingInput.stderr.contains("nope.jsonl"), "\(missingInput)")
        #expect(!Files.exists(dir.file("state")), "a run refused for a missing input created the state directory")

        let sane = try DedupCLI.run(ErrorTests.arguments(dir), in: dir.path)
        #expect(sane.status == 0, "\(sane)")
        // And on an existing state, a refused run leaves its settings alone.
        let jobBefore = Files.read(dir.file("state/job.json"))
        #expect(try DedupCLI.run(huge, in: dir.path).status == 64)
        #expect(Files.read(dir.file("state/job.json")) == jobBefore)
        #expect(try DedupCLI.run(ErrorTests.arguments(dir), in: dir.path).status == 0)
    }

    @Test("the usage line lists the required --input and --key; --version prints the release")
    func usage() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let help = try DedupCLI.run(["run", "--help"], in: dir.path)
        #expect(help.status == 0)
        let usage = help.stdout.split(separator: "\n").first { $0.hasPrefix("USAGE:") } ?? ""
        #expect(usage.contains("--input <input> ..."), "\(usage)")
        #expect(usage.contains("--key <key> ..."), "\(usage)")
        let missing = try DedupCLI.run(["run", "--output", "o", "--window", "1h", "--state", "s"], in: dir.path)
        #expect(missing.status == 64)
        #expect(missing.stderr.split(separator: "\n").count == 1, "\(missing)")
        let version = try DedupCLI.run(["--version"], in: dir.path)
        #expect(version.status == 0)
        #expect(version.stdout.split(separator: ".").count == 3, "\(version)")
    }

    @Test("errors are one line on standard error, without a log line beside it")
    func oneLineErrors() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        Files.write(ErrorTests.lines(100) + ["not json"], to: dir.file("in.jsonl"))
        let invalid = try DedupCLI.run(ErrorTests.arguments(dir), in: dir.path)
        #expect(invalid.status == 65, "\(invalid)")
        #expect(invalid.stderr.split(separator: "\n").count == 1, "\(invalid)")
        let directoryInput = try DedupCLI.run(
            ErrorTests.arguments(dir, inputs: ["in.jsonl", "."]) + ["--state", dir.file("state-2")], in: dir.path)
        #expect(directoryInput.status == 74, "\(directoryInput)")
        #expect(directoryInput.stderr.split(separator: "\n").count == 1, "\(directoryInput)")
    }

    @Test(
        "SIGTERM stops a run without --follow at once: it commits what it processed, exits 0, and a rerun completes it")
    func sigtermStopsEarly() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let generated = try DedupCLI.run(
            ["generate", "--output-dir", dir.file("in"), "--records", "150000", "--producers", "2"], in: dir.path)
        #expect(generated.status == 0, "\(generated)")
        let inputs = ["--input", dir.file("in/producer-1.jsonl"), "--input", dir.file("in/producer-2.jsonl")]
        let common = inputs + ["--key", "order.id", "--time-field", "ts", "--window", "10m", "--quiet"]
        let total =
            Files.lines(dir.file("in/producer-1.jsonl")).count + Files.lines(dir.file("in/producer-2.jsonl")).count

        let reference = try DedupCLI.run(
            ["run"] + common + ["--output", dir.file("ref.jsonl"), "--state", dir.file("ref-state")], in: dir.path,
            timeout: 120)
        #expect(reference.status == 0, "\(reference)")

        let stopped = ["run"] + common + ["--output", dir.file("out.jsonl"), "--state", dir.file("state")]
        let (process, _, stderr) = try DedupCLI.launch(stopped, in: dir.path)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        #expect(FollowTests.waitUntil { (Files.committedLines(dir.file("state")) ?? 0) > 0 }, "\(Files.text(stderr))")
        kill(process.processIdentifier, SIGTERM)
        let signalled = Date()
        DedupCLI.wait(process, timeout: 30)
        let stopSeconds = Date().timeIntervalSince(signalled)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(Files.text(stderr))")
        let committed = Files.committedLines(dir.file("state")) ?? 0
        #expect(committed < total, "the run read every line after SIGTERM (\(stopSeconds) s)")
        #expect(
            Files.committedLength(dir.file("state"), of: dir.file("out.jsonl"))
                == Int(Files.size(dir.file("out.jsonl"))))

        let rest = try DedupCLI.run(stopped, in: dir.path, timeout: 120)
        #expect(rest.status == 0, "\(rest)")
        #expect(Files.read(dir.file("out.jsonl")) == Files.read(dir.file("ref.jsonl")))
    }
}
