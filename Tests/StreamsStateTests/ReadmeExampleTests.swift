@testable import StreamsStateLMDB
import Testing

@testable import StreamsState
import StreamsTestSupport

@Suite("README example")
struct ReadmeExampleTests {
    @Test("the README's store example runs as written")
    func readme() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        // --- README begins (directory changed) ---
        let lmdb = try LMDBWindowStore(
            directory: dir.path,
            configuration: WindowStoreConfiguration(name: "orders", retention: .seconds(3600))
        )
        let changelog = InMemoryChangelog()  // or your own ChangelogSink that makes entries durable
        let store = ChangeLoggingWindowStore(lmdb, changelog: changelog)  // logs what `lmdb` accepts

        let key = Array("order-42".utf8)
        let t: Int64 = 1_700_000_000_000
        // .inserted: no live entry of the key within ±1 h, so (key, t) was stored; .conflict(earliestTimestampMs:):
        // the earliest such entry, nothing stored; .expired: t is already out of retention, nothing stored.
        let outcome = try store.insertIfAbsent(
            key: key, timestampMs: t, value: [], conflictRange: (t - 3_599_999)...(t + 3_599_999))
        try store.advanceStreamTime(to: t)  // expires old entries, drops whole segments
        // ... make `changelog.entries` durable first, then:
        try store.commit(metadata: ["changelog.position": Array("17".utf8)])
        // --- README ends ---
        #expect(outcome == .inserted)
        #expect(changelog.entries == [ChangelogEntry(key: key, timestampMs: t, value: [])])
        #expect(
            try store.insertIfAbsent(
                key: key, timestampMs: t + 5, value: [], conflictRange: (t - 3_599_994)...(t + 3_600_004))
                == .conflict(earliestTimestampMs: t))
        #expect(try store.metadata(forKey: "changelog.position") == Array("17".utf8))
    }
}
