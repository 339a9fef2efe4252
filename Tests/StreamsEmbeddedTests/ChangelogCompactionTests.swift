import Foundation
import StreamsEmbedded
import StreamsState
import Testing
import StreamsTestSupport

@Suite("ChangelogFile compaction")
struct ChangelogCompactionTests {
    static let configuration = WindowStoreConfiguration(name: "t", retention: .seconds(3_600))

    /// A store with many overwrites and deletes: its changelog is much larger than its live state.
    static func churn(_ store: some WindowStore, rounds: Int) throws {
        for round in 0..<rounds {
            for k in 0..<50 {
                try store.put(key: Array("key-\(k)".utf8), timestampMs: Int64(k), value: Array("round \(round)".utf8))
            }
            try store.delete(key: Array("key-\(round % 50)".utf8), timestampMs: Int64(round % 50))
        }
    }

    static func restored(from changelog: ChangelogFile) throws -> Set<WindowEntry> {
        let store = try InMemoryWindowStore(configuration: configuration)
        try changelog.reader().restore(into: store)
        return Set(try store.allEntries())
    }

    @Test("compaction keeps the live state, shrinks the file, and maps the old position")
    func compaction() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try InMemoryWindowStore(configuration: Self.configuration)
        let old = try ChangelogFile(directory: dir.path, committed: nil)
        try Self.churn(ChangeLoggingWindowStore(store, changelog: old), rounds: 40)
        try old.sync()
        try store.commit(metadata: [ChangelogFilePosition.metadataKey: old.position.metadataBytes])
        let live = Set(try store.allEntries())

        let new = try old.compacted(from: store)
        #expect(new.header.generation == 2)
        #expect(new.header.compactedFrom == old.position)
        #expect(new.position.offset == new.header.baseLength)
        #expect(Files.size(new.path) * 10 < Files.size(old.path), "compaction did not shrink the changelog")
        #expect(try Self.restored(from: new) == live)
        // A store committed at the old position needs nothing; one behind it must rebuild.
        #expect(new.recovery(forStoreAt: old.position) == .upToDate)

        // Appends continue in the new generation, and a store at the old position replays them.
        try ChangeLoggingWindowStore(store, changelog: new).put(
            key: Array("after".utf8), timestampMs: 60, value: Array("x".utf8))
        try new.sync()
        #expect(new.recovery(forStoreAt: old.position) == .replay(from: new.header.baseLength))
        #expect(try Self.restored(from: new) == Set(try store.allEntries()))
        #expect(
            FileManager.default.fileExists(atPath: old.path), "the old generation must stay until the checkpoint moves")
        try new.removeOtherGenerations()
        #expect(!FileManager.default.fileExists(atPath: old.path))
    }

    @Test("a crash before the checkpoint moved keeps the old generation; after, the new one")
    func crashAroundCompaction() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try InMemoryWindowStore(configuration: Self.configuration)
        let old = try ChangelogFile(directory: dir.path, committed: nil)
        try Self.churn(ChangeLoggingWindowStore(store, changelog: old), rounds: 10)
        try old.sync()
        let live = Set(try store.allEntries())
        let oldPosition = old.position
        let new = try old.compacted(from: store)
        let newPosition = new.position
        old.close()
        new.close()
        // Leftover temporary file of a compaction interrupted before its rename.
        Files.write([1, 2, 3], to: dir.file(ChangelogFile.fileName(generation: 3) + ".tmp"))

        // The checkpoint still names the old generation: the new file is discarded.
        let before = try ChangelogFile(directory: dir.path, committed: oldPosition)
        #expect(before.header.generation == 1)
        #expect(try Self.restored(from: before) == live)
        #expect(!FileManager.default.fileExists(atPath: new.path))
        #expect(!FileManager.default.fileExists(atPath: dir.file(ChangelogFile.fileName(generation: 3) + ".tmp")))
        before.close()

        // Compact again and let the checkpoint move: the old file is discarded.
        let again = try ChangelogFile(directory: dir.path, committed: oldPosition)
        let compacted = try again.compacted(from: store)
        #expect(compacted.position == newPosition)
        compacted.close()
        let after = try ChangelogFile(directory: dir.path, committed: newPosition)
        #expect(after.header.generation == 2)
        #expect(try Self.restored(from: after) == live)
        #expect(!FileManager.default.fileExists(atPath: again.path))
    }

    @Test(
        "model: random operations, syncs and compactions; the changelog always rebuilds the store",
        arguments: [1, 2, 3] as [UInt64])
    func model(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var rng = SplitMix64(seed: seed)
        let store = try InMemoryWindowStore(
            configuration: WindowStoreConfiguration(name: "m", retention: .milliseconds(5_000)))
        var changelog = try ChangelogFile(directory: dir.path, committed: nil)
        var logged = ChangeLoggingWindowStore(store, changelog: changelog)
        var time: Int64 = 0
        for step in 0..<3_000 {
            let key = Array("k\(Int.random(in: 0..<60, using: &rng))".utf8)
            let ts = time - Int64.random(in: 0...3_000, using: &rng)  // never ahead of stream time, as in the engine
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<5:
                _ = try logged.insertIfAbsent(
                    key: key, timestampMs: ts, value: [UInt8(step & 0xFF)], conflictRange: (ts - 1_000)...(ts + 1_000))
            case 5..<7: try logged.put(key: key, timestampMs: ts, value: Array("s\(step)".utf8))
            case 7: try logged.delete(key: key, timestampMs: ts)
            default:
                time += Int64.random(in: 0...200, using: &rng)
                try store.advanceStreamTime(to: time)
            }
            if step % 97 == 0 {
                try changelog.sync()
                try store.commit(metadata: [ChangelogFilePosition.metadataKey: changelog.position.metadataBytes])
            }
            if step % 701 == 700 {
                try changelog.sync()
                try store.commit(metadata: [:])
                let next = try changelog.compacted(from: store)
                try next.removeOtherGenerations()
                changelog = next
                logged = ChangeLoggingWindowStore(store, changelog: next)
            }
        }
        try changelog.sync()
        let rebuilt = try InMemoryWindowStore(
            configuration: WindowStoreConfiguration(name: "m", retention: .milliseconds(5_000)))
        try changelog.reader().restore(into: rebuilt)
        try rebuilt.advanceStreamTime(to: store.streamTimeMs)
        #expect(Set(try rebuilt.allEntries()) == Set(try store.allEntries()), "seed \(seed)")
    }
}
