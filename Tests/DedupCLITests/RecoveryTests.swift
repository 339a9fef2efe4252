import Foundation
import Testing
import StreamsTestSupport

@Suite("dedup run: the store rebuilt from the changelog")
struct RecoveryTests {
    /// Two parts per input; every record of the second is newer than all of the first, and the
    /// second repeats keys of the first, so the state carried across the split decides duplicates.
    struct Split {
        let first: [[String]]
        let second: [[String]]
        let windowMs: Int64 = 150
        let graceMs: Int64 = 50

        init(seed: UInt64, lines: Int = 1_000, uniqueRate: Int = 30) {
            var generator = Workload.Generator(seed: seed, windowMs: windowMs)
            first = generator.lines(count: lines, producers: 2, start: 1_767_225_600_000, uniqueRate: uniqueRate)
            let end = first.joined().map { DedupModel.time(of: $0, field: "ts") }.max()!
            second = generator.continuation(count: lines, producers: 2, after: end, uniqueRate: uniqueRate)
        }

        var whole: Workload {
            Workload(inputs: zip(first, second).map { $0 + $1 }, windowMs: windowMs, graceMs: graceMs)
        }

        /// Whether deduplicating the second part alone gives another answer (the state matters).
        var stateMatters: Bool {
            let secondLines = Set(second.joined())
            let alone = DedupModel.run(
                inputs: second, keyFields: ["k.id"], timeField: "ts", windowMs: windowMs, graceMs: graceMs)
            return whole.expected().dropped.filter(secondLines.contains) != alone.dropped
        }

        /// Runs part one in `dir`, calls `between`, appends part two and runs again.
        func runInTwoParts(in dir: TemporaryDirectory, extra: [String] = [], between: () throws -> Void) throws {
            let paths = Workload(inputs: first, windowMs: windowMs, graceMs: graceMs).write(to: dir.path)
            let arguments =
                whole.arguments(
                    inputs: paths, output: dir.file("out.jsonl"), duplicates: dir.file("dup.jsonl"),
                    state: dir.file("state")) + extra
            let run1 = try DedupCLI.run(arguments, in: dir.path)
            #expect(run1.status == 0, "\(run1)")
            try between()
            for (path, lines) in zip(paths, second) { Files.append(lines, to: path) }
            let run2 = try DedupCLI.run(arguments, in: dir.path)
            #expect(run2.status == 0, "\(run2)")
        }

        func expectModelOutput(in dir: TemporaryDirectory, _ label: String) {
            let expected = whole.expected()
            let kept = Files.lines(dir.file("out.jsonl"))
            #expect(kept.count == expected.kept.count, "\(label)")
            #expect(kept == expected.kept, "\(label)")
            #expect(Files.lines(dir.file("dup.jsonl")) == expected.dropped, "\(label)")
        }
    }

    @Test("rm -rf STATE/store between runs: rebuilt from the changelog, same output")
    func storeDeleted() throws {
        let split = Split(seed: 21)
        #expect(split.stateMatters)
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try split.runInTwoParts(in: dir) {
            #expect(Files.exists(dir.file("state/store/data.mdb")))
            try FileManager.default.removeItem(atPath: dir.file("state/store"))
        }
        split.expectModelOutput(in: dir, "store deleted")
        #expect(Files.exists(dir.file("state/store/data.mdb")), "the store was not recreated")
    }

    @Test("garbage over STATE/store/data.mdb between runs: rebuilt from the changelog, same output")
    func storeDamaged() throws {
        let split = Split(seed: 22)
        #expect(split.stateMatters)
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try split.runInTwoParts(in: dir) {
            let path = dir.file("state/store/data.mdb")
            let size = Files.read(path).count
            #expect(size > 0)
            var rng = SplitMix64(seed: 22)
            Files.write((0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }, to: path)
        }
        split.expectModelOutput(in: dir, "store damaged")
    }

    @Test("dedup inspect shows the state and whether a key is live")
    func inspect() throws {
        let split = Split(seed: 23)
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try split.runInTwoParts(in: dir) {}
        // The newest kept record's key is live (its time is the stream time).
        let kept = split.whole.expected().kept
        let newest = try #require(
            kept.max { DedupModel.time(of: $0, field: "ts") < DedupModel.time(of: $1, field: "ts") })
        let value = DedupModel.field("k.id", in: newest)
        let keyArgument: String
        if let string = value as? String {
            keyArgument = string
        } else {
            keyArgument = String(describing: try #require(value as? Double).rounded())
        }
        let live = try DedupCLI.run(["inspect", "--state", dir.file("state"), "--key", keyArgument], in: dir.path)
        #expect(live.status == 0, "\(live)")
        #expect(live.stdout.contains("live entries:"), "\(live)")
        #expect(live.stdout.contains("committed through line"), "\(live)")
        #expect(live.stdout.contains("live, stored at"), "key \(keyArgument): \(live)")
        let time = DedupModel.time(of: newest, field: "ts")
        #expect(live.stdout.contains("(\(time))"), "key \(keyArgument) at \(time): \(live)")

        let absent = try DedupCLI.run(["inspect", "--state", dir.file("state"), "--key", "never-seen"], in: dir.path)
        #expect(absent.status == 0, "\(absent)")
        #expect(absent.stdout.contains("not live"), "\(absent)")

        let notState = try DedupCLI.run(["inspect", "--state", dir.path], in: dir.path)
        #expect(notState.status == 64, "\(notState)")
    }

    @Test("compaction keeps the changelog small, and a store rebuilt from it gives the same output")
    func compaction() throws {
        // Mostly new keys, expiring as time moves on: few live entries at any moment.
        let split = Split(seed: 24, lines: 2_000, uniqueRate: 90)
        #expect(split.stateMatters)
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var changelogAfterFirst: Int64 = 0
        try split.runInTwoParts(in: dir, extra: ["--compaction-threshold", "4096", "--commit-interval", "5ms"]) {
            changelogAfterFirst = Files.directorySize(dir.file("state/changelog"))
            try FileManager.default.removeItem(atPath: dir.file("state/store"))
        }
        split.expectModelOutput(in: dir, "compacted")
        // Each stored entry is at least 26 bytes in the changelog (record header 8, key length 4,
        // key ≥ 3, time 8, kind 1, value ≥ 1), and every kept record was stored once.
        let everStored = Int64(split.whole.expected().kept.count) * 26
        let changelog = Files.directorySize(dir.file("state/changelog"))
        #expect(changelog * 5 < everStored, "changelog \(changelog) bytes for \(everStored)+ bytes ever stored")
        #expect(changelogAfterFirst * 3 < everStored / 2, "after part one: \(changelogAfterFirst) bytes")
        let generation = (Files.checkpoint(dir.file("state"))?["changelog"] as? [String: Any])?["generation"] as? Int
        #expect((generation ?? 0) > 2, "no compaction happened: generation \(generation ?? 0)")

        // A rebuild from the compacted changelog is the state: deleting the store again and
        // running over the same (fully consumed) inputs changes nothing.
        let before = Files.read(dir.file("out.jsonl"))
        try FileManager.default.removeItem(atPath: dir.file("state/store"))
        let paths = (0..<2).map { dir.file("in-\($0).jsonl") }
        let again = try DedupCLI.run(
            split.whole.arguments(
                inputs: paths, output: dir.file("out.jsonl"), duplicates: dir.file("dup.jsonl"),
                state: dir.file("state")),
            in: dir.path
        )
        #expect(again.status == 0, "\(again)")
        #expect(Files.read(dir.file("out.jsonl")) == before)
    }
}

@Suite("dedup run: compaction at restart")
struct CompactionRestartTests {
    /// A run that ends with a changelog already past the threshold (its final commit is not
    /// followed by a compaction check, and the threshold may be lowered between runs) must not
    /// compact in the middle of the next run's first commit interval: the store's transaction then
    /// holds uncommitted records and the changelog unsynced ones.
    @Test("a rerun whose changelog is already past the threshold completes")
    func thresholdAlreadyExceeded() throws {
        let split = RecoveryTests.Split(seed: 25, lines: 1_500, uniqueRate: 90)
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try split.runInTwoParts(in: dir, extra: ["--compaction-threshold", "1000000000"]) {}
        split.expectModelOutput(in: dir, "no compaction")
        // Part three, newer than everything, with a tiny threshold and a long commit interval.
        let end = split.whole.inputs.joined().map { DedupModel.time(of: $0, field: "ts") }.max()!
        var generator = Workload.Generator(seed: 26, windowMs: split.windowMs)
        let third = generator.lines(count: 1_000, producers: 2, start: end + 1)
        let paths = (0..<2).map { dir.file("in-\($0).jsonl") }
        for (path, lines) in zip(paths, third) { Files.append(lines, to: path) }
        let all = Workload(
            inputs: (0..<2).map { split.whole.inputs[$0] + third[$0] }, windowMs: split.windowMs, graceMs: split.graceMs
        )
        let arguments = all.arguments(
            inputs: paths, output: dir.file("out.jsonl"), duplicates: dir.file("dup.jsonl"), state: dir.file("state"))
        let run = try DedupCLI.run(
            arguments + ["--compaction-threshold", "4096", "--commit-interval", "10s"], in: dir.path)
        #expect(run.status == 0, "\(run)")
        #expect(Files.lines(dir.file("out.jsonl")) == all.expected().kept)
        #expect(Files.lines(dir.file("dup.jsonl")) == all.expected().dropped)
    }
}
