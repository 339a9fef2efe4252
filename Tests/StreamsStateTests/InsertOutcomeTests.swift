// Public API only: what a user of insertIfAbsent sees.
import Testing
import StreamsState
import StreamsStateLMDB
import StreamsTestSupport

@Suite("insertIfAbsent outcomes")
struct InsertOutcomeTests {
    /// Every kind of store a user may call, each over its own changelog: the in-memory store, and
    /// the LMDB store with keys over 16 bytes stored by hash (the long-key path) or not (the short
    /// path, whose puts are deferred).
    static func stores(in dir: TemporaryDirectory) throws -> [(
        name: String, store: any WindowStore, log: InMemoryChangelog
    )] {
        let configuration = WindowStoreConfiguration(name: "outcomes", retention: .seconds(1))
        let lmdb = try LMDBWindowStore(
            directory: dir.path, configuration: configuration, options: LMDBWindowStore.Options(longKeyThreshold: 16))
        let memory = try InMemoryWindowStore(configuration: configuration)
        let (lmdbLog, memoryLog) = (InMemoryChangelog(), InMemoryChangelog())
        return [
            ("lmdb", ChangeLoggingWindowStore(lmdb, changelog: lmdbLog), lmdbLog),
            ("in-memory", ChangeLoggingWindowStore(memory, changelog: memoryLog), memoryLog),
        ]
    }

    /// Before this enum, `.inserted` and `.expired` were both `nil`: a caller could not tell a
    /// stored entry from one dropped as too old. Now each outcome is its own case, in both stores.
    @Test("inserted, conflict and expired are told apart by both stores, for short and long keys")
    func outcomesAreDistinct() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        for (name, store, log) in try Self.stores(in: dir) {
            for (i, key) in [Array("short".utf8), [UInt8](repeating: 0x6C, count: 40)].enumerated() {
                let context = Comment(rawValue: "\(name), \(key.count)-byte key")
                let other = key + [1]
                let t = Int64(i) * 10_000 + 5_000
                try store.advanceStreamTime(to: t)  // live from t - 999 on (retention 1 s)
                #expect(
                    try store.insertIfAbsent(key: key, timestampMs: t, value: [1], conflictRange: (t - 999)...(t + 999))
                        == .inserted, context)
                #expect(
                    try store.insertIfAbsent(
                        key: key, timestampMs: t + 500, value: [2], conflictRange: (t - 499)...(t + 1_499))
                        == .conflict(earliestTimestampMs: t), context)
                // Too old for the retention, and no live entry in range: expired, not inserted.
                #expect(
                    try store.insertIfAbsent(
                        key: other, timestampMs: t - 2_000, value: [3], conflictRange: (t - 2_999)...(t - 1_001))
                        == .expired, context)
                #expect(
                    try store.insertIfAbsent(
                        key: key, timestampMs: t - 1_000, value: [4], conflictRange: (t - 1_999)...(t - 1)) == .expired,
                    context)
                // Too old as well, but a live entry lies in range: the conflict is reported first.
                #expect(
                    try store.insertIfAbsent(
                        key: key, timestampMs: t - 1_000, value: [5], conflictRange: (t - 1_999)...t)
                        == .conflict(earliestTimestampMs: t), context)
                try store.commit(metadata: [:])
                // Only the insert was stored, and logged.
                #expect(try store.fetch(key: key, from: .min, to: .max).map(\.value) == [[1]], context)
                #expect(try store.fetch(key: other, from: .min, to: .max) == [], context)
                #expect(log.entries == [ChangelogEntry(key: key, timestampMs: t, value: [1])], context)
                log.removeAll()
                // Once stream time has moved past the entry's retention, the same key inserts again.
                try store.advanceStreamTime(to: t + 1_000)
                #expect(
                    try store.insertIfAbsent(
                        key: key, timestampMs: t + 1_000, value: [6], conflictRange: (t - 999)...(t + 1_999))
                        == .inserted, context)
                #expect(log.entries == [ChangelogEntry(key: key, timestampMs: t + 1_000, value: [6])], context)
                log.removeAll()
                try store.commit(metadata: [:])
            }
            try store.close()
        }
    }
}
