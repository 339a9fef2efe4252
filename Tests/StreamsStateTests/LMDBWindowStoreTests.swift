@testable import StreamsStateLMDB
import Foundation
import Testing

@testable import StreamsLMDB
@testable import StreamsState
import StreamsTestSupport

@Suite("LMDB window store")
struct LMDBWindowStoreTests {
    let configuration = WindowStoreConfiguration(name: "t", retention: .seconds(10), segmentInterval: .seconds(1))

    @Test("approximateEntryCount(key:) counts one key's stored entries, the same in both stores")
    func entryCountOfKey() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let lmdb = try LMDBWindowStore(
            directory: dir.path, configuration: configuration, options: .init(longKeyThreshold: 16))
        let memory = try InMemoryWindowStore(configuration: configuration)
        let long = [UInt8](repeating: 0x6C, count: 40)
        for store in [lmdb, memory] as [any WindowStore] {
            try store.put(key: [0], timestampMs: 500, value: [1])
            try store.put(key: [0], timestampMs: 2_500, value: [1])
            _ = try store.insertIfAbsent(key: [0], timestampMs: 7_000, value: [1], conflictRange: 7_000...7_000)
            try store.put(key: [0, 0], timestampMs: 2_500, value: [1])
            try store.put(key: long, timestampMs: 1_000, value: [1])
            try store.put(key: long, timestampMs: 3_000, value: [1])
            try store.delete(key: [0], timestampMs: 2_500)
            try store.advanceStreamTime(to: 11_000)  // segment 0 is dropped; 1_000 expires, its segment stays
            try store.commit(metadata: [:])
            #expect(try store.approximateEntryCount(key: [0]) == 1)
            #expect(try store.approximateEntryCount(key: [0, 0]) == 1)
            #expect(try store.approximateEntryCount(key: long) == 2)
            #expect(try store.approximateEntryCount(key: [1]) == 0)
            #expect(try store.approximateEntryCount == 4)
        }
        try lmdb.close()
    }

    @Test("keys up to 64 KiB with forced hash collisions keep their own entries")
    func longKeysWithCollisions() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let options = LMDBWindowStore.Options(longKeyThreshold: 16, keyHash: .constant(42))
        // Keys that share long prefixes and lengths, all above the threshold, all colliding.
        let keys: [[UInt8]] = (0..<40).map { i in
            let length = [17, 100, 511, 4_096, 65_536][i % 5]
            var key = [UInt8](repeating: 0x61, count: length)
            key[length - 1] = UInt8(i)
            return key
        }
        do {
            let store = try LMDBWindowStore(directory: dir.path, configuration: configuration, options: options)
            for (i, key) in keys.enumerated() {
                #expect(
                    try store.insertIfAbsent(
                        key: key, timestampMs: 1_000 + Int64(i), value: [UInt8(i)], conflictRange: 0...5_000)
                        == .inserted)
            }
            for (i, key) in keys.enumerated() {
                // A second occurrence finds exactly its own first one.
                #expect(
                    try store.insertIfAbsent(key: key, timestampMs: 2_000, value: [0], conflictRange: 0...5_000)
                        == .conflict(earliestTimestampMs: 1_000 + Int64(i)))
                try store.put(key: key, timestampMs: 1_500 + Int64(i), value: [UInt8(i), 1])
            }
            try store.delete(key: keys[3], timestampMs: 1_003)
            try store.commit(metadata: [:])
            try store.close()
        }
        let store = try LMDBWindowStore(directory: dir.path, configuration: configuration, options: options)
        for (i, key) in keys.enumerated() {
            let expected =
                (i == 3 ? [] : [WindowEntry(key: key, timestampMs: 1_000 + Int64(i), value: [UInt8(i)])])
                + [WindowEntry(key: key, timestampMs: 1_500 + Int64(i), value: [UInt8(i), 1])]
            #expect(try store.fetch(key: key, from: 0, to: 9_999) == expected, "key \(i)")
        }
        #expect(try store.allEntries().count == 79)
        // A key that collides but was never stored is absent.
        var stranger = keys[0]
        stranger[0] = 0x62
        #expect(try store.fetch(key: stranger, from: 0, to: 9_999).isEmpty)
    }

    @Test("segment ids are floor(timestamp / interval) for negative and extreme timestamps, in any order")
    func segmentIDsAtEdges() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let interval: Int64 = 7_000
        // Stream time never advances: nothing expires, whatever the retention (one that needs
        // few segments, so that maxSegments admits it).
        let configuration = WindowStoreConfiguration(
            name: "t", retention: .milliseconds(interval), segmentInterval: .milliseconds(interval))
        let store = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        // Boundaries on both sides of zero and of the valid range (Int64.min and Int64.max are
        // refused: WindowStoreConfiguration.validTimestamps),
        // where the store's cached segment, and the one before it, must not answer for a
        // timestamp outside them.
        var timestamps: [Int64] = [
            .min + 1, .min + 2, .max - 1, .max - 2, -1, 0, 1, -interval, -interval - 1, interval - 1,
        ]
        timestamps += [interval, 3 * interval - 1, 3 * interval, Int64.max - interval, Int64.min + interval]
        var rng = SplitMix64(seed: 11)
        for _ in 0..<200 {
            timestamps.append(Int64(bitPattern: rng.next()) / 1_000_000_000 * [1, 7_000][Int(rng.next() % 2)])
        }
        for _ in 0..<3 { timestamps.shuffle(using: &rng) }
        func floorID(_ ts: Int64) -> Int64 {
            let q = ts / interval
            return ts % interval != 0 && ts < 0 ? q - 1 : q
        }
        for (i, ts) in timestamps.enumerated() {
            try store.put(key: Array("k\(i)".utf8), timestampMs: ts, value: [1])
        }
        #expect(store.segmentIDs == Set(timestamps.map(floorID)).sorted())
        // Each entry is found in its own segment, and only at its own time.
        for (i, ts) in timestamps.enumerated() {
            #expect(try store.fetch(key: Array("k\(i)".utf8), from: ts, to: ts).count == 1, "timestamp \(ts)")
            #expect(try store.firstTimestamp(key: Array("k\(i)".utf8), from: .min, to: .max) == ts, "timestamp \(ts)")
        }
        try store.close()
    }

    @Test(
        "segment filters never hide an entry: through filter rebuilds, aborts, long keys, and filters built from disk after a reopen"
    )
    func segmentFiltersHideNothing() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let configuration = WindowStoreConfiguration(
            name: "t", retention: .seconds(1_000), segmentInterval: .seconds(10))
        let options = LMDBWindowStore.Options(longKeyThreshold: 24)
        var rng = SplitMix64(seed: 5)
        func randomKey() -> [UInt8] {
            (0..<(8 + Int(rng.next() % 33))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        }
        // 30,000 keys over three segments: each segment's filter fills and is rebuilt (at 4,096
        // keys, then at four times that); a third of the keys are long (stored by hash).
        var committed: [([UInt8], Int64)] = []
        var store = try LMDBWindowStore(directory: dir.path, configuration: configuration, options: options)
        var batch: [([UInt8], Int64)] = []
        for i in 0..<30_000 {
            let key = randomKey()
            let ts = Int64(i % 3) * 10_000 + Int64(i / 3 % 10_000)
            #expect(
                try store.insertIfAbsent(key: key, timestampMs: ts, value: [1], conflictRange: 0...29_999) == .inserted)
            batch.append((key, ts))
            if i % 5_000 == 4_999 {
                if i == 14_999 {
                    // This batch is rolled back: its keys must be absent, then insertable again.
                    try store.abort()
                    for (key, _) in batch {
                        #expect(try store.firstTimestamp(key: key, from: 0, to: 29_999) == nil)
                    }
                    for (key, ts) in batch {
                        #expect(
                            try store.insertIfAbsent(key: key, timestampMs: ts, value: [1], conflictRange: 0...29_999)
                                == .inserted)
                    }
                }
                try store.commit(metadata: [:])
                committed += batch
                batch.removeAll()
            }
        }
        func check(_ store: LMDBWindowStore, _ label: String) throws {
            var missing = 0
            for (key, ts) in committed where try store.firstTimestamp(key: key, from: 0, to: 29_999) != ts {
                missing += 1
            }
            #expect(missing == 0, "\(label): committed entries not found")
            for _ in 0..<2_000 {
                #expect(try store.firstTimestamp(key: randomKey(), from: 0, to: 29_999) == nil, "\(label)")
            }
        }
        #expect(store.segmentIDs == [0, 1, 2])
        try check(store, "after the writes")
        try store.close()
        // Segments already on disk get their filters built from their entries on first use.
        store = try LMDBWindowStore(directory: dir.path, configuration: configuration, options: options)
        try check(store, "after reopening")
        try store.close()
    }

    @Test("a filter built after a delete does not outlive the abort that brings the entry back")
    func filterBuiltAfterDeleteDoesNotSurviveAbort() throws {
        try withStore(retention: .seconds(100)) { store in
            let key = Array("K".utf8)
            try store.put(key: key, timestampMs: 500, value: [1])
            try store.put(key: Array("other".utf8), timestampMs: 1_500, value: [2])
            try store.commit(metadata: [:])
            try store.delete(key: key, timestampMs: 500)
            // A lookup over both segments builds their filters from what the transaction sees.
            #expect(try store.firstTimestamp(key: Array("x".utf8), from: 0, to: 1_999) == nil)
            try store.abort()
            #expect(try store.firstTimestamp(key: key, from: 0, to: 1_999) == 500)
            #expect(
                try store.insertIfAbsent(key: key, timestampMs: 1_600, value: [3], conflictRange: 0...1_999)
                    == .conflict(earliestTimestampMs: 500))
        }
    }

    @Test(
        "\"map full\" while inserts are written stores each entry under its own key",
        arguments: [0, 1_000, 1 << 18]
    )
    func mapFullDuringInsertKeepsKeys(maxPendingPuts: Int) throws {
        // A small map, so that the batch's puts hit MDB_MAP_FULL (and replay the batch) many times:
        // as each put is written (0), when a thousand pending puts are, and at the commit.
        let options = LMDBWindowStore.Options(initialMapSize: 256 << 10, maxPendingPuts: maxPendingPuts)
        try withStore(retention: .seconds(10), options: options) { store in
            let value = [UInt8](repeating: 9, count: 200)
            let keys = (0..<20_000).map { Array("key-\($0 + 1_000_000)".utf8) }
            for key in keys {
                #expect(
                    try store.insertIfAbsent(key: key, timestampMs: 100, value: value, conflictRange: 0...100)
                        == .inserted)
            }
            try store.commit(metadata: [:])
            var missing = 0
            for key in keys where try store.firstTimestamp(key: key, from: 0, to: 100) == nil { missing += 1 }
            #expect(missing == 0)
            #expect(try store.allEntries().count == keys.count)
        }
    }

    @Test("pending puts stay visible to insertIfAbsent through filter rebuilds, flushes and commits")
    func pendingPutsVisible() throws {
        try withStore(retention: .seconds(10)) { store in
            // 10,000 new keys in one transaction: the segment's filter (first sized for 4,096
            // keys) is rebuilt twice while every put is still pending.
            let keys = (0..<10_000).map { Array("order-\($0 * 7_919 % 100_003)".utf8) }
            for key in keys {
                #expect(
                    try store.insertIfAbsent(key: key, timestampMs: 500, value: [1], conflictRange: 0...999)
                        == .inserted)
            }
            var missed = keys.filter {
                (try? store.insertIfAbsent(key: $0, timestampMs: 600, value: [2], conflictRange: 0...999))
                    != .conflict(earliestTimestampMs: 500)
            }
            #expect(missed.isEmpty, "\(missed.count) pending keys not found, e.g. \(missed.prefix(2))")
            try store.commit(metadata: [:])
            missed = keys.filter { (try? store.firstTimestamp(key: $0, from: 0, to: 999)) != 500 }
            #expect(missed.isEmpty, "\(missed.count) keys lost by the flush")
            #expect(try store.approximateEntryCount == keys.count)
        }
    }

    @Test("\"map full\" while pending puts are written before a segment drop still drops the segment")
    func mapFullDuringFlushBeforeDrop() throws {
        // Found in review: the flush's replay rolled stream time back to the last commit, and the
        // drop then chose the segments to drop from that older stream time.
        try withStore(retention: .seconds(10), options: .init(initialMapSize: 256 << 10)) { store in
            let memory = try InMemoryWindowStore(configuration: configuration)
            for s in [store, memory] as [any WindowStore] {
                try s.put(key: Array("old".utf8), timestampMs: 100, value: [1])
                try s.commit(metadata: [:])
            }
            let value = [UInt8](repeating: 7, count: 200)
            for i in 0..<20_000 {
                let key = Array("key-\(i)".utf8)
                for s in [store, memory] as [any WindowStore] {
                    #expect(
                        try s.insertIfAbsent(key: key, timestampMs: 20_500, value: value, conflictRange: 0...20_999)
                            == .inserted)
                }
            }
            let mapSize = store.environment.info.mapSize
            try store.advanceStreamTime(to: 20_500)  // live from 10,501: segment 0 expired
            try memory.advanceStreamTime(to: 20_500)
            #expect(store.environment.info.mapSize > mapSize, "the flush did not hit map full")
            #expect(store.streamTimeMs == 20_500)
            #expect(memory.segmentIDs == [20])
            #expect(store.segmentIDs == memory.segmentIDs)
            try store.commit(metadata: [:])
            #expect(store.segmentIDs == [20])
            #expect(try store.approximateEntryCount == memory.approximateEntryCount)
        }
    }

    @Test("forEachEntry sees what its body inserts into a later segment, as the in-memory store does")
    func forEachEntrySeesBodyInsert() throws {
        // Found in review: pending puts were flushed once, before the first segment.
        func run(_ s: any WindowStore) throws -> [WindowEntry] {
            try s.put(key: Array("a".utf8), timestampMs: 500, value: [1])
            try s.put(key: Array("b".utf8), timestampMs: 1_500, value: [2])
            var seen: [WindowEntry] = []
            try s.forEachEntry { entry in
                seen.append(entry)
                if seen.count == 1 {
                    _ = try s.insertIfAbsent(
                        key: Array("c".utf8), timestampMs: 1_600, value: [3], conflictRange: 0...1_999)
                }
            }
            return seen.sorted(by: entryOrder)
        }
        let expected = try run(try InMemoryWindowStore(configuration: configuration))
        #expect(expected.count == 3)
        try withStore(retention: .seconds(10)) { store in
            let seen = try run(store)
            #expect(seen == expected)
        }
    }

    /// Runs `body` on a new store with one-second segments in a temporary directory, then closes it.
    private func withStore(
        retention: Duration, options: LMDBWindowStore.Options = .init(), _ body: (LMDBWindowStore) throws -> Void
    ) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let configuration = WindowStoreConfiguration(name: "t", retention: retention, segmentInterval: .seconds(1))
        let store = try LMDBWindowStore(directory: dir.path, configuration: configuration, options: options)
        try body(store)
        try store.close()
    }

    @Test("expired segments are dropped as whole LMDB databases")
    func segmentsDropped() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        for ts in stride(from: Int64(0), to: 20_000, by: 10) {
            try store.put(key: Array("k\(ts)".utf8), timestampMs: ts, value: [1])
        }
        try store.commit(metadata: [:])
        #expect(store.segmentIDs == Array(0..<20))
        #expect(try store.approximateEntryCount == 2_000)
        // Stream time 25,000 with retention 10 s: live from 15,001, so segments 0...14 go.
        try store.advanceStreamTime(to: 25_000)
        try store.commit(metadata: [:])
        #expect(store.segmentIDs == Array(15..<20))
        #expect(try store.approximateEntryCount == 500)
        // Entry 15,000 is in a kept segment but logically expired: never returned.
        #expect(try store.fetch(key: Array("k15000".utf8), from: 0, to: 30_000).isEmpty)
        #expect(try store.fetch(key: Array("k15010".utf8), from: 0, to: 30_000).count == 1)
        try store.close()
        // The dropped databases are gone from the file itself.
        let env = try LMDBEnvironment(path: dir.path, configuration: .init(maxDatabases: 64))
        let names = try env.withReadTransaction { (txn) throws(LMDBError) in
            var names: [String] = []
            try txn.forEach(in: try txn.mainDatabase()) { (k, _) throws(LMDBError) in
                names.append(String(decoding: k, as: UTF8.self))
                return true
            }
            return names
        }
        #expect(names.filter { $0.hasPrefix("segment/") }.count == 5)
    }

    @Test("a batch larger than the map grows the map and keeps every write")
    func mapGrowthInStore() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let options = LMDBWindowStore.Options(initialMapSize: 256 << 10)
        let store = try LMDBWindowStore(directory: dir.path, configuration: configuration, options: options)
        let value = [UInt8](repeating: 9, count: 200)
        for i in 0..<20_000 {
            try store.put(key: Array("key-\(i)".utf8), timestampMs: Int64(i % 9_000), value: value)
        }
        try store.advanceStreamTime(to: 9_000)
        try store.commit(metadata: ["n": [1]])
        #expect(store.environment.info.mapSize > 256 << 10)
        #expect(try store.allEntries().count == 20_000)
        #expect(try store.metadata(forKey: "n") == [1])
    }

    @Test("usedBytes is a high-water mark: it does not fall when every segment is dropped")
    func usedBytesIsHighWaterMark() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        let empty = store.usedBytes
        for i in 0..<20_000 { try store.put(key: Array("key-\(i)".utf8), timestampMs: Int64(i % 5_000), value: [1]) }
        try store.commit(metadata: [:])
        let full = store.usedBytes
        #expect(full > empty)
        try store.advanceStreamTime(to: 1_000_000)
        try store.commit(metadata: [:])
        #expect(store.segmentCount == 0)
        #expect(try store.approximateEntryCount == 0)
        #expect(store.usedBytes >= full)
        try store.close()
    }

    @Test("a commit that leaves the map more than half full grows it before the next batch")
    func mapGrowsBetweenTransactions() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let options = LMDBWindowStore.Options(initialMapSize: 1 << 20)
        let store = try LMDBWindowStore(directory: dir.path, configuration: configuration, options: options)
        let before = store.environment.info.mapSize
        var i = 0
        // Fill in small commits until more than half of the original map is in use.
        while store.environment.usedBytes <= before / 2 {
            for _ in 0..<100 {
                try store.put(key: Array("key-\(i)".utf8), timestampMs: 1, value: [UInt8](repeating: 3, count: 64))
                i += 1
            }
            try store.commit(metadata: [:])
        }
        #expect(store.environment.info.mapSize == 2 * before)
        #expect(try store.allEntries().count == i)
    }

    @Test("the map's maximum gives a clear error and leaves the committed state intact")
    func mapMaximumInStore() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let options = LMDBWindowStore.Options(initialMapSize: 256 << 10, maxMapSize: 1 << 20)
        let store = try LMDBWindowStore(directory: dir.path, configuration: configuration, options: options)
        try store.put(key: [1], timestampMs: 5, value: [1])
        try store.commit(metadata: ["ok": [1]])
        let error = #expect(throws: StateStoreError.self) {
            for i in 0..<50_000 {
                try store.put(key: Array("key-\(i)".utf8), timestampMs: 5, value: [UInt8](repeating: 1, count: 100))
            }
            try store.commit(metadata: [:])
        }
        #expect(error?.lmdb?.code == .mapFull)
        #expect(error?.description.contains("raise the maximum map size") == true)
        try store.abort()
        #expect(try store.fetch(key: [1], from: 0, to: 10) == [WindowEntry(key: [1], timestampMs: 5, value: [1])])
        try store.close()
        let reopened = try LMDBWindowStore(directory: dir.path, configuration: configuration, options: options)
        #expect(try reopened.metadata(forKey: "ok") == [1])
        #expect(try reopened.allEntries().count == 1)
    }

    @Test("reopening with another retention fails by default and adopts on request")
    func retentionMismatch() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try LMDBWindowStore(directory: dir.path, configuration: configuration).close()
        let longer = WindowStoreConfiguration(name: "t", retention: .seconds(20))
        let error = #expect(throws: StateStoreError.self) {
            _ = try LMDBWindowStore(directory: dir.path, configuration: longer)
        }
        #expect(error?.code == .configurationMismatch)
        #expect(error?.message.contains("10000 ms") == true)
        let adopted = try LMDBWindowStore(
            directory: dir.path,
            configuration: longer,
            options: .init(onConfigurationMismatch: .adopt)
        )
        #expect(adopted.retentionMs == 20_000)
        #expect(adopted.segmentIntervalMs == 1_000)  // the physical layout is kept
    }

    @Test(
        "reopening with another segment interval is refused under either policy, naming both intervals; nil keeps the stored one"
    )
    func segmentIntervalMismatch() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        try store.put(key: [1], timestampMs: 5_500, value: [1])
        try store.commit(metadata: [:])
        try store.close()
        let other = WindowStoreConfiguration(name: "t", retention: .seconds(10), segmentInterval: .seconds(2))
        for policy in [LMDBWindowStore.ConfigurationMismatchPolicy.fail, .adopt] {
            let error = #expect(throws: StateStoreError.self, "\(policy)") {
                _ = try LMDBWindowStore(
                    directory: dir.path, configuration: other, options: .init(onConfigurationMismatch: policy))
            }
            #expect(error?.code == .configurationMismatch, "\(String(describing: error))")
            #expect(
                error?.message.contains(
                    "built with a segment interval of 1000 ms, not the requested 2000 ms (WindowStoreConfiguration.segmentInterval)"
                ) == true, "\(String(describing: error))")
            #expect(error?.message.contains(dir.path) == true)
        }
        // No interval: the stored one, and the entry is where it was.
        let reopened = try LMDBWindowStore(
            directory: dir.path, configuration: WindowStoreConfiguration(name: "t", retention: .seconds(10)))
        #expect(reopened.segmentIntervalMs == 1_000)
        #expect(try reopened.firstTimestamp(key: [1], from: 0, to: 9_999) == 5_500)
        try reopened.close()
    }

    @Test("reopening a store whose stored segment interval needs more segments than maxSegments is refused at open")
    func storedIntervalOverSegmentLimit() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let fine = WindowStoreConfiguration(name: "t", retention: .seconds(10), segmentInterval: .milliseconds(100))
        try LMDBWindowStore(directory: dir.path, configuration: fine, options: .init(maxSegments: 102)).close()
        let error = #expect(throws: StateStoreError.self) {
            _ = try LMDBWindowStore(
                directory: dir.path, configuration: WindowStoreConfiguration(name: "t", retention: .seconds(10)),
                options: .init(maxSegments: 50))
        }
        #expect(error?.code == .invalidConfiguration, "\(String(describing: error))")
        #expect(error?.message.contains("built with 100 ms") == true, "\(String(describing: error))")
        #expect(error?.message.contains("LMDBWindowStore.Options.maxSegments raised to 102") == true)
    }

    @Test("garbage, truncated and foreign files are refused with a rebuild hint")
    func corruptFiles() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        // Garbage: random bytes where data.mdb should be.
        let garbage = dir.path + "/garbage"
        try FileManager.default.createDirectory(atPath: garbage, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: 9)
        try Data((0..<65_536).map { _ in UInt8.random(in: 0...255, using: &rng) }).write(
            to: URL(fileURLWithPath: garbage + "/data.mdb"))
        let e1 = #expect(throws: StateStoreError.self) {
            _ = try LMDBWindowStore(directory: garbage, configuration: configuration)
        }
        #expect(e1?.code == .corrupt)
        #expect(e1?.description.contains("rebuild it from its changelog") == true)

        // Truncated: a real store cut to half its pages.
        let truncated = dir.path + "/truncated"
        do {
            let store = try LMDBWindowStore(directory: truncated, configuration: configuration)
            for i in 0..<5_000 { try store.put(key: Array("key-\(i)".utf8), timestampMs: 1, value: [1]) }
            try store.commit(metadata: [:])
            try store.close()
        }
        let used = try LMDBEnvironment(path: truncated).usedBytes
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: truncated + "/data.mdb"))
        try handle.truncate(atOffset: UInt64(used / 2))
        try handle.close()
        let e2 = #expect(throws: StateStoreError.self) {
            _ = try LMDBWindowStore(directory: truncated, configuration: configuration)
        }
        #expect(e2?.code == .corrupt)

        // Foreign: a valid LMDB environment that is not a window store.
        let foreign = dir.path + "/foreign"
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
        try LMDBEnvironment(path: foreign).withWriteTransaction { (txn) throws(LMDBError) in
            _ = try txn.openDatabase(named: "somebody-else")
        }
        let e3 = #expect(throws: StateStoreError.self) {
            _ = try LMDBWindowStore(directory: foreign, configuration: configuration)
        }
        #expect(e3?.code == .corrupt)
        #expect(e3?.message.contains("not a swift-dedup window store") == true)
    }

    @Test("integrity: trusted after a kill in the same boot or a clean close, untrusted after a reboot")
    func integrity() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        #expect(try LMDBWindowStore(directory: dir.path, configuration: configuration).integrity == .new)
        #expect(try LMDBWindowStore(directory: dir.path, configuration: configuration).integrity == .trusted)

        // Simulate an unsynced commit from an earlier boot that was never closed cleanly.
        func markLastWriter(boot: String, clean: UInt8) throws {
            let env = try LMDBEnvironment(path: dir.path, configuration: .init(maxDatabases: 64))
            try env.withWriteTransaction { (txn) throws(LMDBError) in
                let meta = try txn.existingDatabase(named: "meta")!
                try txn.put(key: Array("streams.bootId".utf8), value: Array(boot.utf8), in: meta)
                try txn.put(key: Array("streams.cleanShutdown".utf8), value: [clean], in: meta)
            }
        }
        try markLastWriter(boot: "an-earlier-boot", clean: 0)
        let store = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        guard case .untrusted(let reason) = store.integrity else {
            Issue.record("expected untrusted, got \(store.integrity)")
            return
        }
        #expect(reason.contains("rebuild"))
        try store.close()
        // Opening and closing it (as dedup inspect and dedup verify do) does not make it trusted.
        let reopened = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        #expect(reopened.integrity != .trusted)
        try reopened.close()
        #expect(try LMDBWindowStore(directory: dir.path, configuration: configuration).integrity != .trusted)

        try markLastWriter(boot: "an-earlier-boot", clean: 1)
        #expect(try LMDBWindowStore(directory: dir.path, configuration: configuration).integrity == .trusted)

        // Synchronous commits are always trusted.
        try markLastWriter(boot: "an-earlier-boot", clean: 0)
        let synced = try LMDBWindowStore(
            directory: dir.path,
            configuration: configuration,
            options: .init(environmentFlags: [.noTLS])
        )
        #expect(synced.integrity == .trusted)
    }

    @Test("restore is idempotent and rebuilds the same live entries", arguments: [0, 7, 1 << 18])
    func restoreIdempotent(maxPendingPuts: Int) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let source = try InMemoryWindowStore(configuration: configuration)
        let log = InMemoryChangelog()
        let logged = ChangeLoggingWindowStore(source, changelog: log)
        var rng = SplitMix64(seed: 3)
        var inserted: [([UInt8], Int64)] = []
        var deleted = 0
        for i in 0..<3_000 {
            let key = Array("k\(Int.random(in: 0..<500, using: &rng))".utf8)
            let ts = Int64(i * 7)
            if i % 10 == 0, let (recentKey, recentTs) = inserted.suffix(20).randomElement(using: &rng) {
                // A tombstone of a live entry, often one written a few entries before.
                if try source.firstTimestamp(key: recentKey, from: recentTs, to: recentTs) != nil { deleted += 1 }
                try logged.delete(key: recentKey, timestampMs: recentTs)
            } else if try logged.insertIfAbsent(
                key: key, timestampMs: ts, value: [UInt8(i % 256)], conflictRange: (ts - 999)...(ts + 999)) == .inserted
            {
                inserted.append((key, ts))
            }
            try source.advanceStreamTime(to: ts)
        }
        #expect(deleted > 100)
        let store = try LMDBWindowStore(
            directory: dir.path, configuration: configuration, options: .init(maxPendingPuts: maxPendingPuts))
        try store.restore(from: log.entries)
        try store.restore(from: log.entries)  // replayed twice
        try store.restore(from: Array(log.entries.prefix(100)))  // and a stale prefix once more
        try store.commit(metadata: [:])
        // Restore brings stream time to the newest entry of the changelog (the Deduplicator writes
        // a marker entry when its stream time runs ahead of every entry).
        #expect(store.streamTimeMs == log.entries.map(\.timestampMs).max())
        #expect(try store.allEntries().sorted(by: entryOrder) == (try source.allEntries().sorted(by: entryOrder)))
    }
}
