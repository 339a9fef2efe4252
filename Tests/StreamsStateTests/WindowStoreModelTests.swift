import Foundation
import Testing

@testable import StreamsState
@testable import StreamsStateLMDB
import StreamsTestSupport

/// An obviously-correct window store: every entry ever written, filtered by the retention rule on
/// every read; no transactions beyond a snapshot. Its only notion of segments is which ids exist
/// (created by a write, dropped once wholly expired), for the stores' segment limit.
struct WindowStoreModel {
    var entries: [[UInt8]: [Int64: [UInt8]]] = [:]
    var streamTime = Int64.min
    let retention: Int64
    let segmentInterval: Int64
    let maxKeySize: Int
    let maxSegments: Int
    /// The ids of the segments that exist.
    var segments: Set<Int64> = []
    var committed: ([[UInt8]: [Int64: [UInt8]]], Int64, Set<Int64>) = ([:], .min, [])

    init(
        retention: Int64,
        segmentInterval: Int64 = 1,
        maxKeySize: Int = WindowStoreConfiguration.defaultMaxKeySize,
        maxSegments: Int = .max
    ) {
        self.retention = retention
        self.segmentInterval = segmentInterval
        self.maxKeySize = maxKeySize
        self.maxSegments = maxSegments
    }

    func isLive(_ ts: Int64) -> Bool {
        streamTime == .min || ts > streamTime - retention
    }

    /// Why both stores refuse a write of `(key, ts)`, if they do: a key over the limit, or a
    /// live entry needing a new segment while `maxSegments` exist.
    func refusal(_ key: [UInt8], _ ts: Int64) -> StateStoreError.Code? {
        if key.count > maxKeySize { return .tooLarge }
        let id = ts.floorDivided(by: segmentInterval)
        if isLive(ts) && !segments.contains(id) && segments.count >= maxSegments { return .tooManySegments }
        return nil
    }

    mutating func put(_ key: [UInt8], _ ts: Int64, _ value: [UInt8]) throws(Refused) {
        if let code = refusal(key, ts) { throw Refused(code) }
        if isLive(ts) {
            entries[key, default: [:]][ts] = value
            segments.insert(ts.floorDivided(by: segmentInterval))
        }
    }

    /// A conflict first (whatever `ts`), then an expired entry, else an insert: the order of
    /// ``InsertOutcome``.
    mutating func insertIfAbsent(_ key: [UInt8], _ ts: Int64, _ value: [UInt8], _ range: ClosedRange<Int64>)
        throws(Refused) -> InsertOutcome
    {
        if let found = try fetch(key, range.lowerBound, range.upperBound).first {
            return .conflict(earliestTimestampMs: found.timestampMs)
        }
        guard isLive(ts) else { return .expired }
        try put(key, ts, value)
        return .inserted
    }

    func fetch(_ key: [UInt8], _ from: Int64, _ to: Int64) throws(Refused) -> [WindowEntry] {
        if key.count > maxKeySize { throw Refused(.tooLarge) }
        return (entries[key] ?? [:]).filter { $0.key >= from && $0.key <= to && isLive($0.key) }
            .sorted { $0.key < $1.key }
            .map { WindowEntry(key: key, timestampMs: $0.key, value: $0.value) }
    }

    mutating func delete(_ key: [UInt8], _ ts: Int64) throws(Refused) {
        if key.count > maxKeySize { throw Refused(.tooLarge) }
        entries[key]?[ts] = nil
    }

    mutating func advance(_ ts: Int64) {
        streamTime = max(streamTime, ts)
        // A segment is dropped once its last timestamp has expired.
        segments = segments.filter { isLive(($0 + 1) * segmentInterval - 1) }
    }
    mutating func commit() { committed = (entries, streamTime, segments) }
    mutating func abort() { (entries, streamTime, segments) = committed }

    var all: [WindowEntry] {
        entries.flatMap { key, times in
            times.filter { isLive($0.key) }.map { WindowEntry(key: key, timestampMs: $0.key, value: $0.value) }
        }.sorted(by: entryOrder)
    }
}

/// A refused operation, by its error code: what the model predicts and what the stores throw.
struct Refused: Error, Equatable {
    let code: String
    init(_ code: StateStoreError.Code) { self.code = code.name }
}

/// `body`'s result, or the code of the ``StateStoreError`` it threw (other errors fail the test).
func outcome<T: Equatable>(_ body: () throws -> T) -> Result<T, Refused> {
    do {
        return .success(try body())
    } catch let error as Refused {
        return .failure(error)
    } catch let error as StateStoreError {
        return .failure(Refused(error.code))
    } catch {
        Issue.record("unexpected error \(error)")
        return .failure(Refused(.storage))
    }
}

func entryOrder(_ a: WindowEntry, _ b: WindowEntry) -> Bool {
    a.key.lexicographicallyPrecedes(b.key) || (a.key == b.key && a.timestampMs < b.timestampMs)
}

@Suite("Window stores against a model")
struct WindowStoreModelTests {
    /// Random operation sequences applied to the LMDB store, the in-memory store and the model;
    /// all three must agree on every read, and both stores must emit the same changelog.
    ///
    /// Both stores get the same limits, tight enough to be met: at most as many segments as the
    /// retention needs (``WindowStoreConfiguration/segmentsNeeded``), so that writes ahead of
    /// stream time hit the segment limit, and for seeds divisible by 3 a key limit of 41 bytes,
    /// which the longest test key exceeds. Refused operations must be refused alike, with the
    /// same code, and change nothing. Inserts must report the model's outcome exactly; one in
    /// eight reaches back a retention further, so that every outcome occurs, `.expired` included.
    /// At the end both stores are closed: every operation throws `.closed`.
    @Test("LMDB store, in-memory store and model agree", arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func agree(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let retention = Int64.random(in: 5...200, using: &rng)
        let interval = Int64.random(in: 1...100, using: &rng)
        let configuration = WindowStoreConfiguration(
            name: "model",
            retention: .milliseconds(retention),
            segmentInterval: .milliseconds(interval)
        )
        let maxSegments = Int(configuration.segmentsNeeded)
        let maxKeySize = seed % 3 == 0 ? 41 : WindowStoreConfiguration.defaultMaxKeySize
        // Odd seeds store keys longer than 6 bytes by hash, all colliding. Seeds above 4 write
        // insertIfAbsent's pending puts to LMDB every two puts, in the middle of transactions.
        let options = LMDBWindowStore.Options(
            maxSegments: maxSegments,
            longKeyThreshold: seed % 2 == 1 ? 6 : 400,
            keyHash: seed % 2 == 1 ? .constant(7) : .fnv1a,
            maxKeySize: maxKeySize,
            maxPendingPuts: seed > 4 ? 2 : 1 << 18
        )
        var lmdb = try LMDBWindowStore(directory: dir.path, configuration: configuration, options: options)
        let memory = try InMemoryWindowStore(configuration: configuration, maxKeySize: maxKeySize, maxSegments: maxSegments)
        let lmdbLog = InMemoryChangelog()
        let memoryLog = InMemoryChangelog()
        var lmdbLogged = ChangeLoggingWindowStore(lmdb, changelog: lmdbLog)
        let memoryLogged = ChangeLoggingWindowStore(memory, changelog: memoryLog)
        var model = WindowStoreModel(
            retention: retention, segmentInterval: interval, maxKeySize: maxKeySize, maxSegments: maxSegments)
        var refusals: [String: Int] = [:]
        var outcomes: [String: Int] = [:]

        let keys: [[UInt8]] = (0..<12).map { i in
            let length = [0, 1, 3, 5, 6, 7, 12, 40, 300][i % 9]
            return [UInt8(i)] + [UInt8](repeating: UInt8(i * 7 % 256), count: length)
        }
        var clock: Int64 = Int64.random(in: -1_000...1_000, using: &rng)
        for step in 0..<1_500 {
            let key = keys.randomElement(using: &rng)!
            // One write in 20 reaches up to two retentions and intervals ahead of stream time,
            // where new segments meet the segment limit.
            let ahead = Int.random(in: 0..<20, using: &rng) == 0 ? 2 * (retention + interval) : retention / 2
            let ts = clock + Int64.random(in: -retention...ahead, using: &rng)
            let value = [UInt8(step % 256), UInt8(step / 256 % 256)]
            let context = Comment(rawValue: "seed \(seed) step \(step)")
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<30:
                // Not from `rng`, so that the sequence of operations stays that of the seed.
                let at = step % 8 == 0 ? ts - retention : ts
                let range = (at - Int64.random(in: 0...retention, using: &rng))...(at + Int64.random(in: 0...retention, using: &rng))
                let expected = outcome { try model.insertIfAbsent(key, at, value, range) }
                #expect(outcome { try lmdbLogged.insertIfAbsent(key: key, timestampMs: at, value: value, conflictRange: range) } == expected, context)
                #expect(outcome { try memoryLogged.insertIfAbsent(key: key, timestampMs: at, value: value, conflictRange: range) } == expected, context)
                switch expected {
                case .failure(let refused): refusals[refused.code, default: 0] += 1
                case .success(.inserted): outcomes["inserted", default: 0] += 1
                case .success(.conflict): outcomes["conflict", default: 0] += 1
                case .success(.expired): outcomes["expired", default: 0] += 1
                }
            case 30..<45:
                let expected = outcome { try model.put(key, ts, value); return 0 }
                #expect(outcome { try lmdbLogged.put(key: key, timestampMs: ts, value: value); return 0 } == expected, context)
                #expect(outcome { try memoryLogged.put(key: key, timestampMs: ts, value: value); return 0 } == expected, context)
                if case .failure(let refused) = expected { refusals[refused.code, default: 0] += 1 }
            case 45..<60:
                let from = ts - Int64.random(in: 0...retention, using: &rng)
                let to = ts + Int64.random(in: 0...retention, using: &rng)
                let expected = outcome { try model.fetch(key, from, to) }
                #expect(outcome { try lmdb.fetch(key: key, from: from, to: to) } == expected, context)
                #expect(outcome { try memory.fetch(key: key, from: from, to: to) } == expected, context)
                #expect(outcome { try lmdb.firstTimestamp(key: key, from: from, to: to) } == expected.map { $0.first?.timestampMs }, context)
                #expect(outcome { try memory.firstTimestamp(key: key, from: from, to: to) } == expected.map { $0.first?.timestampMs }, context)
            case 60..<67:
                let existing = model.entries[key]?.keys.randomElement(using: &rng) ?? ts
                let expected = outcome { try model.delete(key, existing); return 0 }
                #expect(outcome { try lmdbLogged.delete(key: key, timestampMs: existing); return 0 } == expected, context)
                #expect(outcome { try memoryLogged.delete(key: key, timestampMs: existing); return 0 } == expected, context)
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
                #expect(memory.segmentIDs == model.segments.sorted(), context)
            }
        }
        // The limits were met (a limit of dozens of small segments may not be, in 1,500 steps),
        // and the seeds with the 41-byte key limit refused the longest key.
        if maxSegments <= 10 {
            #expect(refusals[StateStoreError.Code.tooManySegments.name, default: 0] > 0, "\(refusals)")
        }
        #expect((refusals[StateStoreError.Code.tooLarge.name, default: 0] > 0) == (seed % 3 == 0), "\(refusals)")
        // Every outcome of insertIfAbsent occurred, so the stores were compared on each.
        #expect(outcomes.keys.sorted() == ["conflict", "expired", "inserted"], "\(outcomes)")
        try lmdb.close()
        memory.close()
        #expect(StoreSafetyTests.everyOperation(of: lmdb, throws: .closed) == [])
        #expect(StoreSafetyTests.everyOperation(of: memory, throws: .closed) == [])
        let firstDifference = Array(zip(lmdbLog.entries, memoryLog.entries)).firstIndex { $0 != $1 }
        #expect(firstDifference == nil && lmdbLog.entries.count == memoryLog.entries.count, "changelogs differ at \(String(describing: firstDifference))")
        #expect(lmdbLog.entries.count > 100)
    }
}

// MARK: Edges where the stores must agree (issue 11, item 5), with their default limits

extension WindowStoreModelTests {
    /// Both stores with their default options in a fresh directory.
    static func bothStores(_ configuration: WindowStoreConfiguration, in dir: TemporaryDirectory) throws
        -> [(name: String, store: any WindowStore)]
    {
        [
            ("lmdb", try LMDBWindowStore(directory: dir.path, configuration: configuration)),
            ("in-memory", try InMemoryWindowStore(configuration: configuration)),
        ]
    }

    @Test("a key over 16 MiB is refused with .tooLarge by both stores, for every key operation; 16 MiB is accepted")
    func keyLimit() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let limit = WindowStoreConfiguration.defaultMaxKeySize
        #expect(limit == LMDBWindowStore.Options().maxKeySize)
        let configuration = WindowStoreConfiguration(name: "keys", retention: .seconds(10))
        let huge = [UInt8](repeating: 7, count: 20 << 20)
        let largest = [UInt8](repeating: 8, count: limit)
        for (name, store) in try Self.bothStores(configuration, in: dir) {
            let refused: [(String, () throws -> Void)] = [
                ("put", { try store.put(key: huge, timestampMs: 1, value: [1]) }),
                ("insertIfAbsent", { _ = try store.insertIfAbsent(key: huge, timestampMs: 1, value: [1], conflictRange: 0...1) }),
                ("delete", { try store.delete(key: huge, timestampMs: 1) }),
                ("fetch", { _ = try store.fetch(key: huge, from: 0, to: 1) }),
                ("firstTimestamp", { _ = try store.firstTimestamp(key: huge, from: 0, to: 1) }),
                ("approximateEntryCount(key:)", { _ = try store.approximateEntryCount(key: huge) }),
                ("restore", { try store.restore(from: [ChangelogEntry(key: huge, timestampMs: 1, value: [1])]) }),
            ]
            for (operation, body) in refused {
                let error = #expect(throws: StateStoreError.self, "\(name) \(operation)") { try body() }
                #expect(error?.code == .tooLarge, "\(name) \(operation): \(String(describing: error))")
                #expect(error?.message.contains("maxKeySize") == true, "\(name) \(operation)")
            }
            #expect(try store.approximateEntryCount == 0, "\(name)")
            #expect(try store.insertIfAbsent(key: largest, timestampMs: 1, value: [1], conflictRange: 0...1) == .inserted, "\(name)")
            #expect(try store.insertIfAbsent(key: largest, timestampMs: 2, value: [1], conflictRange: 0...2) == .conflict(earliestTimestampMs: 1), "\(name)")
            try store.commit(metadata: [:])
            try store.close()
        }
    }

    @Test("24 h retention with 60 s segments is refused at open by both stores, naming segmentInterval and maxSegments")
    func segmentLimitAtOpen() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let configuration = WindowStoreConfiguration(name: "day", retention: .seconds(86_400), segmentInterval: .seconds(60))
        #expect(configuration.segmentsNeeded == 1_442)
        let lmdb = #expect(throws: StateStoreError.self) {
            _ = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        }
        let memory = #expect(throws: StateStoreError.self) { _ = try InMemoryWindowStore(configuration: configuration) }
        for error in [lmdb, memory] {
            #expect(error?.code == .invalidConfiguration, "\(String(describing: error))")
            #expect(error?.message.contains("WindowStoreConfiguration.segmentInterval of at least 86574 ms") == true, "\(String(describing: error))")
            #expect(error?.message.contains("maxSegments raised to 1442") == true, "\(String(describing: error))")
        }
        #expect(lmdb?.message.contains("LMDBWindowStore.Options.maxSegments (1000)") == true)
        // Nothing was created: the same directory opens with settings that fit.
        #expect(!FileManager.default.fileExists(atPath: dir.file("data.mdb")))
        let fitting = WindowStoreConfiguration(name: "day", retention: .seconds(86_400), segmentInterval: .milliseconds(86_574))
        for (_, store) in try Self.bothStores(fitting, in: dir) { try store.close() }
        let options = LMDBWindowStore.Options(maxSegments: 1_442)
        try LMDBWindowStore.destroy(directory: dir.path)
        try LMDBWindowStore(directory: dir.path, configuration: configuration, options: options).close()
        try InMemoryWindowStore(configuration: configuration, maxSegments: 1_442).close()
    }

    @Test("the 1,001st segment is refused with .tooManySegments by both stores, changing nothing; once stream time drops segments it is accepted")
    func segmentLimitAtRuntime() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        // 1 ms segments and 999 ms retention need exactly the default 1,000 segments.
        let configuration = WindowStoreConfiguration(name: "many", retention: .milliseconds(999), segmentInterval: .milliseconds(1))
        #expect(configuration.segmentsNeeded == Int64(WindowStoreConfiguration.defaultMaxSegments))
        var segmentIDs: [[Int64]] = []
        for (name, store) in try Self.bothStores(configuration, in: dir) {
            for ts in 0..<1_000 as Range<Int64> {
                #expect(try store.insertIfAbsent(key: [1], timestampMs: ts, value: [1], conflictRange: ts...ts) == .inserted)
            }
            try store.commit(metadata: [:])
            for attempt in ["insertIfAbsent", "put", "restore"] {
                let error = #expect(throws: StateStoreError.self, "\(name) \(attempt)") {
                    switch attempt {
                    case "insertIfAbsent": _ = try store.insertIfAbsent(key: [2], timestampMs: 1_000, value: [1], conflictRange: 1_000...1_000)
                    case "put": try store.put(key: [2], timestampMs: 1_000, value: [1])
                    default: try store.restore(from: [ChangelogEntry(key: [2], timestampMs: 1_000, value: [1])])
                    }
                }
                #expect(error?.code == .tooManySegments, "\(name) \(attempt): \(String(describing: error))")
                #expect(error?.message.contains("segment 1000") == true, "\(name) \(attempt)")
                #expect(error?.message.contains("maxSegments") == true, "\(name) \(attempt)")
            }
            // The refused writes left the batch as it was; a write into an existing segment works.
            #expect(try store.approximateEntryCount == 1_000, "\(name)")
            try store.put(key: [3], timestampMs: 999, value: [1])
            // Stream time 1,000 (live from 2) drops segments 0 and 1: segment 1000 fits now.
            try store.advanceStreamTime(to: 1_000)
            try store.put(key: [2], timestampMs: 1_000, value: [1])
            try store.commit(metadata: [:])
            #expect(try store.fetch(key: [2], from: 0, to: 2_000).map(\.timestampMs) == [1_000], "\(name)")
            segmentIDs.append((store as? LMDBWindowStore)?.segmentIDs ?? (store as! InMemoryWindowStore).segmentIDs)
            try store.close()
        }
        #expect(segmentIDs[0] == segmentIDs[1])
        #expect(segmentIDs[0] == Array(2...1_000))
    }
}
