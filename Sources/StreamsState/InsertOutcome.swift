/// What ``WindowStore/insertIfAbsent(key:timestampMs:value:conflictRange:)`` did.
///
/// Exactly one case applies, checked in this order: a live entry of the key in the conflict range
/// (``conflict(earliestTimestampMs:)``), whatever the new entry's own timestamp; else a new entry
/// that is already expired (``expired``); else ``inserted``. Only ``inserted`` wrote anything, and
/// so only it is appended to the changelog by ``ChangeLoggingWindowStore``.
///
/// The size of an `Int64?` (a timestamp and a tag byte): returning it allocates nothing.
public enum InsertOutcome: Hashable, Sendable {
    /// No live entry of the key lay in the conflict range and the entry was live: it was written
    /// (in the current batch, until ``StateStore/commit(metadata:)``).
    case inserted

    /// A live entry of the key lay in the conflict range; nothing was written.
    ///
    /// - Parameter earliestTimestampMs: The timestamp of the earliest such entry.
    case conflict(earliestTimestampMs: Int64)

    /// No live entry of the key lay in the conflict range, but the new entry was already expired
    /// (`timestampMs + retention <= streamTime`): nothing was written, since no read could ever
    /// return it.
    case expired
}
