public import StreamsState

extension WindowStoreFactory {
    /// An ``LMDBWindowStore`` in the task's store directory.
    ///
    /// - Parameter options: The store's options; the defaults suit most uses.
    public static func lmdb(options: LMDBWindowStore.Options = LMDBWindowStore.Options()) -> WindowStoreFactory {
        WindowStoreFactory { configuration, directory in
            try LMDBWindowStore(directory: directory, configuration: configuration, options: options)
        }
    }
}
