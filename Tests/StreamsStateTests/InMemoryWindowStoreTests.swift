import Testing

@testable import StreamsState
@testable import StreamsStateLMDB
import StreamsTestSupport

@Suite("In-memory window store")
struct InMemoryWindowStoreTests {
    /// Paths of ``InMemoryWindowStore/abort()`` that random model runs rarely reach: overwriting
    /// and deleting committed entries, reviving a deleted one, and writing into segments that are
    /// then dropped, all in one transaction.
    @Test("abort restores overwritten, deleted and revived entries and dropped segments")
    func abortRestoresEverything() throws {
        let store = try InMemoryWindowStore(
            configuration: WindowStoreConfiguration(
                name: "t", retention: .milliseconds(100), segmentInterval: .milliseconds(10)))
        let log = InMemoryChangelog()
        let logged = ChangeLoggingWindowStore(store, changelog: log)
        let (k1, k2, k3, k4) = (Array("k1".utf8), Array("k2".utf8), [UInt8](), Array("k4".utf8))
        try logged.put(key: k1, timestampMs: 5, value: [1])
        try logged.put(key: k2, timestampMs: 6, value: [2, 2])
        try logged.put(key: k3, timestampMs: 7, value: [])
        try logged.put(key: k1, timestampMs: 25, value: [4])
        try logged.put(key: k3, timestampMs: 8, value: [3])
        try logged.delete(key: k3, timestampMs: 8)
        try store.advanceStreamTime(to: 30)
        try store.commit(metadata: ["m": [1]])
        let committed = try store.allEntries().sorted(by: entryOrder)
        #expect(committed.count == 4)
        #expect(store.segmentIDs == [0, 2])

        try logged.put(key: k1, timestampMs: 5, value: [9, 9, 9])  // longer than the committed value
        try logged.put(key: k2, timestampMs: 6, value: [8])  // shorter
        try logged.put(key: k2, timestampMs: 6, value: [7])  // again, in place
        try logged.delete(key: k3, timestampMs: 7)
        try logged.put(key: k3, timestampMs: 8, value: [6])  // revives a committed deleted entry
        #expect(try logged.insertIfAbsent(key: k4, timestampMs: 9, value: [5], conflictRange: 0...9) == .inserted)
        try logged.put(key: k1, timestampMs: 6, value: [4])  // a new timestamp of a committed key
        try logged.put(key: k4, timestampMs: 45, value: [3])  // in a new segment
        #expect(try store.fetch(key: k1, from: 0, to: 99).map(\.value) == [[9, 9, 9], [4], [4]])
        #expect(try store.fetch(key: k3, from: 0, to: 99).map(\.value) == [[6]])
        #expect(store.segmentIDs == [0, 2, 4])
        try store.advanceStreamTime(to: 135)  // drops segments 0 and 2
        #expect(store.segmentIDs == [4])
        #expect(try store.allEntries() == [WindowEntry(key: k4, timestampMs: 45, value: [3])])

        try store.abort()
        #expect(store.streamTimeMs == 30)
        #expect(store.segmentIDs == [0, 2])
        #expect(try store.approximateEntryCount == 4)
        #expect(try store.allEntries().sorted(by: entryOrder) == committed)
        #expect(try store.firstTimestamp(key: k4, from: 0, to: 99) == nil)
        #expect(try store.fetch(key: k2, from: 0, to: 99) == [WindowEntry(key: k2, timestampMs: 6, value: [2, 2])])
        #expect(try store.metadata(forKey: "m") == [1])

        // The store keeps working after the rollback, and a second abort changes nothing more.
        try logged.put(key: k2, timestampMs: 6, value: [1])
        #expect(
            try logged.insertIfAbsent(key: k1, timestampMs: 31, value: [0], conflictRange: 20...31)
                == .conflict(earliestTimestampMs: 25))
        try store.commit(metadata: [:])
        try store.abort()
        #expect(try store.fetch(key: k2, from: 0, to: 99).map(\.value) == [[1]])
        #expect(log.entries.count == 15)
    }

    /// The segment's index on its own, with hash tags chosen to collide and to wrap around the end
    /// of the table, against a dictionary; every rollback is checked against the committed copy.
    /// An empty key is one key, whatever buffer it comes from: a reused array emptied with spare
    /// capacity still has a base address over the previous key's bytes, which must not be read.
    @Test("the empty key is found again from another buffer")
    func emptyKeyFromReusedBuffers() throws {
        let store = try InMemoryWindowStore(
            configuration: WindowStoreConfiguration(name: "t", retention: .seconds(10), segmentInterval: .seconds(1)))
        var key = Array("first".utf8)
        key.removeAll(keepingCapacity: true)
        #expect(try store.insertIfAbsent(key: key, timestampMs: 5, value: [1], conflictRange: 0...10) == .inserted)
        key.append(contentsOf: Array("second".utf8))
        key.removeAll(keepingCapacity: true)
        #expect(
            try store.insertIfAbsent(key: key, timestampMs: 6, value: [1], conflictRange: 0...10)
                == .conflict(earliestTimestampMs: 5))
        let other = Array("xyz".utf8)
        let found = try other.withUnsafeBytes { bytes in
            try store.firstTimestamp(key: UnsafeRawBufferPointer(rebasing: bytes[1..<1]), from: 0, to: 10)
        }
        #expect(found == 5)
    }

    @Test("segment index with colliding tags agrees with a dictionary", arguments: [1, 2, 3, 4] as [UInt64])
    func segmentIndex(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let segment = InMemorySegment(id: 0, firstTimestampMs: 0, lastTimestampMs: 99)
        var model: [[UInt8]: [Int64: [UInt8]]] = [:]
        var committed = model
        let lengths = [0, 1, 14, 100]
        let keys: [[UInt8]] = (0..<200).map { (i: Int) -> [UInt8] in
            guard i > 0 else { return [] }
            let prefix: [UInt8] = [UInt8(i % 256), UInt8(i / 256)]
            return prefix + [UInt8](repeating: UInt8(i % 7), count: lengths[i % 4])
        }
        // Five tags for 200 keys: long probe runs that start at the last slots and wrap to the first.
        func tag(_ i: Int) -> UInt32 { [0xFFFF_FFFF, 0xFFFF_FFFE, 0, 1, 0x8000_0000][i % 5] }

        func check(_ i: Int, from: Int64, to: Int64) {
            let key = keys[i]
            let expected = (model[key] ?? [:]).filter { $0.key >= from && $0.key <= to }.sorted { $0.key < $1.key }
            let head = key.withUnsafeBytes { segment.probe($0, tag: tag(i)).head }
            var fetched: [WindowEntry] = []
            if head >= 0 { segment.collect(chain: head, from: from, to: to, key: key, into: &fetched) }
            #expect(fetched.map(\.timestampMs) == expected.map(\.key), "seed \(seed) key \(i)")
            #expect(fetched.map(\.value) == expected.map(\.value), "seed \(seed) key \(i)")
            let first = head >= 0 ? segment.earliestTimestamp(chain: head, from: from, to: to) : nil
            #expect(first == expected.first?.key, "seed \(seed) key \(i)")
        }

        func checkAll() {
            for i in keys.indices { check(i, from: 0, to: 99) }
            var all: [WindowEntry] = []
            segment.forEachEntry(atLeast: .min) { all.append($0) }
            let expected = model.flatMap { key, times in
                times.map { WindowEntry(key: key, timestampMs: $0.key, value: $0.value) }
            }
            #expect(all.sorted(by: entryOrder) == expected.sorted(by: entryOrder), "seed \(seed)")
            #expect(segment.count == expected.count, "seed \(seed)")
        }

        for step in 0..<3_000 {
            let i = Int.random(in: keys.indices, using: &rng)
            let key = keys[i]
            let ts = Int64.random(in: 0..<12, using: &rng)
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<45:
                let value = [UInt8](repeating: UInt8(step % 256), count: Int.random(in: 0...3, using: &rng))
                key.withUnsafeBytes { k in
                    value.withUnsafeBytes { v in
                        segment.put(k, tag: tag(i), ts, v, probe: segment.probe(k, tag: tag(i)))
                    }
                }
                model[key, default: [:]][ts] = value
            case 45..<65:
                let deleted = key.withUnsafeBytes { segment.delete($0, tag: tag(i), ts) }
                #expect(deleted == (model[key]?[ts] != nil), "seed \(seed) step \(step)")
                model[key]?[ts] = nil
                if model[key]?.isEmpty == true { model[key] = nil }
            case 65..<70:
                segment.commit()
                committed = model
            case 70..<75:
                segment.rollBack()
                model = committed
                checkAll()
            default:
                let from = Int64.random(in: 0..<12, using: &rng)
                check(i, from: from, to: from + Int64.random(in: 0..<12, using: &rng))
            }
        }
        checkAll()
    }
}
