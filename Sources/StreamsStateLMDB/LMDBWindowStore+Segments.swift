internal import StreamsState
internal import StreamsLMDB

// Segments: the id of a timestamp's segment, opening segments and building their filters, and
// dropping the segments that expired as stream time advances.
extension LMDBWindowStore {
    /// The id of the segment holding `ts`: `floor(ts / segmentInterval)`, without dividing when
    /// `ts` falls in the last computed segment or the one before it.
    @inline(__always)
    func segmentID(_ ts: Int64) -> Int64 {
        if ts >= cachedSegmentStart && ts <= cachedSegmentEnd { return cachedSegmentID }
        if ts >= cachedPreviousStart && ts < cachedSegmentStart { return cachedSegmentID - 1 }
        return computeSegmentID(ts)
    }

    func computeSegmentID(_ ts: Int64) -> Int64 {
        let id = ts.floorDivided(by: segmentIntervalMs)
        let (start, overflow) = id.multipliedReportingOverflow(by: segmentIntervalMs)
        if overflow {
            // The segment starts below Int64.min: leave the cache empty rather than clamp it.
            (cachedPreviousStart, cachedSegmentStart, cachedSegmentEnd) = (1, 1, 0)
        } else {
            cachedSegmentID = id
            cachedSegmentStart = start
            // Saturating: a segment reaching past Int64.max ends there; one before a segment that
            // starts within an interval of Int64.min takes every timestamp below it.
            cachedSegmentEnd = start.saturatingAdd(segmentIntervalMs - 1)
            cachedPreviousStart = start.saturatingSubtract(segmentIntervalMs)
        }
        return id
    }

    /// The segment database for `id`, if it exists.
    @inline(__always)
    func segment(_ id: Int64) -> LMDBDatabase? { segments.database(for: id) }

    /// The index in `segments` of segment `id`, created if needed; valid until `segments` changes.
    @inline(__always)
    func createSegment(_ txn: borrowing LMDBWriteTransaction, _ id: Int64) throws(LMDBError) -> Int {
        if let index = segments.index(of: id) { return index }
        return try openNewSegment(txn, id)
    }

    func openNewSegment(_ txn: borrowing LMDBWriteTransaction, _ id: Int64) throws(LMDBError) -> Int {
        // Checked before LMDB creates anything, so that the refused write leaves the batch as it
        // was, as in InMemoryWindowStore; `wrap` turns this into StateStoreError.tooManySegments.
        guard segments.count < segments.capacity else {
            refusedSegmentID = id
            throw LMDBError(code: .databasesFull, operation: "opening segment \(id)")
        }
        let db = try txn.openDatabase(named: Self.segmentPrefix + String(id), create: true)!
        // No filter until a lookup needs one (insertIfAbsent, or a lookup spanning segments).
        return segments.insert(id: id, database: db)!
    }

    /// Builds the filter of the segment at `index` from its entries (in the open transaction, so
    /// including this batch's) and its pending puts, with room for four times as many keys: when
    /// a filter is full, and the first time insertIfAbsent or a lookup spanning several segments
    /// reaches one without a filter. A segment holding an entry whose key cannot be read back gets
    /// no filter, and is searched from then on.
    func rebuildFilter(_ txn: borrowing LMDBWriteTransaction, at index: Int) throws(LMDBError) {
        let db = segments[index].database
        let keys = try txn.count(of: db) + pendingPuts.count(segmentID: segments[index].id)
        var filter = SegmentFilter(wordCount: SegmentFilter.wordCount(forKeys: keys))
        var readable = true
        try txn.forEach(in: db) { (key, value) throws(LMDBError) in
            guard let userKey = WindowKeySchema.userKey(stored: key, value: value) else {
                readable = false
                return false
            }
            filter.add(SegmentFilter.hash(userKey))
            return true
        }
        pendingPuts.forEachKey(segmentID: segments[index].id) { filter.add(SegmentFilter.hash($0)) }
        if readable {
            segments.setFilter(at: index, Optional(consume filter))
        } else {
            segments.setFilter(at: index, nil)  // `filter` is freed by its deinit
        }
    }

    @inline(__always)
    func advanceUnlogged(_ ts: Int64) throws(StateStoreError) {
        guard ts > streamTimeMs else { return }
        streamTimeMs = ts
        // Segment s holds timestamps up to (s + 1) * interval - 1, all expired iff that is below
        // the live floor, that is iff (s + 1) * interval <= liveFloor (no division on this path).
        guard let oldest = segments.first else { return }
        let (end, overflow) = (oldest.id + 1).multipliedReportingOverflow(by: segmentIntervalMs)
        if !overflow && end <= liveFloor { try dropExpiredSegments(streamTime: ts) }
    }

    func dropExpiredSegments(streamTime ts: Int64) throws(StateStoreError) {
        try flushPendingPuts()
        // One segment per body run, chosen inside it: a "map full" (in the flush or a drop)
        // replays the batch from the last commit's stream time, without this advance (it is not
        // in the replay log yet), and reloads the segment table, so both are read afresh.
        var dropped = true
        while dropped {
            dropped = try write { (txn) throws(LMDBError) -> Bool in
                streamTimeMs = max(streamTimeMs, ts)
                let firstLive = liveFloor.floorDivided(by: segmentIntervalMs)
                guard let oldest = segments.first, oldest.id < firstLive else { return false }
                try txn.drop(oldest.database)
                segments.removeFirst()
                return true
            }
        }
    }
}
