/// A ``WindowStore`` in memory, with the same semantics as ``LMDBWindowStore``: the same
/// segments, retention and transactions (``abort()`` rolls back every write since the last
/// commit). Like every store it logs nothing itself: ``ChangeLoggingWindowStore`` over it does.
///
/// For tests, for the test driver, and as the no-durability baseline in benchmarks. Its state is
/// lost with the process; ``commit(metadata:)`` only makes writes permanent against ``abort()``.
///
/// Each segment keeps its key and value bytes in one growing arena with a hash index over them,
/// so inserts and lookups allocate nothing, and an expired segment is dropped whole. A rollback
/// truncates what the transaction appended and restores the few committed entries it overwrote or
/// deleted, and the segments it created or dropped.
///
/// Kafka Streams counterpart: `InMemoryWindowStore`.
///
/// - Important: Owned by one thread at a time, like every ``StateStore``.
public final class InMemoryWindowStore: WindowStore {
    /// The store's name.
    public let name: String
    /// How long an entry stays live, in stream-time milliseconds.
    public let retentionMs: Int64
    /// The span of one segment in milliseconds.
    public let segmentIntervalMs: Int64
    /// The largest key accepted, in bytes; a longer one throws ``StateStoreError/Code/tooLarge``.
    public let maxKeySize: Int
    /// The most segments held at once; a write needing one more throws
    /// ``StateStoreError/Code/tooManySegments``.
    public let maxSegments: Int
    /// The current stream time (pending until commit), or `Int64.min`.
    @exclusivity(unchecked) public private(set) var streamTimeMs: Int64 = .min

    // The hot mutable state is marked `@exclusivity(unchecked)`: the store is single-threaded by
    // contract and these properties are never accessed re-entrantly.
    /// The segments, ascending by id (and so by time).
    @exclusivity(unchecked) private var segments: [InMemorySegment] = []
    /// The segments as of the last commit; their own state rolls back separately.
    private var committedSegments: [InMemorySegment] = []
    private var metadataValues: [String: [UInt8]] = [:]
    private var committedStreamTimeMs: Int64 = .min
    /// The hash seeds of this store's key index.
    private let seeds: (UInt64, UInt64)
    private var isClosed = false

    /// Creates an empty store, with the same limits as `LMDBWindowStore` by default.
    ///
    /// - Parameters:
    ///   - configuration: The store's name, retention and segment interval.
    ///   - maxKeySize: The largest key accepted, in bytes (`LMDBWindowStore.Options.maxKeySize`).
    ///   - maxSegments: The most segments held at once (`LMDBWindowStore.Options.maxSegments`).
    /// - Throws: ``StateStoreError`` with code ``StateStoreError/Code/invalidConfiguration`` for a
    ///   retention under 1 ms, or a retention and segment interval that may need more than
    ///   `maxSegments` segments at once (``WindowStoreConfiguration/segmentsNeeded``).
    public init(
        configuration: WindowStoreConfiguration,
        maxKeySize: Int = WindowStoreConfiguration.defaultMaxKeySize,
        maxSegments: Int = WindowStoreConfiguration.defaultMaxSegments
    ) throws(StateStoreError) {
        try configuration.validate()
        try WindowStoreConfiguration.checkSegmentCount(
            store: configuration.name,
            retentionMs: configuration.retentionMs,
            segmentIntervalMs: configuration.segmentIntervalMs,
            maxSegments: maxSegments,
            setting: "InMemoryWindowStore's maxSegments"
        )
        name = configuration.name
        retentionMs = configuration.retentionMs
        segmentIntervalMs = configuration.segmentIntervalMs
        self.maxKeySize = maxKeySize
        self.maxSegments = maxSegments
        var random = SystemRandomNumberGenerator()
        seeds = (random.next(), random.next())
    }

    /// The ids of the segments currently stored, ascending.
    public var segmentIDs: [Int64] { segments.map(\.id) }

    /// The number of entries in all segments, expired ones of undropped segments included.
    public var approximateEntryCount: Int {
        get throws(StateStoreError) {
            try checkOpen()
            return segments.reduce(0) { $0 + $1.count }
        }
    }

    /// The number of entries of `key` in all segments, expired ones of undropped segments included.
    public func approximateEntryCount(key: UnsafeRawBufferPointer) throws(StateStoreError) -> Int {
        try checkOpen()
        try checkKey(key)
        let tag = tag(key)
        return segments.reduce(0) { total, segment in
            let head = segment.probe(key, tag: tag).head
            return total + (head >= 0 ? segment.count(chain: head) : 0)
        }
    }

    private var liveFloor: Int64 { streamTimeMs.saturatingSubtract(retentionMs).saturatingAdd(1) }

    @inline(__always)
    private func tag(_ key: UnsafeRawBufferPointer) -> UInt32 { InMemorySegment.tag(of: key, seeds: seeds) }

    // MARK: Segments

    /// The segment holding `timestampMs`, if it exists.
    @inline(__always)
    private func segment(containing timestampMs: Int64) -> InMemorySegment? {
        // Newest first: most writes go to the newest segment.
        var i = segments.count - 1
        while i >= 0 {
            let segment = segments[i]
            if timestampMs >= segment.firstTimestampMs { return timestampMs <= segment.lastTimestampMs ? segment : nil }
            i -= 1
        }
        return nil
    }

    /// The segment holding `timestampMs`, created if needed.
    ///
    /// - Throws: ``StateStoreError/Code/tooManySegments`` when ``maxSegments`` segments exist.
    private func createSegment(containing timestampMs: Int64) throws(StateStoreError) -> InMemorySegment {
        if let segment = segment(containing: timestampMs) { return segment }
        let interval = segmentIntervalMs
        let id = timestampMs.floorDivided(by: interval)
        guard segments.count < maxSegments else { throw tooManySegments(id) }
        // A segment reaching below Int64.min or above Int64.max ends there.
        let (start, underflow) = id.multipliedReportingOverflow(by: interval)
        let (end, overflow) = (id + 1).multipliedReportingOverflow(by: interval)
        let segment = InMemorySegment(
            id: id,
            firstTimestampMs: underflow ? .min : start,
            lastTimestampMs: overflow ? .max : end - 1
        )
        segments.insert(segment, at: segments.firstIndex { $0.id > id } ?? segments.endIndex)
        return segment
    }

    /// The range of `segments` indices that overlap `[from, to]`.
    @inline(__always)
    private func segmentRange(from: Int64, to: Int64) -> Range<Int> {
        var end = segments.count
        while end > 0 && segments[end - 1].firstTimestampMs > to { end -= 1 }
        var start = end
        while start > 0 && segments[start - 1].lastTimestampMs >= from { start -= 1 }
        return start..<end
    }

    // MARK: Reads and writes

    /// Writes `(key, timestampMs) -> value`; a no-op for an already expired entry.
    public func put(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer)
        throws(StateStoreError)
    {
        try checkOpen()
        try checkTimestamp(timestampMs, store: name)
        try checkKey(key)
        guard timestampMs >= liveFloor else { return }
        try write(key, timestampMs, value)
    }

    private func write(_ key: UnsafeRawBufferPointer, _ timestampMs: Int64, _ value: UnsafeRawBufferPointer)
        throws(StateStoreError)
    {
        let tag = tag(key)
        let segment = try createSegment(containing: timestampMs)
        segment.put(key, tag: tag, timestampMs, value, probe: segment.probe(key, tag: tag))
    }

    /// Inserts unless a live entry of `key` lies in `conflictRange`; see ``WindowStore``.
    public func insertIfAbsent(
        key: UnsafeRawBufferPointer,
        timestampMs: Int64,
        value: UnsafeRawBufferPointer,
        conflictRange: ClosedRange<Int64>
    ) throws(StateStoreError) -> InsertOutcome {
        try checkOpen()
        try checkTimestamp(timestampMs, store: name)
        try checkKey(key)
        let floor = liveFloor
        let low = max(conflictRange.lowerBound, floor)
        let high = conflictRange.upperBound
        let tag = tag(key)
        // The lookup's probe of the segment that receives the insert, to insert without a second one.
        var target: (segment: InMemorySegment, probe: InMemorySegment.Probe)?
        if low <= high {
            for i in segmentRange(from: low, to: high) {
                let segment = segments[i]
                let probe = segment.probe(key, tag: tag)
                if probe.head >= 0, let found = segment.earliestTimestamp(chain: probe.head, from: low, to: high) {
                    return .conflict(earliestTimestampMs: found)
                }
                if timestampMs >= segment.firstTimestampMs && timestampMs <= segment.lastTimestampMs {
                    target = (segment, probe)
                }
            }
        }
        guard timestampMs >= floor else { return .expired }
        if let target {
            target.segment.put(key, tag: tag, timestampMs, value, probe: target.probe)
        } else {
            let segment = try createSegment(containing: timestampMs)
            segment.put(key, tag: tag, timestampMs, value, probe: segment.probe(key, tag: tag))
        }
        return .inserted
    }

    /// The timestamp of the earliest live entry of `key` in `[from, to]`, or `nil`; no allocation.
    public func firstTimestamp(key: UnsafeRawBufferPointer, from fromMs: Int64, to toMs: Int64) throws(StateStoreError)
        -> Int64?
    {
        try checkOpen()
        try checkKey(key)
        let low = max(fromMs, liveFloor)
        guard low <= toMs else { return nil }
        let tag = tag(key)
        for i in segmentRange(from: low, to: toMs) {
            let segment = segments[i]
            let head = segment.probe(key, tag: tag).head
            if head >= 0, let found = segment.earliestTimestamp(chain: head, from: low, to: toMs) { return found }
        }
        return nil
    }

    /// The live entries of `key` with `from <= timestamp <= to`, in timestamp order.
    public func fetch(key: UnsafeRawBufferPointer, from fromMs: Int64, to toMs: Int64) throws(StateStoreError)
        -> [WindowEntry]
    {
        try checkOpen()
        try checkKey(key)
        let low = max(fromMs, liveFloor)
        guard low <= toMs else { return [] }
        let tag = tag(key)
        let keyBytes = Array(key)
        var result: [WindowEntry] = []
        for i in segmentRange(from: low, to: toMs) {
            let segment = segments[i]
            let head = segment.probe(key, tag: tag).head
            if head >= 0 { segment.collect(chain: head, from: low, to: toMs, key: keyBytes, into: &result) }
        }
        return result
    }

    /// Calls `body` with every live entry, segment by segment.
    public func forEachEntry(_ body: (WindowEntry) throws -> Void) throws {
        try checkOpen()
        let floor = liveFloor
        for segment in segments {
            try segment.forEachEntry(atLeast: floor, body)
        }
    }

    /// Deletes `(key, timestampMs)` if present; whether it was.
    @discardableResult
    public func delete(key: UnsafeRawBufferPointer, timestampMs: Int64) throws(StateStoreError) -> Bool {
        try checkOpen()
        try checkTimestamp(timestampMs, store: name)
        try checkKey(key)
        return deleteUnchecked(key, timestampMs)
    }

    private func deleteUnchecked(_ key: UnsafeRawBufferPointer, _ timestampMs: Int64) -> Bool {
        guard let segment = segment(containing: timestampMs) else { return false }
        return segment.delete(key, tag: tag(key), timestampMs)
    }

    /// Advances stream time and drops every fully expired segment.
    public func advanceStreamTime(to timestampMs: Int64) throws(StateStoreError) {
        try checkOpen()
        guard timestampMs > streamTimeMs else { return }
        streamTimeMs = timestampMs
        let floor = liveFloor
        while let oldest = segments.first, oldest.lastTimestampMs < floor {
            segments.removeFirst()
        }
    }

    /// Applies changelog entries; see ``WindowStore/restore(from:)``.
    public func restore(from entries: [ChangelogEntry]) throws(StateStoreError) {
        try checkOpen()
        var maxTimestamp = Int64.min
        for entry in entries {
            try checkTimestamp(entry.timestampMs, store: name)
            maxTimestamp = max(maxTimestamp, entry.timestampMs)
            try withBytes(entry.key) { (key) throws(StateStoreError) in
                try checkKey(key)
                if let value = entry.value {
                    guard entry.timestampMs >= liveFloor else { return }
                    try withBytes(value) { (v) throws(StateStoreError) in try write(key, entry.timestampMs, v) }
                } else {
                    _ = deleteUnchecked(key, entry.timestampMs)
                }
            }
        }
        try advanceStreamTime(to: maxTimestamp)
    }

    // MARK: Transactions

    /// Makes the writes since the last commit permanent, with `metadata`.
    public func commit(metadata: [String: [UInt8]]) throws(StateStoreError) {
        try checkOpen()
        for (key, value) in metadata {
            precondition(!key.hasPrefix("streams."), "metadata keys starting with 'streams.' are reserved")
            metadataValues[key] = value
        }
        for segment in segments { segment.commit() }
        committedSegments = segments
        committedStreamTimeMs = streamTimeMs
    }

    /// Rolls back every write since the last commit.
    public func abort() throws(StateStoreError) {
        try checkOpen()
        rollBack()
    }

    private func rollBack() {
        // Segments created since are forgotten, dropped ones come back, and each committed one
        // returns to its committed contents.
        for segment in committedSegments { segment.rollBack() }
        segments = committedSegments
        streamTimeMs = committedStreamTimeMs
    }

    /// The committed metadata value for `key`.
    public func metadata(forKey key: String) throws(StateStoreError) -> [UInt8]? {
        try checkOpen()
        return metadataValues[key]
    }

    /// Discards pending writes; the store keeps its committed contents.
    public func close() {
        guard !isClosed else { return }
        rollBack()
        isClosed = true
    }

    /// A key longer than ``maxKeySize`` throws ``StateStoreError/Code/tooLarge``, as in `LMDBWindowStore`.
    @inline(__always)
    private func checkKey(_ key: UnsafeRawBufferPointer) throws(StateStoreError) {
        if key.count > maxKeySize {
            throw keyTooLarge(key.count, limit: maxKeySize, store: name, setting: "InMemoryWindowStore's maxKeySize")
        }
    }

    @inline(never)
    private func tooManySegments(_ id: Int64) -> StateStoreError {
        segmentLimitReached(
            store: name, segment: id, maxSegments: maxSegments, setting: "InMemoryWindowStore's maxSegments")
    }

    /// A closed store throws ``StateStoreError/Code/closed``, as ``LMDBWindowStore`` does.
    @inline(__always)
    private func checkOpen() throws(StateStoreError) {
        if isClosed {
            throw StateStoreError(.closed, "the in-memory store '\(name)' is closed; create a new one to use it again")
        }
    }
}
