internal import StreamsState
internal import StreamsLMDB

// Pending puts: insertIfAbsent's lookup over LMDB and the puts not yet written, the deferral of
// a short key's put, and the flush that writes them in key order (see PendingPuts).
extension LMDBWindowStore {
    /// The hash tag of `key` in ``PendingPuts``, from its filter hash.
    @inline(__always)
    static func pendingTag(_ hash: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: hash >> 17) }

    /// `insertIfAbsent`'s lookup of short `key`: the earliest timestamp in `[from, to]` over LMDB
    /// and the pending puts, asking LMDB only of segments whose filter may hold the key.
    @inline(__always)
    func firstShortTimestamp(
        _ txn: borrowing LMDBWriteTransaction,
        _ key: UnsafeRawBufferPointer, hash: UInt64, from: Int64, to: Int64
    ) throws(LMDBError) -> Int64? {
        let first = segmentID(from)
        let last = segmentID(to)
        var i = 0
        while i < segments.count && segments[i].id < first { i += 1 }
        while i < segments.count && segments[i].id <= last {
            if segments[i].needsFilter { try rebuildFilter(txn, at: i) }
            let (id, database, mayContain) = (segments[i].id, segments[i].database, segments.mayContain(at: i, hash))
            i += 1
            if !mayContain { continue }
            var best = pendingPuts.earliestTimestamp(
                key, tag: Self.pendingTag(hash), segmentID: id, from: from, to: to)
            let length = schema.encodeShort(key, from, into: keyBuffer.bytes)
            var cursor = try txn.cachedCursor(on: database)
            if try cursor.seek(atLeast: keyBuffer.prefix(length)) {
                let stored = cursor.key
                if WindowKeySchema.storedKey(stored, matchesShort: key) {
                    let ts = WindowKeySchema.timestamp(of: stored)
                    if ts <= to && ts < (best ?? .max) { best = ts }
                }
            }
            // Segments partition time: the first one holding the key holds its earliest entry.
            if let best { return best }
        }
        return nil
    }

    /// Records the put of short `key` as pending in its segment (created if needed), or writes it
    /// directly when the segment has no usable filter (a lookup could not skip LMDB there, and
    /// only a filter that knows the pending keys may send a lookup past them).
    @inline(__always)
    func deferPut(
        _ txn: borrowing LMDBWriteTransaction,
        _ key: UnsafeRawBufferPointer, hash: UInt64, _ ts: Int64, _ value: UnsafeRawBufferPointer
    ) throws(LMDBError) {
        let id = segmentID(ts)
        let index = try createSegment(txn, id)
        if segments[index].needsFilter { try rebuildFilter(txn, at: index) }
        guard segments[index].hasFilter else {
            // Pending puts go first, so that they never overwrite a later direct one.
            try drainPendingPuts(txn)
            let length = schema.encodeShort(key, ts, into: keyBuffer.bytes)
            var cursor = try txn.cachedCursor(on: segments[index].database)
            try cursor.put(key: keyBuffer.prefix(length), value: value)
            return
        }
        // Grow a full filter first: after the put is pending nothing may fail, or the put would
        // stay pending without being in the replay log, nor in the changelog (a changelogging
        // decorator logs only what the store reports as inserted).
        if segments.filterIsFull(at: index) { try rebuildFilter(txn, at: index) }
        pendingPuts.add(key, tag: Self.pendingTag(hash), ts, value, segmentID: id)
        // Full again after this key: the next put rebuilds it.
        _ = segments.addToFilter(at: index, key)
    }

    /// Writes the pending puts to LMDB, in key order per segment.
    func flushPendingPuts() throws(StateStoreError) {
        guard !pendingPuts.isEmpty else { return }
        // After a "map full", write() replays the log (pending puts included) and clears them,
        // so a second run of the body finds nothing left.
        try write { (txn) throws(LMDBError) in try drainPendingPuts(txn) }
    }

    /// ``flushPendingPuts()`` inside an open transaction.
    func drainPendingPuts(_ txn: borrowing LMDBWriteTransaction) throws(LMDBError) {
        guard !pendingPuts.isEmpty else { return }
        var currentID = Int64.min
        var database = LMDBDatabase?.none
        try pendingPuts.drain(schema: schema) { (id, storedKey, value) throws(LMDBError) in
            if id != currentID || database == nil {
                currentID = id
                database = segments.database(for: id)
            }
            var cursor = try txn.cachedCursor(on: database!)
            try cursor.put(key: storedKey, value: value)
        }
    }
}
