/// Opens a window store for a task: how a processor that needs one (the Deduplicator) is told
/// which kind to use, without depending on a concrete store.
///
/// ``inMemory`` is here; `LMDBWindowStore`'s factory, `.lmdb(options:)`, comes with
/// StreamsStateLMDB.
///
/// Kafka Streams counterpart: `StoreSupplier` / `Stores.persistentWindowStore`.
public struct WindowStoreFactory: Sendable {
    /// Opens a store with the configuration in the task's store directory (it may not exist yet;
    /// a store that needs files creates it).
    public let open:
        @Sendable (_ configuration: WindowStoreConfiguration, _ directory: String) throws -> any WindowStore

    /// Creates a factory from a closure.
    ///
    /// - Parameter open: Opens a store with the configuration in the directory given.
    public init(_ open: @escaping @Sendable (WindowStoreConfiguration, String) throws -> any WindowStore) {
        self.open = open
    }

    /// An ``InMemoryWindowStore`` (state lost with the process; restored from the changelog).
    public static var inMemory: WindowStoreFactory {
        WindowStoreFactory { configuration, _ in
            try InMemoryWindowStore(configuration: configuration)
        }
    }
}
