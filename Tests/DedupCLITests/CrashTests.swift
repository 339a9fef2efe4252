import Foundation
import Testing
import StreamsTestSupport

#if canImport(Glibc)
    import Glibc
#endif

@Suite("dedup run killed with SIGKILL")
struct CrashTests {
    struct Setup {
        let dir: TemporaryDirectory
        let workload: Workload
        let paths: [String]
        let referenceOutput: [UInt8]
        let referenceDuplicates: [UInt8]
        var totalLines: Int { workload.inputs.reduce(0) { $0 + $1.count } }

        func arguments(_ extra: [String]) -> [String] {
            workload.arguments(
                inputs: paths, output: dir.file("out.jsonl"), duplicates: dir.file("dup.jsonl"),
                state: dir.file("state"))
                + extra
        }
    }

    /// 30,000 records in three files and the output of one uninterrupted run over them.
    static func setUp(seed: UInt64) throws -> Setup {
        let dir = TemporaryDirectory()
        var generator = Workload.Generator(seed: seed, windowMs: 200)
        let workload = Workload(
            inputs: generator.lines(count: 30_000, producers: 3, start: 1_767_225_600_000),
            windowMs: 200,
            graceMs: 50
        )
        let paths = workload.write(to: dir.path)
        let reference = try DedupCLI.run(
            workload.arguments(
                inputs: paths, output: dir.file("ref-out.jsonl"), duplicates: dir.file("ref-dup.jsonl"),
                state: dir.file("ref-state")),
            in: dir.path
        )
        #expect(reference.status == 0, "\(reference)")
        return Setup(
            dir: dir,
            workload: workload,
            paths: paths,
            referenceOutput: Files.read(dir.file("ref-out.jsonl")),
            referenceDuplicates: Files.read(dir.file("ref-dup.jsonl"))
        )
    }

    /// Starts the run and SIGKILLs it, five times, then lets it finish. Even rounds kill blindly
    /// 20–200 ms after the start (opening, recovery, the first batch: a run commits only between
    /// read batches of up to 1 MiB per input, so the first commit takes a while); odd rounds wait
    /// for the run's first new commit, then kill 0–30 ms later, in the middle of the next batch.
    /// Returns how many kills hit a run between two of its commits.
    static func killRepeatedly(_ setup: Setup, extra: [String], seed: UInt64) throws -> Int {
        var rng = SplitMix64(seed: seed)
        var midRun = 0
        var lastCommitted = 0
        let state = setup.dir.file("state")
        for round in 0..<5 {
            let generationBefore = Files.checkpoint(state)?["generation"] as? Int ?? 0
            let (process, stdout, stderr) = try DedupCLI.launch(setup.arguments(extra), in: setup.dir.path)
            if round % 2 == 0 {
                usleep(UInt32.random(in: 20_000...200_000, using: &rng))
            } else {
                let deadline = Date().addingTimeInterval(10)
                while process.isRunning && Date() < deadline
                    && (Files.checkpoint(state)?["generation"] as? Int ?? 0) == generationBefore
                {
                    usleep(1_000)
                }
                usleep(UInt32.random(in: 0...30_000, using: &rng))
            }
            let killed = process.isRunning
            if killed { kill(process.processIdentifier, SIGKILL) }
            DedupCLI.wait(process)
            if !killed {
                #expect(process.terminationStatus == 0, "round \(round): \(Files.text(stderr))")
            } else {
                #expect(process.terminationReason == .uncaughtSignal)
            }
            try? FileManager.default.removeItem(atPath: stdout)
            try? FileManager.default.removeItem(atPath: stderr)
            let committed = Files.committedLines(state) ?? 0
            #expect(
                committed >= lastCommitted,
                "round \(round): the checkpoint went back from \(lastCommitted) to \(committed) lines")
            if killed && committed > lastCommitted && committed < setup.totalLines { midRun += 1 }
            lastCommitted = committed
            // Under both guarantees a commit makes the outputs durable before its checkpoint, and
            // records how much of them it covers: the first line of the input is always kept, so
            // a checkpoint past it covers output, and the file holds at least that much.
            if committed > 0 {
                let output = setup.dir.file("out.jsonl")
                let length = Files.committedLength(state, of: output) ?? 0
                #expect(length > 0, "round \(round): a checkpoint of \(committed) lines covers no output")
                #expect(Files.read(output).count >= length, "round \(round): the output is shorter than committed")
            }
        }
        let final = try DedupCLI.run(setup.arguments(extra), in: setup.dir.path)
        #expect(final.status == 0, "\(final)")
        #expect(Files.committedLines(setup.dir.file("state")) == setup.totalLines)
        return midRun
    }

    @Test("exactly-once: after SIGKILLs and a final run, the outputs equal one uninterrupted run, byte for byte")
    func exactlyOnce() throws {
        let seed = UInt64(Date().timeIntervalSince1970)
        let setup = try Self.setUp(seed: seed)
        defer { setup.dir.remove() }
        let midRun = try Self.killRepeatedly(setup, extra: ["--commit-interval", "10ms"], seed: seed)
        #expect(midRun >= 1, "seed \(seed): no kill hit a run between two commits; make the input bigger")
        let output = Files.read(setup.dir.file("out.jsonl"))
        let duplicates = Files.read(setup.dir.file("dup.jsonl"))
        #expect(output.count == setup.referenceOutput.count, "seed \(seed)")
        #expect(output == setup.referenceOutput, "seed \(seed)")
        #expect(duplicates == setup.referenceDuplicates, "seed \(seed)")
        // And the reference is the contract.
        let expected = setup.workload.expected()
        #expect(Files.lines(setup.dir.file("ref-out.jsonl")) == expected.kept)
        #expect(Files.lines(setup.dir.file("ref-dup.jsonl")) == expected.dropped)
    }

    @Test("at-least-once: after SIGKILLs and a final run, no output line is lost; repeats are allowed")
    func atLeastOnce() throws {
        let seed = UInt64(Date().timeIntervalSince1970) &+ 1
        let setup = try Self.setUp(seed: seed)
        defer { setup.dir.remove() }
        let midRun = try Self.killRepeatedly(
            setup,
            extra: ["--guarantee", "at-least-once", "--commit-interval", "10ms"],
            seed: seed
        )
        #expect(midRun >= 1, "seed \(seed): no kill hit a run between two commits; make the input bigger")
        let expected = Files.lines(setup.dir.file("ref-out.jsonl"))
        let output = Files.lines(setup.dir.file("out.jsonl"))
        let seen = Set(output)
        let missing = expected.filter { !seen.contains($0) }
        #expect(missing.isEmpty, "seed \(seed): \(missing.count) lines lost, e.g. \(missing.prefix(3))")
        #expect(output.count >= expected.count)
        // Nothing but expected lines (a repeat is a whole line again, never a torn one).
        let known = Set(expected)
        let unexpected = output.filter { !known.contains($0) }
        #expect(unexpected.isEmpty, "seed \(seed): \(unexpected.count) unexpected lines, e.g. \(unexpected.prefix(2))")
        let duplicates = Set(Files.lines(setup.dir.file("dup.jsonl")))
        #expect(Files.lines(setup.dir.file("ref-dup.jsonl")).allSatisfy(duplicates.contains))
    }
}
