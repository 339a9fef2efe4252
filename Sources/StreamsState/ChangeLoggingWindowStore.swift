/// A ``WindowStore`` that reports every mutation of the store underneath to a ``ChangelogSink``,
/// so that the inner store can be rebuilt from the changelog; inner stores never log themselves.
///
/// Each mutation goes to the inner store first and is appended only once the store accepted it:
/// a ``put(key:timestampMs:value:)`` of a live entry, an
/// ``insertIfAbsent(key:timestampMs:value:conflictRange:)`` whose outcome is
/// ``InsertOutcome/inserted``, and a ``delete(key:timestampMs:)`` that deleted something (as a
/// tombstone). A write of an entry that is already expired (a no-op by ``WindowStore``'s contract;
/// for an insert, ``InsertOutcome/expired``), an insert that found a conflict, a failed mutation, ``restore(from:)`` and segment expiry append nothing.
///
/// The runtime wraps a changelogged store in one with ``StateStore/loggingChanges(to:)`` when it
/// opens a task. Calls to the inner store are static where `Inner` is known at the call site;
/// through `any WindowStore` the decorator costs one indirect call per mutation.
///
/// Kafka Streams counterpart: `ChangeLoggingWindowBytesStore`, layered over `RocksDBWindowStore`.
///
/// - Important: Owned by one thread at a time, like the store it wraps; use only the decorator
///   once the inner store is wrapped, or the changelog misses mutations.
public final class ChangeLoggingWindowStore<Inner: WindowStore>: WindowStore {
    /// The store that holds the entries.
    public let inner: Inner
    /// Where every accepted mutation is appended, in order.
    public let changelog: any ChangelogSink
    /// The inner store's retention, read once: a store's retention does not change while it is open.
    public let retentionMs: Int64

    /// Wraps `inner`, appending its mutations from now on to `changelog`.
    ///
    /// - Parameters:
    ///   - inner: The store; use it only through the decorator from now on.
    ///   - changelog: Receives every mutation `inner` accepts.
    public init(_ inner: Inner, changelog: any ChangelogSink) {
        self.inner = inner
        self.changelog = changelog
        self.retentionMs = inner.retentionMs
    }

    /// The inner store's name.
    public var name: String { inner.name }

    /// The inner store's stream time.
    public var streamTimeMs: Int64 { inner.streamTimeMs }

    /// Whether `timestampMs` is still live at the inner store's current stream time (the rule of
    /// ``WindowStore``: live while `t + retention > streamTime`).
    @inline(__always)
    private func isLive(_ timestampMs: Int64) -> Bool {
        timestampMs >= inner.streamTimeMs.saturatingSubtract(retentionMs).saturatingAdd(1)
    }

    // MARK: Mutations, logged

    /// Writes through to the inner store, then appends the entry unless it was already expired.
    public func put(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer)
        throws(StateStoreError)
    {
        try inner.put(key: key, timestampMs: timestampMs, value: value)
        if isLive(timestampMs) { try changelog.append(key: key, timestampMs: timestampMs, value: value) }
    }

    /// Inserts through the inner store, then appends the entry if the outcome is
    /// ``InsertOutcome/inserted`` (a conflict or an expired entry wrote nothing).
    public func insertIfAbsent(
        key: UnsafeRawBufferPointer,
        timestampMs: Int64,
        value: UnsafeRawBufferPointer,
        conflictRange: ClosedRange<Int64>
    ) throws(StateStoreError) -> InsertOutcome {
        let outcome = try inner.insertIfAbsent(
            key: key, timestampMs: timestampMs, value: value, conflictRange: conflictRange)
        if case .inserted = outcome {
            try changelog.append(key: key, timestampMs: timestampMs, value: value)
        }
        return outcome
    }

    /// Deletes through the inner store, then appends a tombstone if an entry was deleted.
    @discardableResult
    public func delete(key: UnsafeRawBufferPointer, timestampMs: Int64) throws(StateStoreError) -> Bool {
        guard try inner.delete(key: key, timestampMs: timestampMs) else { return false }
        try changelog.append(key: key, timestampMs: timestampMs, value: nil)
        return true
    }

    // MARK: Not logged

    /// Advances the inner store's stream time; expiry is not logged (restore skips what is expired).
    public func advanceStreamTime(to timestampMs: Int64) throws(StateStoreError) {
        try inner.advanceStreamTime(to: timestampMs)
    }

    /// Applies the entries to the inner store without appending them to the changelog again.
    public func restore(from entries: [ChangelogEntry]) throws(StateStoreError) {
        try inner.restore(from: entries)
    }

    /// Commits the inner store.
    public func commit(metadata: [String: [UInt8]]) throws(StateStoreError) {
        try inner.commit(metadata: metadata)
    }

    /// Rolls the inner store back; what was appended since the last commit is the changelog
    /// owner's to discard (the runtime aborts both together).
    public func abort() throws(StateStoreError) {
        try inner.abort()
    }

    /// The inner store's metadata value for `key`.
    public func metadata(forKey key: String) throws(StateStoreError) -> [UInt8]? {
        try inner.metadata(forKey: key)
    }

    /// Closes the inner store.
    public func close() throws(StateStoreError) {
        try inner.close()
    }

    // MARK: Reads

    /// The inner store's answer.
    public func firstTimestamp(key: UnsafeRawBufferPointer, from fromMs: Int64, to toMs: Int64) throws(StateStoreError)
        -> Int64?
    {
        try inner.firstTimestamp(key: key, from: fromMs, to: toMs)
    }

    /// The inner store's answer.
    public func fetch(key: UnsafeRawBufferPointer, from fromMs: Int64, to toMs: Int64) throws(StateStoreError)
        -> [WindowEntry]
    {
        try inner.fetch(key: key, from: fromMs, to: toMs)
    }

    /// The inner store's entries.
    public func forEachEntry(_ body: (WindowEntry) throws -> Void) throws {
        try inner.forEachEntry(body)
    }

    /// The inner store's count.
    public var approximateEntryCount: Int {
        get throws(StateStoreError) { try inner.approximateEntryCount }
    }

    /// The inner store's count.
    public func approximateEntryCount(key: UnsafeRawBufferPointer) throws(StateStoreError) -> Int {
        try inner.approximateEntryCount(key: key)
    }
}
