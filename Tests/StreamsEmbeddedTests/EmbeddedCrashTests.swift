import Foundation
import StreamsEmbedded
import StreamsState
import StreamsStateLMDB
import Testing
import StreamsTestSupport

/// Kills a real child running the commit protocol (`StreamsTestSupportTools embedded-writer`) with
/// SIGKILL at random moments and checks that every committed batch survives and nothing else does.
@Suite("Embedded crash safety")
struct EmbeddedCrashTests {
    static let batch = 400

    /// The helper executable built next to the test bundle.
    static var toolPath: String { BuiltExecutable.path("StreamsTestSupportTools") }

    /// The changelog entries of batches `0..<count`, in order (see EmbeddedWriter.swift).
    static func expectedEntries(batches count: Int) -> [ChangelogEntry] {
        var entries: [ChangelogEntry] = []
        for n in 0..<count {
            for i in 0..<batch {
                entries.append(
                    ChangelogEntry(
                        key: Array("k\(n)-\(i)".utf8), timestampMs: Int64(n * batch + i), value: Array("v\(n)".utf8)))
            }
            if n > 0 {
                entries.append(
                    ChangelogEntry(key: Array("k\(n - 1)-0".utf8), timestampMs: Int64((n - 1) * batch), value: nil))
            }
        }
        return entries
    }

    static func expectedOutput(batches count: Int) -> [UInt8] {
        Array((0..<count).flatMap { n in (0..<batch).map { i in "{\"n\":\(n),\"i\":\(i)}\n" } }.joined().utf8)
    }

    @Test("SIGKILL at random moments: committed batches survive, the torn or uncommitted tail is cut off")
    func sigkill() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.toolPath) else {
            Issue.record("build StreamsTestSupportTools first (swift build --build-tests): \(Self.toolPath) is missing")
            return
        }
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let statePath = dir.file("state")
        var rng = SplitMix64(seed: UInt64(Date().timeIntervalSince1970))
        var lastBatches = 0
        var tails = 0
        for round in 0..<6 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.toolPath)
            process.arguments = ["embedded-writer", statePath, String(Self.batch)]
            try process.run()
            // Kill at a random moment after the writer committed at least once more (on a loaded
            // machine a fixed sleep may end before the child has run at all).
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline,
                Int((try? Checkpoint.load(from: statePath + "/checkpoint.json"))??.generation ?? 0) <= lastBatches
            {
                usleep(10_000)
            }
            usleep(UInt32.random(in: 0...600_000, using: &rng))
            #expect(process.isRunning, "the writer stopped by itself in round \(round)")
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)

            // The checkpoint is whole and made progress.
            let checkpoint = try #require(
                try Checkpoint.load(from: statePath + "/checkpoint.json"), "round \(round): no checkpoint")
            let batches = Int(checkpoint.generation)
            #expect(batches > lastBatches, "round \(round) made no progress")
            lastBatches = batches

            // The changelog as the crash left it: everything committed is there and valid, and a
            // reader without limit stops at a torn tail, if any, never inside the committed part.
            let changelogPath =
                statePath + "/changelog/" + ChangelogFile.fileName(generation: checkpoint.changelog.generation)
            let committedReader = try ChangelogFileReader(path: changelogPath, upTo: checkpoint.changelog.offset)
            var committed: [ChangelogEntry] = []
            while case let next = try committedReader.nextBatch(), !next.isEmpty { committed += next }
            let changelogMatches = committed == Self.expectedEntries(batches: batches)  // (no dump of 100k entries)
            #expect(changelogMatches, "round \(round): the committed changelog is not exactly batches 0..<\(batches)")
            let scan = try ChangelogFileReader(path: changelogPath)
            while try !scan.nextBatch().isEmpty {}
            #expect(scan.validLength >= checkpoint.changelog.offset)
            if scan.fileLength > scan.validLength { #expect(scan.tornTail != nil) }
            if scan.fileLength > checkpoint.changelog.offset { tails += 1 }

            // The output: the committed prefix is exactly the committed batches.
            let output = Files.read(statePath + "/out.jsonl")
            #expect(Int64(output.count) >= checkpoint.outputs[0].committedLength)
            let outputMatches =
                Array(output.prefix(Int(checkpoint.outputs[0].committedLength)))
                == Self.expectedOutput(batches: batches)
            #expect(outputMatches, "round \(round): the committed output is not exactly batches 0..<\(batches)")
        }

        // Recover as the engine does, in this process: the kernel released the dead child's lock.
        let state = try StateDirectory(path: statePath)
        let checkpoint = try #require(try state.loadCheckpoint())
        let batches = Int(checkpoint.generation)
        let changelog = try state.openChangelog(committed: checkpoint.changelog)
        let output = try OutputFile(
            path: checkpoint.outputs[0].path, mode: .resume(committedLength: checkpoint.outputs[0].committedLength))
        let outputMatches = Files.read(output.path) == Self.expectedOutput(batches: batches)
        #expect(outputMatches, "the recovered output is not exactly batches 0..<\(batches)")
        #expect(Files.size(changelog.path) == checkpoint.changelog.offset)
        let configuration = WindowStoreConfiguration(name: "embedded-crash", retention: .seconds(1_000_000_000))
        let store = try LMDBWindowStore(directory: state.storePath, configuration: configuration)
        let at = try store.metadata(forKey: ChangelogFilePosition.metadataKey).flatMap(
            ChangelogFilePosition.init(metadataBytes:))
        switch changelog.recovery(forStoreAt: at) {
        case .upToDate: break
        case .replay(let offset): try changelog.reader(from: offset).restore(into: store)
        case .rebuild(let reason): Issue.record("the store should never need a rebuild after a kill: \(reason)")
        }
        var expected: Set<String> = []
        for n in 0..<batches {
            for i in 0..<Self.batch where !(i == 0 && n < batches - 1) { expected.insert("k\(n)-\(i)") }
        }
        let live = try store.allEntries()
        #expect(live.count == expected.count)
        #expect(Set(live.map { String(decoding: $0.key, as: UTF8.self) }) == expected)
        try store.abort()
        print(
            "embedded crash test: \(lastBatches) batches committed over 6 kills, \(tails) kills left an uncommitted tail"
        )
    }
}
