import StreamsLMDB
public import StreamsState
public import StreamsStateLMDB

/// How a benchmark opens ``LMDBWindowStore``.
public enum StoreSetup: Sendable {
    /// The C baseline's flags (MDB_WRITEMAP | MDB_NOSYNC) and map size, so that "store / C" measures
    /// the Swift layer only.
    case sameAsBaseline
    /// The store's own defaults (no WRITEMAP, 64 MiB map doubled on demand by replaying the batch):
    /// what a user gets without tuning.
    case defaults
}

extension WindowParameters {
    /// The store configuration with these window semantics.
    public var storeConfiguration: WindowStoreConfiguration {
        WindowStoreConfiguration(
            name: "bench",
            retention: .milliseconds(retentionMs),
            segmentInterval: .milliseconds(segmentIntervalMs)
        )
    }

    /// Opens an empty ``LMDBWindowStore`` in `directory`.
    public func openStore(_ directory: ScratchDirectory, _ setup: StoreSetup = .sameAsBaseline) throws
        -> LMDBWindowStore
    {
        let options: LMDBWindowStore.Options
        switch setup {
        case .sameAsBaseline:
            options = .init(environmentFlags: [.writeMap, .noSync], initialMapSize: mapSize)
        case .defaults:
            options = .init()
        }
        return try LMDBWindowStore(directory: directory.path, configuration: storeConfiguration, options: options)
    }
}

// The loops are written once, generically, and exposed per concrete store so that the optimizer
// specializes them here (the calls into the store are then direct, as in an application).

extension Workload {
    /// Per operation: advance stream time to its timestamp, then insert-if-absent over the dedup
    /// window; commit every `transactionSize` operations. Returns how many were inserted.
    public func putIfAbsent(
        into store: LMDBWindowStore, _ range: Range<Int>? = nil, transactionSize: Int,
        parameters: WindowParameters = .standard
    ) throws -> Int {
        try putIfAbsentLoop(store, range ?? 0..<count, transactionSize, parameters)
    }

    /// ``putIfAbsent(into:_:transactionSize:parameters:)`` for the in-memory store.
    public func putIfAbsent(
        into store: InMemoryWindowStore, transactionSize: Int, parameters: WindowParameters = .standard
    ) throws -> Int {
        try putIfAbsentLoop(store, 0..<count, transactionSize, parameters)
    }

    private func putIfAbsentLoop<S: WindowStore>(
        _ store: S, _ range: Range<Int>, _ transactionSize: Int, _ parameters: WindowParameters
    ) throws -> Int {
        var inserted = 0
        var sinceCommit = 0
        try keys.withUnsafeBytes { k in
            try values.withUnsafeBytes { v in
                for i in range {
                    let ts = timestampsMs[i]
                    try store.advanceStreamTime(to: ts)
                    let key = UnsafeRawBufferPointer(rebasing: k[i * Self.keyLength..<(i + 1) * Self.keyLength])
                    let value = UnsafeRawBufferPointer(rebasing: v[i * Self.valueLength..<(i + 1) * Self.valueLength])
                    if case .inserted = try store.insertIfAbsent(
                        key: key, timestampMs: ts, value: value, conflictRange: parameters.conflictRange(at: ts))
                    {
                        inserted += 1
                    }
                    sinceCommit += 1
                    if sinceCommit == transactionSize {
                        try store.commit(metadata: [:])
                        sinceCommit = 0
                    }
                }
            }
        }
        try store.commit(metadata: [:])
        return inserted
    }

    /// Plain puts of every operation (repeats included), committing every `transactionSize`.
    public func put(into store: LMDBWindowStore, transactionSize: Int) throws {
        var sinceCommit = 0
        try keys.withUnsafeBytes { k in
            try values.withUnsafeBytes { v in
                for i in 0..<count {
                    try store.put(
                        key: UnsafeRawBufferPointer(rebasing: k[i * Self.keyLength..<(i + 1) * Self.keyLength]),
                        timestampMs: timestampsMs[i],
                        value: UnsafeRawBufferPointer(rebasing: v[i * Self.valueLength..<(i + 1) * Self.valueLength]))
                    sinceCommit += 1
                    if sinceCommit == transactionSize {
                        try store.commit(metadata: [:])
                        sinceCommit = 0
                    }
                }
            }
        }
        try store.advanceStreamTime(to: timestampsMs.last ?? .min)
        try store.commit(metadata: [:])
    }

    /// The changelog a store fed with this workload by put-if-absent writes: one entry per inserted
    /// operation, in order.
    public func changelog(parameters: WindowParameters = .standard) -> [ChangelogEntry] {
        var latest: [Key16: Int64] = [:]
        var entries: [ChangelogEntry] = []
        entries.reserveCapacity(count)
        for i in 0..<count {
            let ts = timestampsMs[i]
            let key = key16(i)
            if let seen = latest[key], seen >= ts - parameters.dedupWindowMs { continue }
            latest[key] = ts
            entries.append(
                ChangelogEntry(
                    key: Array(keys[i * Self.keyLength..<(i + 1) * Self.keyLength]),
                    timestampMs: ts,
                    value: Array(values[i * Self.valueLength..<(i + 1) * Self.valueLength])))
        }
        return entries
    }
}

extension Array where Element == ChangelogEntry {
    /// These entries cut into arrays of `size` (the last one may be shorter): `restore(from:)`
    /// takes arrays, and cutting them in a benchmark's setup keeps the copies out of the measurement.
    public func batches(of size: Int) -> [[ChangelogEntry]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}

/// Reads through the store's public API: a lookup is `firstTimestamp(key:from:to:)` over the
/// dedup window (no allocation, like the C baseline's search); a range fetch is
/// `fetch(key:from:to:)`, which returns `WindowEntry` values.
public enum StoreReads {
    /// How many of `keys` have a live entry in the dedup window ending at their timestamp.
    public static func lookup(
        _ store: LMDBWindowStore, keys: [UInt8], timestampsMs: [Int64], parameters: WindowParameters = .standard
    ) throws -> Int {
        var found = 0
        try keys.withUnsafeBytes { k in
            for (i, ts) in timestampsMs.enumerated() {
                let key = UnsafeRawBufferPointer(rebasing: k[i * Workload.keyLength..<(i + 1) * Workload.keyLength])
                if try store.firstTimestamp(key: key, from: ts - parameters.dedupWindowMs, to: ts) != nil { found += 1 }
            }
        }
        return found
    }

    /// Fetches every live entry of each key within ± the dedup window of its timestamp; returns the
    /// number of entries.
    public static func fetch(
        _ store: LMDBWindowStore, keys: [UInt8], timestampsMs: [Int64], parameters: WindowParameters = .standard
    ) throws -> Int {
        var entries = 0
        var checksum: UInt64 = 0
        try keys.withUnsafeBytes { k in
            for (i, ts) in timestampsMs.enumerated() {
                let key = UnsafeRawBufferPointer(rebasing: k[i * Workload.keyLength..<(i + 1) * Workload.keyLength])
                for entry in try store.fetch(
                    key: key, from: ts - parameters.dedupWindowMs, to: ts + parameters.dedupWindowMs)
                {
                    checksum &+= UInt64(bitPattern: entry.timestampMs) &+ UInt64(entry.value.first ?? 0)
                    entries += 1
                }
            }
        }
        precondition(checksum != 1)  // keeps the loop's reads alive
        return entries
    }
}
