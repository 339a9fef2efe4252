/// A state store of time-stamped entries per business key, with a retention window measured in
/// stream time.
///
/// An entry `(key, t)` is live while `t + retention > streamTime`; as soon as the stream time
/// reaches `t + retention` no read returns it, whatever the physical clean-up state. Physically,
/// implementations group entries by time segment and drop whole expired segments.
///
/// Writes are batched in the current transaction until ``StateStore/commit(metadata:)``.
/// ``LMDBWindowStore`` and ``InMemoryWindowStore`` behave identically. A store does not log its
/// mutations; ``ChangeLoggingWindowStore`` over it does.
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.state.WindowStore`.
public protocol WindowStore: StateStore {
    /// How long, in stream-time milliseconds, an entry stays live after its timestamp; constant
    /// while the store is open.
    var retentionMs: Int64 { get }

    /// The largest timestamp passed to ``advanceStreamTime(to:)`` (or restored), or `Int64.min`
    /// while the store has seen none. Never goes back.
    var streamTimeMs: Int64 { get }

    /// Writes `(key, timestampMs) -> value`, replacing any entry with the same key and timestamp.
    ///
    /// Writing an entry that is already expired is a no-op: it could never be read.
    func put(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer) throws(StateStoreError)

    /// Inserts `(key, timestampMs) -> value` unless a live entry for `key` exists with a timestamp
    /// in `conflictRange`.
    ///
    /// This is the deduplication primitive: one lookup (one B-tree descent where the range lies in
    /// one segment) and, only when nothing was found, one write.
    ///
    /// - Returns: ``InsertOutcome/conflict(earliestTimestampMs:)`` with the timestamp of the
    ///   earliest live entry of `key` within `conflictRange` (and then nothing is written, even if
    ///   `timestampMs` is expired); otherwise ``InsertOutcome/expired`` when the entry is already
    ///   expired (nothing is written: no read could return it); otherwise
    ///   ``InsertOutcome/inserted``.
    func insertIfAbsent(
        key: UnsafeRawBufferPointer,
        timestampMs: Int64,
        value: UnsafeRawBufferPointer,
        conflictRange: ClosedRange<Int64>
    ) throws(StateStoreError) -> InsertOutcome

    /// The timestamp of the earliest live entry of `key` with `from <= timestamp <= to`, or `nil`:
    /// a lookup that allocates nothing.
    func firstTimestamp(key: UnsafeRawBufferPointer, from fromMs: Int64, to toMs: Int64) throws(StateStoreError)
        -> Int64?

    /// The live entries of `key` with `from <= timestamp <= to`, in timestamp order.
    func fetch(key: UnsafeRawBufferPointer, from fromMs: Int64, to toMs: Int64) throws(StateStoreError) -> [WindowEntry]

    /// Calls `body` with every live entry. The order is by segment; within a segment it is
    /// implementation-defined.
    func forEachEntry(_ body: (WindowEntry) throws -> Void) throws

    /// Deletes the entry `(key, timestampMs)` if it exists.
    ///
    /// - Returns: Whether an entry was deleted (and so a tombstone is due in the changelog).
    @discardableResult
    func delete(key: UnsafeRawBufferPointer, timestampMs: Int64) throws(StateStoreError) -> Bool

    /// Moves stream time forward to `timestampMs` (never back) and drops every segment whose
    /// entries have all expired.
    func advanceStreamTime(to timestampMs: Int64) throws(StateStoreError)

    /// Applies changelog entries (see ``StateStore/restore(from:)``); stream time advances to the
    /// largest timestamp restored.
    func restore(from entries: [ChangelogEntry]) throws(StateStoreError)

    /// The number of entries physically stored, including expired entries of segments not yet
    /// dropped. Kafka Streams counterpart: `approximateNumEntries`.
    var approximateEntryCount: Int { get throws(StateStoreError) }

    /// The number of entries of `key` physically stored, counted like ``approximateEntryCount``
    /// (expired entries of segments not yet dropped included), so that a caller can leave its own
    /// bookkeeping entries out of the count (the ``approximateEntryCount`` of business keys).
    func approximateEntryCount(key: UnsafeRawBufferPointer) throws(StateStoreError) -> Int
}

extension WindowStore {
    /// This store in a ``ChangeLoggingWindowStore`` appending to `changelog`.
    public func loggingChanges(to changelog: any ChangelogSink) -> any StateStore {
        ChangeLoggingWindowStore(self, changelog: changelog)
    }

    /// Convenience for ``put(key:timestampMs:value:)`` with arrays.
    public func put(key: [UInt8], timestampMs: Int64, value: [UInt8]) throws(StateStoreError) {
        try withPair(key, value) { (k, v) throws(StateStoreError) in try put(key: k, timestampMs: timestampMs, value: v)
        }
    }

    /// Convenience for ``insertIfAbsent(key:timestampMs:value:conflictRange:)`` with arrays.
    public func insertIfAbsent(
        key: [UInt8],
        timestampMs: Int64,
        value: [UInt8],
        conflictRange: ClosedRange<Int64>
    ) throws(StateStoreError) -> InsertOutcome {
        try withPair(key, value) { (k, v) throws(StateStoreError) in
            try insertIfAbsent(key: k, timestampMs: timestampMs, value: v, conflictRange: conflictRange)
        }
    }

    /// Convenience for ``firstTimestamp(key:from:to:)`` with an array key.
    public func firstTimestamp(key: [UInt8], from fromMs: Int64, to toMs: Int64) throws(StateStoreError) -> Int64? {
        try withBytes(key) { (k) throws(StateStoreError) in try firstTimestamp(key: k, from: fromMs, to: toMs) }
    }

    /// Convenience for ``fetch(key:from:to:)`` with an array key.
    public func fetch(key: [UInt8], from fromMs: Int64, to toMs: Int64) throws(StateStoreError) -> [WindowEntry] {
        try withBytes(key) { (k) throws(StateStoreError) in try fetch(key: k, from: fromMs, to: toMs) }
    }

    /// Convenience for ``delete(key:timestampMs:)`` with an array key.
    @discardableResult
    public func delete(key: [UInt8], timestampMs: Int64) throws(StateStoreError) -> Bool {
        try withBytes(key) { (k) throws(StateStoreError) in try delete(key: k, timestampMs: timestampMs) }
    }

    /// Convenience for ``approximateEntryCount(key:)`` with an array key.
    public func approximateEntryCount(key: [UInt8]) throws(StateStoreError) -> Int {
        try withBytes(key) { (k) throws(StateStoreError) in try approximateEntryCount(key: k) }
    }

    /// Every live entry, materialised; for tests and small stores.
    public func allEntries() throws -> [WindowEntry] {
        var result: [WindowEntry] = []
        try forEachEntry { result.append($0) }
        return result
    }
}

/// Calls `body` with the bytes of `array`, with typed throws preserved.
@inlinable @inline(__always)
package func withBytes<R, E: Error>(
    _ array: [UInt8],
    _ body: (UnsafeRawBufferPointer) throws(E) -> R
) throws(E) -> R {
    let result: Result<R, E> = array.withUnsafeBytes { buffer in
        do throws(E) { return .success(try body(buffer)) } catch { return .failure(error) }
    }
    return try result.get()
}

/// Calls `body` with the bytes of two arrays, with typed throws preserved.
@inline(__always)
func withPair<R, E: Error>(
    _ a: [UInt8],
    _ b: [UInt8],
    _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws(E) -> R
) throws(E) -> R {
    try withBytes(a) { (ka) throws(E) in
        try withBytes(b) { (kb) throws(E) in try body(ka, kb) }
    }
}
