import Testing

@testable import StreamsState
@testable import StreamsStateLMDB
import StreamsTestSupport

/// An obviously-correct window store: every entry ever written, filtered by the retention rule on
/// every read. No segments, no transactions beyond a snapshot.
struct WindowStoreModel {
    var entries: [[UInt8]: [Int64: [UInt8]]] = [:]
    var streamTime = Int64.min
    let retention: Int64
    var committed: ([[UInt8]: [Int64: [UInt8]]], Int64) = ([:], .min)

    init(retention: Int64) { self.retention = retention }

    func isLive(_ ts: Int64) -> Bool {
        streamTime == .min || ts > streamTime - retention
    }

    mutating func put(_ key: [UInt8], _ ts: Int64, _ value: [UInt8]) {
        if isLive(ts) { entries[key, default: [:]][ts] = value }
    }

    mutating func insertIfAbsent(_ key: [UInt8], _ ts: Int64, _ value: [UInt8], _ range: ClosedRange<Int64>) -> Int64? {
        if let found = fetch(key, range.lowerBound, range.upperBound).first { return found.timestampMs }
        put(key, ts, value)
        return nil
    }

    func fetch(_ key: [UInt8], _ from: Int64, _ to: Int64) -> [WindowEntry] {
        (entries[key] ?? [:]).filter { $0.key >= from && $0.key <= to && isLive($0.key) }
            .sorted { $0.key < $1.key }
            .map { WindowEntry(key: key, timestampMs: $0.key, value: $0.value) }
    }

    mutating func delete(_ key: [UInt8], _ ts: Int64) { entries[key]?[ts] = nil }
    mutating func advance(_ ts: Int64) { streamTime = max(streamTime, ts) }
    mutating func commit() { committed = (entries, streamTime) }
    mutating func abort() { (entries, streamTime) = committed }

    var all: [WindowEntry] {
        entries.flatMap { key, times in
            times.filter { isLive($0.key) }.map { WindowEntry(key: key, timestampMs: $0.key, value: $0.value) }
        }.sorted(by: entryOrder)
    }
}

func entryOrder(_ a: WindowEntry, _ b: WindowEntry) -> Bool {
    a.key.lexicographicallyPrecedes(b.key) || (a.key == b.key && a.timestampMs < b.timestampMs)
}

@Suite("Window stores against a model")
struct WindowStoreModelTests {
    /// Random operation sequences applied to the LMDB store, the in-memory store and the model;
    /// all three must agree on every read, and both stores must emit the same changelog.
    @Test("LMDB store, in-memory store and model agree", arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func agree(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let retention = Int64.random(in: 5...200, using: &rng)
        let configuration = WindowStoreConfiguration(
            name: "model",
            retention: .milliseconds(retention),
            segmentInterval: .milliseconds(Int64.random(in: 1...100, using: &rng))
        )
        // Odd seeds store keys longer than 6 bytes by hash, all colliding. Seeds above 4 write
        // insertIfAbsent's pending puts to LMDB every two puts, in the middle of transactions.
        let options = LMDBWindowStore.Options(
            longKeyThreshold: seed % 2 == 1 ? 6 : 400,
            keyHash: seed % 2 == 1 ? .constant(7) : .fnv1a,
            maxPendingPuts: seed > 4 ? 2 : 1 << 18
        )
        var lmdb = try LMDBWindowStore(directory: dir.path, configuration: configuration, options: options)
        let memory = InMemoryWindowStore(configuration: configuration)
        let lmdbLog = InMemoryChangelog()
        let memoryLog = InMemoryChangelog()
        var lmdbLogged = ChangeLoggingWindowStore(lmdb, changelog: lmdbLog)
        let memoryLogged = ChangeLoggingWindowStore(memory, changelog: memoryLog)
        var model = WindowStoreModel(retention: retention)

        let keys: [[UInt8]] = (0..<12).map { i in
            let length = [0, 1, 3, 5, 6, 7, 12, 40, 300][i % 9]
            return [UInt8(i)] + [UInt8](repeating: UInt8(i * 7 % 256), count: length)
        }
        var clock: Int64 = Int64.random(in: -1_000...1_000, using: &rng)
        for step in 0..<1_500 {
            let key = keys.randomElement(using: &rng)!
            let ts = clock + Int64.random(in: -retention...(retention / 2), using: &rng)
            let value = [UInt8(step % 256), UInt8(step / 256 % 256)]
            let context = Comment(rawValue: "seed \(seed) step \(step)")
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<30:
                let range = (ts - Int64.random(in: 0...retention, using: &rng))...(ts + Int64.random(in: 0...retention, using: &rng))
                let expected = model.insertIfAbsent(key, ts, value, range)
                #expect(try lmdbLogged.insertIfAbsent(key: key, timestampMs: ts, value: value, conflictRange: range) == expected, context)
                #expect(try memoryLogged.insertIfAbsent(key: key, timestampMs: ts, value: value, conflictRange: range) == expected, context)
            case 30..<45:
                model.put(key, ts, value)
                try lmdbLogged.put(key: key, timestampMs: ts, value: value)
                try memoryLogged.put(key: key, timestampMs: ts, value: value)
            case 45..<60:
                let from = ts - Int64.random(in: 0...retention, using: &rng)
                let to = ts + Int64.random(in: 0...retention, using: &rng)
                let expected = model.fetch(key, from, to)
                #expect(try lmdb.fetch(key: key, from: from, to: to) == expected, context)
                #expect(try memory.fetch(key: key, from: from, to: to) == expected, context)
                #expect(try lmdb.firstTimestamp(key: key, from: from, to: to) == expected.first?.timestampMs, context)
                #expect(try memory.firstTimestamp(key: key, from: from, to: to) == expected.first?.timestampMs, context)
            case 60..<67:
                let existing = model.entries[key]?.keys.randomElement(using: &rng) ?? ts
                model.delete(key, existing)
                try lmdbLogged.delete(key: key, timestampMs: existing)
                try memoryLogged.delete(key: key, timestampMs: existing)
            case 67..<80:
                clock += Int64.random(in: 0...(retention / 3 + 1), using: &rng)
                model.advance(clock)
                try lmdb.advanceStreamTime(to: clock)
                try memory.advanceStreamTime(to: clock)
            case 80..<90:
                model.commit()
                try lmdb.commit(metadata: ["step": [UInt8(step % 256)]])
                try memory.commit(metadata: ["step": [UInt8(step % 256)]])
            case 90..<95:
                model.abort()
                try lmdb.abort()
                try memory.abort()
                clock = max(clock, model.streamTime)
            default:
                // Reopen: uncommitted writes are lost, as after a crash.
                model.abort()
                try memory.abort()
                try lmdb.close()
                lmdb = try LMDBWindowStore(directory: dir.path, configuration: configuration, options: options)
                lmdbLogged = ChangeLoggingWindowStore(lmdb, changelog: lmdbLog)
                #expect(lmdb.integrity == .trusted)
            }
            #expect(lmdb.streamTimeMs == model.streamTime, context)
            #expect(memory.streamTimeMs == model.streamTime, context)
            if step % 100 == 99 {
                let expected = model.all
                #expect(try lmdb.allEntries().sorted(by: entryOrder) == expected, context)
                #expect(try memory.allEntries().sorted(by: entryOrder) == expected, context)
                #expect(try lmdb.approximateEntryCount == memory.approximateEntryCount, context)
                #expect(lmdb.segmentIDs == memory.segmentIDs, context)
            }
        }
        let firstDifference = Array(zip(lmdbLog.entries, memoryLog.entries)).firstIndex { $0 != $1 }
        #expect(firstDifference == nil && lmdbLog.entries.count == memoryLog.entries.count, "changelogs differ at \(String(describing: firstDifference))")
        #expect(lmdbLog.entries.count > 100)
    }
}
