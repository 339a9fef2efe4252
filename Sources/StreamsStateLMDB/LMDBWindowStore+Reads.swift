public import StreamsState
internal import StreamsLMDB

// Reads and scans: the public lookups and counts, and the scan of one key's entries over the
// segments a time range overlaps (asking segment filters when it spans several).
extension LMDBWindowStore {
    /// The number of entries in all segments, expired ones of undropped segments included.
    public var approximateEntryCount: Int {
        get throws(StateStoreError) {
            try checkUsable()
            try flushPendingPuts()
            return try write { (txn) throws(LMDBError) in
                var total = 0
                for i in 0..<segments.count { total += try txn.count(of: segments[i].database) }
                return total
            }
        }
    }

    /// The number of entries of `key` in all segments, expired ones of undropped segments included.
    public func approximateEntryCount(key: UnsafeRawBufferPointer) throws(StateStoreError) -> Int {
        try checkUsable()
        try checkKey(key)
        try flushPendingPuts()
        return try write { (txn) throws(LMDBError) -> Int in
            var total = 0
            try scan(txn, key, from: .min, to: .max) { (_, _) in
                total += 1
                return true
            }
            return total
        }
    }

    /// The number of segments currently stored.
    public var segmentCount: Int { segments.count }

    /// The ids of the segments currently stored, ascending (`id = floor(timestamp / segmentInterval)`).
    public var segmentIDs: [Int64] { segments.ids }

    /// The data file's high-water mark, `(last page + 1) × page size`: the largest size the store
    /// has reached, not the bytes in use. LMDB reuses the pages of expired segments for new
    /// entries but never shrinks the file, so this does not fall as segments are dropped.
    /// After ``close()``, the value at close.
    public var usedBytes: Int { isClosed ? usedBytesAtClose : environment.usedBytes }

    /// The timestamp of the earliest live entry of `key` in `[from, to]`, or `nil`; no allocation.
    public func firstTimestamp(key: UnsafeRawBufferPointer, from fromMs: Int64, to toMs: Int64) throws(StateStoreError)
        -> Int64?
    {
        try checkUsable()
        try checkKey(key)
        let low = max(fromMs, liveFloor)
        guard low <= toMs else { return nil }
        try flushPendingPuts()
        return try write { (txn) throws(LMDBError) -> Int64? in try firstTimestamp(txn, key, from: low, to: toMs) }
    }

    /// The live entries of `key` with `from <= timestamp <= to`, in timestamp order.
    public func fetch(key: UnsafeRawBufferPointer, from fromMs: Int64, to toMs: Int64) throws(StateStoreError)
        -> [WindowEntry]
    {
        try checkUsable()
        try checkKey(key)
        let low = max(fromMs, liveFloor)
        guard low <= toMs else { return [] }
        try flushPendingPuts()
        return try write { (txn) throws(LMDBError) -> [WindowEntry] in
            var result: [WindowEntry] = []
            try scan(txn, key, from: low, to: toMs) { (ts, value) in
                result.append(WindowEntry(key: Array(key), timestampMs: ts, value: Array(value)))
                return true
            }
            return result
        }
    }

    /// Calls `body` with every live entry, segment by segment.
    public func forEachEntry(_ body: (WindowEntry) throws -> Void) throws {
        try checkUsable()
        let floor = liveFloor
        for id in segments.ids {
            // Before each segment: `body` may have inserted since (pending puts). A flush that
            // hits "map full" reloads the segment table, so the database is looked up after it.
            try flushPendingPuts()
            guard let database = segments.database(for: id) else { continue }
            var entries: [WindowEntry] = []
            var damaged = false
            try write { (txn) throws(LMDBError) in
                entries.removeAll(keepingCapacity: true)
                try txn.forEach(in: database) { (k, v) throws(LMDBError) in
                    guard let entry = WindowKeySchema.decode(key: k, value: v) else {
                        damaged = true
                        return false
                    }
                    if entry.timestampMs >= floor { entries.append(entry) }
                    return true
                }
            }
            if damaged {
                throw StateStoreError(
                    .corrupt,
                    "segment \(id) of \(directory) holds a malformed entry; delete the store to rebuild it from the changelog"
                )
            }
            for entry in entries { try body(entry) }
        }
    }

    /// The timestamp of the first entry of `key` in `[from, to]`, over all segments in range.
    @inline(__always)
    func firstTimestamp(
        _ txn: borrowing LMDBWriteTransaction, _ key: UnsafeRawBufferPointer, from: Int64, to: Int64
    ) throws(LMDBError) -> Int64? {
        var found: Int64?
        try scan(txn, key, from: from, to: to) { (ts, _) in
            found = ts
            return false
        }
        return found
    }

    /// Calls `body` with each entry of `key` in `[from, to]` in time order until it returns false.
    @inline(__always)
    func scan(
        _ txn: borrowing LMDBWriteTransaction,
        _ key: UnsafeRawBufferPointer,
        from: Int64,
        to: Int64,
        _ body: (Int64, UnsafeRawBufferPointer) -> Bool
    ) throws(LMDBError) {
        let first = segmentID(from)
        let last = segmentID(to)
        let long = schema.isLong(key)
        var start = 0
        while start < segments.count && segments[start].id < first { start += 1 }
        var end = start
        while end < segments.count && segments[end].id <= last { end += 1 }
        // (The public lookups. insertIfAbsent has its own, which always uses filters because it
        // defers its puts.) Filters pay off here when the range spans several segments: each one
        // they rule out saves a B-tree descent; within one segment a hit would only pay the hash.
        let filtered = end - start > 1
        let hash = filtered ? SegmentFilter.hash(key) : 0
        for i in start..<end {
            if filtered && segments[i].needsFilter {
                // The first lookup that spans this segment and another: build its filter, once.
                try rebuildFilter(txn, at: i)
            }
            if filtered && !segments.mayContain(at: i, hash) { continue }
            let database = segments[i].database
            if long {
                guard let chain = try findChain(txn, key, in: database) else { continue }
                let length = WindowKeySchema.encodeLong(
                    hash: chain.hash, chain: chain.chain, from, into: keyBuffer.bytes)
                let go = try txn.withCachedCursor(on: database) { (cursor) throws(LMDBError) -> Bool in
                    var more = try cursor.seek(atLeast: keyBuffer.prefix(length))
                    while more {
                        let stored = cursor.key
                        guard WindowKeySchema.storedKey(stored, isLongWithHash: chain.hash),
                            WindowKeySchema.chain(ofLong: stored) == chain.chain
                        else { return true }
                        let ts = WindowKeySchema.timestamp(of: stored)
                        if ts > to { return true }
                        guard let (_, value) = WindowKeySchema.splitLongValue(cursor.value) else { return true }
                        if !body(ts, value) { return false }
                        more = try cursor.next()
                    }
                    return true
                }
                if !go { return }
            } else {
                let length = schema.encodeShort(key, from, into: keyBuffer.bytes)
                var cursor = try txn.cachedCursor(on: database)
                var more = try cursor.seek(atLeast: keyBuffer.prefix(length))
                while more {
                    let stored = cursor.key
                    guard WindowKeySchema.storedKey(stored, matchesShort: key) else { break }
                    let ts = WindowKeySchema.timestamp(of: stored)
                    if ts > to { break }
                    if !body(ts, cursor.value) { return }
                    more = try cursor.next()
                }
            }
        }
    }
}
