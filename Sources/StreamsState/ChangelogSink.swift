/// Receives every mutation of a store, in order, so that the store can be rebuilt from it.
///
/// The runtime's changelog writer buffers what it receives and makes it durable as part of the
/// engine's commit, before the store commits (STYLE.md, "Commit order").
///
/// Kafka Streams counterpart: the changelog topic written by `ChangeLoggingWindowBytesStore`.
///
/// - Important: The buffers passed to ``append(key:timestampMs:value:)`` are only valid during the
///   call; copy what you keep.
public protocol ChangelogSink: AnyObject {
    /// Records one mutation.
    ///
    /// A sink that cannot take the entry now (a Kafka producer whose queue is full and stays
    /// full) throws, and the mutation fails with it: the store has already applied it to its
    /// open batch, so the caller must abort the batch (the task closes dirty), which keeps the
    /// store from getting ahead of its changelog. Sinks that buffer in memory never throw.
    ///
    /// - Parameters:
    ///   - key: The business key bytes.
    ///   - timestampMs: The entry's timestamp, in milliseconds since the epoch.
    ///   - value: The new value, or `nil` for a deletion (a tombstone).
    /// - Throws: ``StateStoreError`` when the entry cannot be recorded.
    func append(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer?) throws(StateStoreError)
}

/// One changelog record: a window store entry written (`value != nil`) or deleted (`value == nil`).
public struct ChangelogEntry: Sendable, Hashable {
    /// The business key bytes.
    public var key: [UInt8]
    /// The entry's timestamp, in milliseconds since the epoch.
    public var timestampMs: Int64
    /// The value written, or `nil` for a tombstone.
    public var value: [UInt8]?

    /// Creates a changelog entry.
    public init(key: [UInt8], timestampMs: Int64, value: [UInt8]?) {
        self.key = key
        self.timestampMs = timestampMs
        self.value = value
    }
}

/// A changelog sink that keeps every entry in memory, for tests and small tools.
public final class InMemoryChangelog: ChangelogSink {
    /// Every entry appended so far, in order.
    public private(set) var entries: [ChangelogEntry] = []

    /// Creates an empty changelog.
    public init() {}

    /// Appends a copy of the mutation to ``entries``.
    public func append(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer?) {
        entries.append(ChangelogEntry(key: Array(key), timestampMs: timestampMs, value: value.map { Array($0) }))
    }

    /// Forgets every entry (for example after they were made durable elsewhere).
    public func removeAll() {
        entries.removeAll(keepingCapacity: true)
    }
}
