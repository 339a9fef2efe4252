import CLMDBBaseline

/// An error from the C baseline: the LMDB (or errno) code and its message.
public struct BaselineError: Error, CustomStringConvertible {
    /// The LMDB or errno code.
    public var code: Int32
    /// `mdb_strerror(code)`.
    public var description: String { "LMDB baseline error \(code): \(String(cString: clmdb_baseline_strerror(code)))" }
}

/// Swift face of the C baseline (`clmdb_baseline.h`): one LMDB environment, one named database per
/// segment, the store's key schema, MDB_WRITEMAP | MDB_NOSYNC.
///
/// Each call hands whole arrays to C, so the Swift overhead is one call per measured batch.
public final class LMDBBaseline {
    private let handle: OpaquePointer
    /// The window semantics it was opened with.
    public let parameters: WindowParameters

    /// Opens (creating) an environment in `directory`.
    public init(directory: String, parameters: WindowParameters = .standard) throws(BaselineError) {
        let options = clmdb_baseline_options(
            segment_interval_ms: parameters.segmentIntervalMs,
            retention_ms: parameters.retentionMs,
            max_segments: 1024,
            map_size: parameters.mapSize
        )
        var handle: OpaquePointer?
        let rc = clmdb_baseline_open(directory, options, &handle)
        guard rc == 0, let handle else { throw BaselineError(code: rc) }
        self.handle = handle
        self.parameters = parameters
    }

    deinit {
        clmdb_baseline_close(handle)
    }

    /// Put-if-absent of operations `range` of `workload`, one write transaction per `transactionSize`.
    /// - Returns: How many entries were inserted.
    @discardableResult
    public func putIfAbsent(_ workload: Workload, _ range: Range<Int>? = nil, transactionSize: Int) throws(BaselineError)
        -> Int
    {
        let range = range ?? 0..<workload.count
        var inserted = 0
        let rc = workload.withArrays(range) { keys, timestamps, values in
            clmdb_baseline_put_if_absent(
                handle, keys, Workload.keyLength, timestamps, values, range.count, transactionSize,
                parameters.dedupWindowMs, &inserted)
        }
        guard rc == 0 else { throw BaselineError(code: rc) }
        return inserted
    }

    /// Plain puts of operations `range` (every operation, repeats included), one write transaction per
    /// `transactionSize`.
    public func put(_ workload: Workload, _ range: Range<Int>? = nil, transactionSize: Int) throws(BaselineError) {
        let range = range ?? 0..<workload.count
        let rc = workload.withArrays(range) { keys, timestamps, values in
            clmdb_baseline_put(handle, keys, Workload.keyLength, timestamps, values, range.count, transactionSize)
        }
        guard rc == 0 else { throw BaselineError(code: rc) }
    }

    /// Counts the `keys` (16 bytes each) with a live entry in the dedup window ending at the matching
    /// timestamp; one read transaction.
    public func lookup(keys: [UInt8], timestampsMs: [Int64]) throws(BaselineError) -> Int {
        precondition(keys.count == timestampsMs.count * Workload.keyLength)
        var found = 0
        let rc = keys.withUnsafeBufferPointer { k in
            timestampsMs.withUnsafeBufferPointer { t in
                clmdb_baseline_lookup(
                    handle, k.baseAddress, Workload.keyLength, t.baseAddress, t.count, parameters.dedupWindowMs,
                    &found)
            }
        }
        guard rc == 0 else { throw BaselineError(code: rc) }
        return found
    }

    /// Walks every live entry of each key within ± the dedup window of its timestamp, copying each
    /// entry's timestamp and value out; one read transaction. Returns the number of entries.
    public func fetch(keys: [UInt8], timestampsMs: [Int64]) throws(BaselineError) -> Int {
        precondition(keys.count == timestampsMs.count * Workload.keyLength)
        var entries = 0
        let rc = keys.withUnsafeBufferPointer { k in
            timestampsMs.withUnsafeBufferPointer { t in
                clmdb_baseline_fetch(
                    handle, k.baseAddress, Workload.keyLength, t.baseAddress, t.count, parameters.dedupWindowMs,
                    &entries)
            }
        }
        guard rc == 0 else { throw BaselineError(code: rc) }
        return entries
    }

    /// Deletes the entries of operations `range` one by one (mdb_del), one write transaction per
    /// `transactionSize`. Returns how many existed.
    @discardableResult
    public func deleteEach(_ workload: Workload, _ range: Range<Int>? = nil, transactionSize: Int) throws(BaselineError)
        -> Int
    {
        let range = range ?? 0..<workload.count
        var deleted = 0
        let rc = workload.withArrays(range) { keys, timestamps, _ in
            clmdb_baseline_delete_each(
                handle, keys, Workload.keyLength, timestamps, range.count, transactionSize, &deleted)
        }
        guard rc == 0 else { throw BaselineError(code: rc) }
        return deleted
    }

    /// Drops one whole segment database.
    public func dropSegment(_ segmentId: Int64) throws(BaselineError) {
        let rc = clmdb_baseline_drop_segment(handle, segmentId)
        guard rc == 0 else { throw BaselineError(code: rc) }
    }

    /// Entries over all segments.
    public func entryCount() throws(BaselineError) -> Int {
        var count = 0
        let rc = clmdb_baseline_entry_count(handle, &count)
        guard rc == 0 else { throw BaselineError(code: rc) }
        return count
    }

    /// Bytes of the map in use (pages up to the last one written).
    public func bytesUsed() throws(BaselineError) -> Int {
        var bytes = 0
        let rc = clmdb_baseline_bytes_used(handle, &bytes)
        guard rc == 0 else { throw BaselineError(code: rc) }
        return bytes
    }
}

extension Workload {
    /// Calls `body` with base pointers of the keys, timestamps and values of operations `range`.
    func withArrays<R>(
        _ range: Range<Int>,
        _ body: (UnsafePointer<UInt8>?, UnsafePointer<Int64>?, UnsafePointer<UInt8>?) -> R
    ) -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= count)
        return keys.withUnsafeBufferPointer { k in
            timestampsMs.withUnsafeBufferPointer { t in
                values.withUnsafeBufferPointer { v in
                    body(
                        k.baseAddress.map { $0 + range.lowerBound * Workload.keyLength },
                        t.baseAddress.map { $0 + range.lowerBound },
                        v.baseAddress.map { $0 + range.lowerBound * Workload.valueLength }
                    )
                }
            }
        }
    }
}
