/// A ``WindowStore`` in memory, with the same semantics as ``LMDBWindowStore``: the same
/// segments, retention, transactions (an undo log rolls back ``abort()``) and changelog output.
///
/// For tests, for the test driver, and as the no-durability baseline in benchmarks. Its state is
/// lost with the process; ``commit(metadata:)`` only makes writes permanent against ``abort()``.
public final class InMemoryWindowStore: WindowStore {
    /// The store's name.
    public let name: String
    /// How long an entry stays live, in stream-time milliseconds.
    public let retentionMs: Int64
    /// The span of one segment in milliseconds.
    public let segmentIntervalMs: Int64
    /// Where mutations are reported, if anywhere.
    public var changelog: (any ChangelogSink)?
    /// The current stream time (pending until commit), or `Int64.min`.
    public private(set) var streamTimeMs: Int64 = .min

    private typealias Segment = [[UInt8]: [Int64: [UInt8]]]
    /// Segments by id; the ids are kept sorted in `segmentOrder`.
    private var segments: [Int64: Segment] = [:]
    private var segmentOrder: [Int64] = []
    private var metadataValues: [String: [UInt8]] = [:]
    private var committedStreamTimeMs: Int64 = .min
    private var undo: [Undo] = []
    private var isClosed = false

    private enum Undo {
        case entry(segment: Int64, key: [UInt8], timestampMs: Int64, previous: [UInt8]?)
        case droppedSegment(id: Int64, contents: Segment)
        case createdSegment(id: Int64)
    }

    /// Creates an empty store.
    public init(configuration: WindowStoreConfiguration) {
        precondition(configuration.retentionMs > 0, "retention must be at least 1 ms")
        name = configuration.name
        retentionMs = configuration.retentionMs
        segmentIntervalMs = configuration.segmentIntervalMs
    }

    /// The ids of the segments currently stored, ascending.
    public var segmentIDs: [Int64] { segmentOrder }

    /// The number of entries in all segments, expired ones of undropped segments included.
    public var approximateEntryCount: Int {
        segments.values.reduce(0) { total, segment in total + segment.values.reduce(0) { $0 + $1.count } }
    }

    private var liveFloor: Int64 { streamTimeMs.saturatingSubtract(retentionMs).saturatingAdd(1) }
    private func segmentID(_ ts: Int64) -> Int64 { ts.floorDivided(by: segmentIntervalMs) }

    private func set(_ key: [UInt8], _ ts: Int64, _ value: [UInt8]?) {
        let id = segmentID(ts)
        if segments[id] == nil {
            guard value != nil else { return }
            segments[id] = [:]
            segmentOrder.insert(id, at: segmentOrder.firstIndex { $0 > id } ?? segmentOrder.endIndex)
            undo.append(.createdSegment(id: id))
        }
        let previous = segments[id]![key]?[ts]
        undo.append(.entry(segment: id, key: key, timestampMs: ts, previous: previous))
        segments[id]![key, default: [:]][ts] = value
        if segments[id]![key]?.isEmpty == true { segments[id]![key] = nil }
    }

    /// Writes `(key, timestampMs) -> value`; a no-op for an already expired entry.
    public func put(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer) {
        guard timestampMs >= liveFloor else { return }
        set(Array(key), timestampMs, Array(value))
        changelog?.append(key: key, timestampMs: timestampMs, value: value)
    }

    /// Inserts unless a live entry of `key` lies in `conflictRange`; see ``WindowStore``.
    public func insertIfAbsent(
        key: UnsafeRawBufferPointer,
        timestampMs: Int64,
        value: UnsafeRawBufferPointer,
        conflictRange: ClosedRange<Int64>
    ) -> Int64? {
        let k = Array(key)
        let low = max(conflictRange.lowerBound, liveFloor)
        if low <= conflictRange.upperBound, let found = earliestTimestamp(k, from: low, to: conflictRange.upperBound) {
            return found
        }
        guard timestampMs >= liveFloor else { return nil }
        set(k, timestampMs, Array(value))
        changelog?.append(key: key, timestampMs: timestampMs, value: value)
        return nil
    }

    /// The smallest timestamp of `key` in `[from, to]`, without allocating (the dedup hot path).
    private func earliestTimestamp(_ key: [UInt8], from: Int64, to: Int64) -> Int64? {
        let first = segmentID(from)
        let last = segmentID(to)
        for id in segmentOrder where id >= first && id <= last {
            guard let times = segments[id]?[key] else { continue }
            var best: Int64?
            for ts in times.keys where ts >= from && ts <= to && ts < (best ?? .max) { best = ts }
            if let best { return best }
        }
        return nil
    }

    private func timestamps(_ key: [UInt8], from: Int64, to: Int64) -> [Int64] {
        var result: [Int64] = []
        for id in segmentOrder where id >= segmentID(from) && id <= segmentID(to) {
            if let times = segments[id]?[key] {
                result.append(contentsOf: times.keys.filter { $0 >= from && $0 <= to })
            }
        }
        return result.sorted()
    }

    /// The timestamp of the earliest live entry of `key` in `[from, to]`, or `nil`.
    public func firstTimestamp(key: UnsafeRawBufferPointer, from fromMs: Int64, to toMs: Int64) -> Int64? {
        let low = max(fromMs, liveFloor)
        guard low <= toMs else { return nil }
        return earliestTimestamp(Array(key), from: low, to: toMs)
    }

    /// The live entries of `key` with `from <= timestamp <= to`, in timestamp order.
    public func fetch(key: UnsafeRawBufferPointer, from fromMs: Int64, to toMs: Int64) -> [WindowEntry] {
        let k = Array(key)
        let low = max(fromMs, liveFloor)
        guard low <= toMs else { return [] }
        return timestamps(k, from: low, to: toMs).map {
            WindowEntry(key: k, timestampMs: $0, value: segments[segmentID($0)]![k]![$0]!)
        }
    }

    /// Calls `body` with every live entry, segment by segment.
    public func forEachEntry(_ body: (WindowEntry) throws -> Void) throws {
        let floor = liveFloor
        for id in segmentOrder {
            for (key, times) in segments[id]! {
                for (ts, value) in times.sorted(by: { $0.key < $1.key }) where ts >= floor {
                    try body(WindowEntry(key: key, timestampMs: ts, value: value))
                }
            }
        }
    }

    /// Deletes `(key, timestampMs)` if present and records a tombstone.
    public func delete(key: UnsafeRawBufferPointer, timestampMs: Int64) {
        let k = Array(key)
        guard segments[segmentID(timestampMs)]?[k]?[timestampMs] != nil else { return }
        set(k, timestampMs, nil)
        changelog?.append(key: key, timestampMs: timestampMs, value: nil)
    }

    /// Advances stream time and drops every fully expired segment.
    public func advanceStreamTime(to timestampMs: Int64) {
        guard timestampMs > streamTimeMs else { return }
        streamTimeMs = timestampMs
        let firstLive = segmentID(liveFloor)
        while let oldest = segmentOrder.first, oldest < firstLive {
            undo.append(.droppedSegment(id: oldest, contents: segments.removeValue(forKey: oldest)!))
            segmentOrder.removeFirst()
        }
    }

    /// Applies changelog entries without logging them again; see ``WindowStore/restore(from:)``.
    public func restore(from entries: some Sequence<ChangelogEntry>) {
        var maxTimestamp = Int64.min
        for entry in entries {
            maxTimestamp = max(maxTimestamp, entry.timestampMs)
            if let value = entry.value {
                if entry.timestampMs >= liveFloor { set(entry.key, entry.timestampMs, value) }
            } else if segments[segmentID(entry.timestampMs)]?[entry.key]?[entry.timestampMs] != nil {
                set(entry.key, entry.timestampMs, nil)
            }
        }
        advanceStreamTime(to: maxTimestamp)
    }

    /// Makes the writes since the last commit permanent, with `metadata`.
    public func commit(metadata: [String: [UInt8]]) {
        precondition(!isClosed, "the store \(name) is closed")
        for (key, value) in metadata {
            precondition(!key.hasPrefix("streams."), "metadata keys starting with 'streams.' are reserved")
            metadataValues[key] = value
        }
        undo.removeAll(keepingCapacity: true)
        committedStreamTimeMs = streamTimeMs
    }

    /// Rolls back every write since the last commit.
    public func abort() {
        while let step = undo.popLast() {
            switch step {
            case .entry(let id, let key, let ts, let previous):
                segments[id]![key, default: [:]][ts] = previous
                if segments[id]![key]?.isEmpty == true { segments[id]![key] = nil }
            case .droppedSegment(let id, let contents):
                segments[id] = contents
                segmentOrder.insert(id, at: segmentOrder.firstIndex { $0 > id } ?? segmentOrder.endIndex)
            case .createdSegment(let id):
                segments[id] = nil
                segmentOrder.removeAll { $0 == id }
            }
        }
        streamTimeMs = committedStreamTimeMs
    }

    /// The committed metadata value for `key`.
    public func metadata(forKey key: String) -> [UInt8]? {
        metadataValues[key]
    }

    /// Discards pending writes; the store keeps its committed contents.
    public func close() {
        abort()
        isClosed = true
    }
}
