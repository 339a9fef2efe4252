/// A named piece of task-local state that the runtime writes to while processing and then commits,
/// aborts, restores and closes.
///
/// Writes accumulate in one open transaction until ``commit(metadata:)``; reads in between see
/// them and ``abort()`` rolls them back. The runtime commits a store only after the output, the
/// changelog and the input positions of the same batch are durable, so a store is never ahead of
/// its changelog (STYLE.md, "Commit order").
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.processor.StateStore`.
///
/// - Important: A store is owned by one task and used from one thread at a time; it is not
///   `Sendable`. Never carry it across an `await` while a write is pending.
public protocol StateStore: AnyObject {
    /// The store's name, unique within a topology.
    var name: String { get }

    /// This store, decorated so that every mutation it accepts is appended to `changelog` in
    /// order; the runtime uses the result in place of the store. Stores never log by themselves.
    ///
    /// A ``WindowStore`` gets ``ChangeLoggingWindowStore`` by default.
    ///
    /// Kafka Streams counterpart: `StoreBuilder.withLoggingEnabled`.
    func loggingChanges(to changelog: any ChangelogSink) -> any StateStore

    /// Applies changelog entries in order (values are written, tombstones delete), in the current
    /// transaction, without writing them to a changelog again. Idempotent: replaying an entry
    /// twice leaves the same state.
    ///
    /// Commit afterwards, with the changelog position the store now reflects.
    func restore(from entries: [ChangelogEntry]) throws(StateStoreError)

    /// Commits every write since the last commit, atomically with `metadata`.
    ///
    /// - Parameter metadata: Key/value pairs stored in the same transaction as the data, for
    ///   example the changelog position this state reflects. Keys starting with `streams.` are
    ///   reserved for the store itself.
    /// - Throws: ``StateStoreError`` when the store cannot be written; the pending writes are then
    ///   rolled back.
    func commit(metadata: [String: [UInt8]]) throws(StateStoreError)

    /// Rolls back every write since the last commit.
    func abort() throws(StateStoreError)

    /// The committed (or pending) metadata value for `key`, or `nil` if none was ever stored.
    func metadata(forKey key: String) throws(StateStoreError) -> [UInt8]?

    /// Aborts pending writes, records a clean shutdown where the store supports it and releases
    /// the store's resources. Every later call throws ``StateStoreError/Code/closed`` (in the
    /// window stores of this package); `close()` again does nothing.
    func close() throws(StateStoreError)
}
