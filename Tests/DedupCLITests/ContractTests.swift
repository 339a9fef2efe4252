import Foundation
import Testing
import StreamsTestSupport

@Suite("dedup run: the Deduplicator contract")
struct ContractTests {
    static func randomWorkload(seed: UInt64, lines: Int) -> Workload {
        var rng = SplitMix64(seed: seed &* 7919)
        let windowMs = Int64.random(in: 5...300, using: &rng)
        let graceMs = Bool.random(using: &rng) ? 0 : Int64.random(in: 1...windowMs, using: &rng)
        let producers = Int.random(in: 2...3, using: &rng)
        var generator = Workload.Generator(seed: seed, windowMs: windowMs)
        let inputs = generator.lines(count: lines, producers: producers, start: 1_767_225_600_000)
        return Workload(inputs: inputs, windowMs: windowMs, graceMs: graceMs)
    }

    @Test("output and duplicates equal the model on random inputs", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func model(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let workload = Self.randomWorkload(seed: seed, lines: 1_500)
        let paths = workload.write(to: dir.path)
        let result = try DedupCLI.run(
            workload.arguments(
                inputs: paths, output: dir.file("out.jsonl"), duplicates: dir.file("dup.jsonl"),
                state: dir.file("state")),
            in: dir.path
        )
        #expect(result.status == 0, "\(result)")
        let expected = workload.expected()
        // The workload must exercise the contract: duplicates and keeps both present.
        #expect(expected.dropped.count > 50 && expected.kept.count > 500, "seed \(seed): a degenerate workload")
        let kept = Files.lines(dir.file("out.jsonl"))
        let dropped = Files.lines(dir.file("dup.jsonl"))
        #expect(kept.count == expected.kept.count, "seed \(seed), W \(workload.windowMs) ms, G \(workload.graceMs) ms")
        #expect(dropped.count == expected.dropped.count)
        if let i = zip(kept, expected.kept).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record("seed \(seed): output line \(i + 1) is \(kept[i]) but the model keeps \(expected.kept[i])")
        }
        if let i = zip(dropped, expected.dropped).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record("seed \(seed): duplicate \(i + 1) is \(dropped[i]) but the model drops \(expected.dropped[i])")
        }
        // Byte-for-byte: each kept line plus "\n".
        #expect(Files.read(dir.file("out.jsonl")) == Array(expected.kept.map { $0 + "\n" }.joined().utf8))
    }

    /// A run over the first part of each input, then over the same files with the rest appended,
    /// equals one run over the final files. The appended records are newer than every record of
    /// the first parts: a run that reached the end of its inputs has processed what it saw, so
    /// records appended later with older times could not have been merged before them, whereas a
    /// single run over the final files would merge them first.
    @Test(
        "a rerun after appending to the inputs equals one run over the final files",
        arguments: [11, 12, 13] as [UInt64])
    func restart(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var generator = Workload.Generator(seed: seed, windowMs: 120)
        let start: Int64 = 1_767_225_600_000
        let first = generator.lines(count: 800, producers: 3, start: start)
        let firstEnd = first.joined().map { DedupModel.time(of: $0, field: "ts") }.max()!
        let second = generator.continuation(count: 800, producers: 3, after: firstEnd)
        let whole = Workload(inputs: zip(first, second).map { $0 + $1 }, windowMs: 120, graceMs: 40)

        // Once over the final files, in a fresh state directory.
        let once = TemporaryDirectory()
        defer { once.remove() }
        let finalPaths = whole.write(to: once.path)
        let reference = try DedupCLI.run(
            whole.arguments(
                inputs: finalPaths, output: once.file("out.jsonl"), duplicates: once.file("dup.jsonl"),
                state: once.file("state")),
            in: once.path
        )
        #expect(reference.status == 0, "\(reference)")

        // In two runs, appending in between.
        let paths = Workload(inputs: first, windowMs: 120, graceMs: 40).write(to: dir.path)
        let arguments = whole.arguments(
            inputs: paths, output: dir.file("out.jsonl"), duplicates: dir.file("dup.jsonl"), state: dir.file("state"))
        let run1 = try DedupCLI.run(arguments, in: dir.path)
        #expect(run1.status == 0, "\(run1)")
        let afterFirst = Files.read(dir.file("out.jsonl")).count
        for (path, lines) in zip(paths, second) { Files.append(lines, to: path) }
        let run2 = try DedupCLI.run(arguments, in: dir.path)
        #expect(run2.status == 0, "\(run2)")

        #expect(afterFirst > 0 && Files.read(dir.file("out.jsonl")).count > afterFirst)
        #expect(Files.read(dir.file("out.jsonl")) == Files.read(once.file("out.jsonl")))
        #expect(Files.read(dir.file("dup.jsonl")) == Files.read(once.file("dup.jsonl")))
        let expected = whole.expected()
        #expect(Files.lines(once.file("out.jsonl")) == expected.kept)
        #expect(Files.lines(once.file("dup.jsonl")) == expected.dropped)
        // The state of the first run must matter: without it, the second part dedups differently.
        let secondLines = Set(second.joined())
        let alone = DedupModel.run(
            inputs: second, keyFields: whole.keyFields, timeField: "ts", windowMs: 120, graceMs: 40)
        #expect(expected.dropped.filter(secondLines.contains) != alone.dropped, "the split carries no state")
    }
}
