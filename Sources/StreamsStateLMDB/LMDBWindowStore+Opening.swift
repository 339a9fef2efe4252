public import StreamsState
internal import StreamsLMDB

// Opening a store: the format and settings recorded in `meta`, whether the files can be trusted
// after a restart (boot id and clean-shutdown mark), and the segment table read back from LMDB.
extension LMDBWindowStore {
    /// Deletes the store's files in `directory` (the data and lock files), for a rebuild from the
    /// changelog. The directory itself stays.
    ///
    /// - Throws: ``StateStoreError`` with code ``StateStoreError/Code/inUse`` while a store of this
    ///   process or another process has the directory open (close it first),
    ///   ``StateStoreError/Code/storage`` when a file cannot be deleted.
    public static func destroy(directory: String) throws(StateStoreError) {
        guard FileSystem.exists(directory) else { return }
        // Held while deleting, so that no store opens the files meanwhile.
        let lock: StoreDirectoryLock
        do {
            lock = try StoreDirectoryLock(directory: directory)
        } catch {
            guard error.code == .inUse else { throw error }
            throw StateStoreError(.inUse, "cannot delete the store: \(error.message)")
        }
        var failure: (any Error)?
        do {
            try FileSystem.removeFile(directory + "/data.mdb")
            try FileSystem.removeFile(directory + "/lock.mdb")
        } catch {
            failure = error
        }
        _ = consume lock
        if let failure {
            throw StateStoreError(.storage, "cannot delete the store in \(directory): \(failure)")
        }
    }

    /// The committed metadata value for `key` of the store in `directory`, read without opening
    /// the store: the environment is opened read-only and without its lock file, nothing is
    /// written (the clean-shutdown mark and the boot id stay as they are). `nil` when there is no
    /// store there, or it holds no such value.
    ///
    /// For checks before a run opens the store (the caller must keep other processes out, as the
    /// state directory's lock does).
    ///
    /// - Throws: ``StateStoreError`` with code ``StateStoreError/Code/corrupt`` for files that are
    ///   not a readable LMDB store.
    public static func committedMetadata(inDirectory directory: String, forKey key: String) throws(StateStoreError)
        -> [UInt8]?
    {
        guard FileSystem.exists(directory + "/data.mdb") else { return nil }
        do {
            let env = try LMDBEnvironment(
                path: directory,
                configuration: .init(mapSize: 1 << 20, maxDatabases: 4, flags: [.readOnly, .noLock, .noTLS])
            )
            return try env.withReadTransaction { (txn) throws(LMDBError) -> [UInt8]? in
                guard let meta = try txn.existingDatabase(named: "meta") else { return nil }
                return try txn.value(forKey: Array(key.utf8), in: meta)
            }
        } catch {
            throw wrap(error, directory: directory)
        }
    }

    struct OpenedState {
        var meta: LMDBDatabase
        var retentionMs: Int64
        var segmentIntervalMs: Int64
        var streamTimeMs: Int64
        var integrity: Integrity
    }

    enum MetaKey {
        static let format = "streams.format"
        static let retention = "streams.retentionMs"
        static let segmentInterval = "streams.segmentIntervalMs"
        static let streamTime = "streams.streamTimeMs"
        static let bootID = "streams.bootId"
        static let clean = "streams.cleanShutdown"
    }

    static func openMeta(
        _ env: LMDBEnvironment,
        directory: String,
        configuration: WindowStoreConfiguration,
        options: Options
    ) throws(StateStoreError) -> OpenedState {
        let bootID = Array(SystemBoot.identifier.utf8)
        let unsynced = !options.environmentFlags.isDisjoint(with: [.noSync, .noMetaSync, .mapAsync])
        do {
            let state = try env.withWriteTransaction {
                (txn) throws(LMDBError) -> Result<OpenedState, StateStoreError> in
                let existing = try txn.existingDatabase(named: "meta")
                if existing == nil {
                    // A store with segments but no meta database is not ours.
                    var foreign = false
                    try txn.forEach(in: try txn.mainDatabase()) { (_, _) throws(LMDBError) in
                        foreign = true
                        return false
                    }
                    if foreign {
                        return .failure(
                            StateStoreError(
                                .corrupt,
                                "\(directory) holds an LMDB environment that is not a swift-dedup window store; delete it or choose another directory"
                            )
                        )
                    }
                }
                let meta: LMDBDatabase
                if let existing { meta = existing } else { meta = try txn.openDatabase(named: "meta", create: true)! }
                var state = OpenedState(
                    meta: meta,
                    retentionMs: configuration.retentionMs,
                    segmentIntervalMs: configuration.segmentIntervalMs,
                    streamTimeMs: .min,
                    integrity: .new
                )
                if existing != nil {
                    guard try txn.value(forKey: Array(MetaKey.format.utf8), in: meta) == formatVersion,
                        let storedRetention = try txn.value(forKey: Array(MetaKey.retention.utf8), in: meta).flatMap(
                            Int64.init(bytes:)),
                        let storedInterval = try txn.value(forKey: Array(MetaKey.segmentInterval.utf8), in: meta)
                            .flatMap(Int64.init(bytes:))
                    else {
                        return .failure(
                            StateStoreError(
                                .corrupt,
                                "\(directory) is not a swift-dedup window store of this version (its metadata is missing or damaged); delete it to rebuild from the changelog"
                            )
                        )
                    }
                    if storedRetention != configuration.retentionMs && options.onConfigurationMismatch == .fail {
                        return .failure(
                            StateStoreError(
                                .configurationMismatch,
                                "the store in \(directory) was built with a retention of \(storedRetention) ms, not \(configuration.retentionMs) ms; use the original window, or delete the store directory to rebuild it from the changelog with the new one"
                            )
                        )
                    }
                    // The interval decides which segment holds a timestamp: it cannot change
                    // under existing segments. `nil` in the configuration means the stored one.
                    if configuration.segmentInterval != nil && configuration.segmentIntervalMs != storedInterval {
                        return .failure(
                            StateStoreError(
                                .configurationMismatch,
                                "the store in \(directory) was built with a segment interval of \(storedInterval) ms, not the requested \(configuration.segmentIntervalMs) ms (WindowStoreConfiguration.segmentInterval); pass \(storedInterval) ms or nil (keep the stored one), or delete the store directory to rebuild it from the changelog with the new interval"
                            )
                        )
                    }
                    if storedRetention != configuration.retentionMs || storedInterval != configuration.segmentIntervalMs
                    {
                        // The adopted retention or the stored interval may need more segments.
                        do throws(StateStoreError) {
                            try WindowStoreConfiguration.checkSegmentCount(
                                store: configuration.name,
                                retentionMs: configuration.retentionMs,
                                segmentIntervalMs: storedInterval,
                                maxSegments: options.maxSegments,
                                setting: "LMDBWindowStore.Options.maxSegments",
                                intervalSource:
                                    "segment interval (the store in \(directory) was built with \(storedInterval) ms: delete it to rebuild it from the changelog with a WindowStoreConfiguration.segmentInterval)"
                            )
                        } catch {
                            return .failure(error)
                        }
                    }
                    state.segmentIntervalMs = storedInterval
                    state.streamTimeMs =
                        try txn.value(forKey: Array(MetaKey.streamTime.utf8), in: meta).flatMap(Int64.init(bytes:))
                        ?? .min
                    let lastBoot = try txn.value(forKey: Array(MetaKey.bootID.utf8), in: meta)
                    let clean = try txn.value(forKey: Array(MetaKey.clean.utf8), in: meta) == [1]
                    if !unsynced || clean || lastBoot == bootID {
                        state.integrity = .trusted
                    } else {
                        state.integrity = .untrusted(
                            reason:
                                "the machine restarted since the store's last unsynced commit (it was not closed cleanly); rebuild it from the changelog"
                        )
                    }
                }
                try txn.put(key: Array(MetaKey.format.utf8), value: formatVersion, in: meta)
                try txn.put(key: Array(MetaKey.retention.utf8), value: state.retentionMs.bytes, in: meta)
                try txn.put(key: Array(MetaKey.segmentInterval.utf8), value: state.segmentIntervalMs.bytes, in: meta)
                // An untrusted store keeps the marks that make it so (the earlier boot, not
                // clean): opening it to look (dedup inspect, dedup verify) must not make it trusted.
                if case .untrusted = state.integrity {
                } else {
                    try txn.put(key: Array(MetaKey.bootID.utf8), value: bootID, in: meta)
                    try txn.put(key: Array(MetaKey.clean.utf8), value: [0], in: meta)
                }
                return .success(state)
            }.get()
            // The "not clean" mark must reach the disk before any unsynced data page can.
            if unsynced { try env.sync(force: true) }
            return state
        } catch let error as StateStoreError {
            throw error
        } catch let error as LMDBError {
            throw wrap(error, directory: directory)
        } catch {
            throw StateStoreError(.storage, "\(directory): \(error)")
        }
    }

    func reloadSegments() throws(StateStoreError) {
        let prefix = Array(Self.segmentPrefix.utf8)
        // Each segment database by name: `nil` for a name that is no segment of ours.
        let databases: [(name: String, id: Int64?, database: LMDBDatabase?)]
        do {
            databases = try withTransaction { (txn) throws(LMDBError) in
                var names: [String] = []
                try txn.forEach(in: try txn.mainDatabase()) { (key, _) throws(LMDBError) in
                    if key.starts(with: prefix) { names.append(String(decoding: key, as: UTF8.self)) }
                    return true
                }
                var databases: [(name: String, id: Int64?, database: LMDBDatabase?)] = []
                for name in names {
                    let id = Int64(name.dropFirst(Self.segmentPrefix.count))
                    databases.append((name, id, id == nil ? nil : try txn.existingDatabase(named: name)))
                }
                return databases
            }
            // Committed (it wrote nothing), not left open: the handles it opened stay valid, and
            // no transaction stays bound to this thread after opening or rolling back.
            try transaction.take()?.commit()
        } catch {
            throw wrap(error)
        }
        var found: [(id: Int64, database: LMDBDatabase)] = []
        for entry in databases {
            guard let id = entry.id, let database = entry.database else {
                throw StateStoreError(
                    .corrupt, "\(directory) has an unexpected database \(entry.name); delete the store to rebuild it")
            }
            found.append((id, database))
        }
        guard found.count <= segments.capacity else {
            throw StateStoreError(
                .tooManySegments,
                "\(directory) holds \(found.count) segments, more than LMDBWindowStore.Options.maxSegments (\(options.maxSegments)) allows; open it with maxSegments of at least \(found.count)"
            )
        }
        segments.replace(with: found.sorted { $0.id < $1.id })
    }
}

extension Int64 {
    /// Big-endian bytes.
    var bytes: [UInt8] { withUnsafeBytes(of: bigEndian) { Array($0) } }

    /// Decodes 8 big-endian bytes.
    init?(bytes: [UInt8]) {
        guard bytes.count == 8 else { return nil }
        self = bytes.withUnsafeBytes { Int64(bigEndian: $0.loadUnaligned(as: Int64.self)) }
    }
}
