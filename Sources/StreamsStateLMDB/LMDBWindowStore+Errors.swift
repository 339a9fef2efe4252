public import StreamsState
public import StreamsLMDB

// LMDB errors as StateStoreError: damaged files are `corrupt`, a full disk (or an I/O error with
// almost no space left) `diskFull`, anything else `storage`, each naming the directory.
extension LMDBWindowStore {
    func wrap(_ error: LMDBError) -> StateStoreError {
        if error.code == .databasesFull {
            return segmentLimitReached(
                store: name,
                segment: refusedSegmentID,
                maxSegments: options.maxSegments,
                setting: "LMDBWindowStore.Options.maxSegments",
                location: " in \(directory)"
            )
        }
        return Self.wrap(error, directory: directory)
    }

    static func wrap(_ error: LMDBError, directory: String) -> StateStoreError {
        switch error.code {
        case .corrupted, .pageNotFound, .invalid, .versionMismatch, .panic:
            return StateStoreError(.corrupt, "the store in \(directory) is damaged: \(error)", underlying: error)
        case .diskFull:
            return diskFull(error, directory: directory, available: FileSystem.availableBytes(directory))
        case .ioError:
            // LMDB turns a short write (the file system filled up mid-write) into EIO.
            if let available = FileSystem.availableBytes(directory), available < FileSystem.nearlyFullBytes {
                return diskFull(error, directory: directory, available: available)
            }
            return StateStoreError(.storage, "the store in \(directory): \(error)", underlying: error)
        default:
            return StateStoreError(.storage, "the store in \(directory): \(error)", underlying: error)
        }
    }

    static func diskFull(_ error: LMDBError, directory: String, available: Int64?) -> StateStoreError {
        let free = available.map { "\($0) bytes free" } ?? "free space unknown"
        return StateStoreError(
            .diskFull,
            "disk full: the store in \(directory) cannot be written (\(error.operation) failed, \(free) on its file system); free space there or move the state directory to a larger disk, then run again: the last commit is intact and is resumed",
            underlying: error
        )
    }
}

extension StateStoreError {
    /// The LMDB error underneath, if the store that threw is an ``LMDBWindowStore``.
    public var lmdb: LMDBError? { underlying as? LMDBError }
}
