public import StreamsLMDB
public import StreamsState

/// A ``WindowStore`` on LMDB: one named LMDB database per time segment, metadata committed in the
/// same write transaction as the data, and a record of whether the files can be trusted after an
/// operating-system crash.
///
/// Layout inside `directory` (an LMDB environment):
/// - `meta`: the store's own settings (`streams.*`) and the caller's commit metadata;
/// - `segment/<id>`: entries with `id == floor(timestamp / segmentInterval)`, keyed as
///   described by the key schema (length-prefixed keys; keys longer than
///   ``Options/longKeyThreshold`` by hash with collision chains).
///
/// An expired segment (every entry has `timestamp + retention <= streamTime`) is dropped whole
/// with `mdb_drop`. Writes accumulate in one LMDB write transaction until
/// ``commit(metadata:)``; when the map fills up, the transaction is aborted, the map doubled and
/// the batch replayed, so callers never see "map full" below ``Options/maxMapSize``.
///
/// Each segment has a Bloom filter (``SegmentFilter``) once a lookup needs it. `insertIfAbsent`
/// asks LMDB only about segments whose filter may hold the key, and defers its puts
/// (``PendingPuts``): they wait in memory and are written in key order at the commit, before any
/// other operation, or after ``Options/maxPendingPuts``; sorted, most puts land on the leaf page of
/// the one before and skip the descent from the root. So an error thrown by any operation (a map
/// that cannot grow past ``Options/maxMapSize``, say) may come from an earlier insert's write:
/// after any error, ``abort()`` the batch, as the runtime does.
///
/// Kafka Streams counterpart: `RocksDBWindowStore` over `RocksDBSegmentedBytesStore`.
///
/// - Important: Owned by one thread at a time. The open write transaction holds LMDB's writer
///   lock, so a second process opening the same directory waits until this one commits.
public final class LMDBWindowStore: WindowStore {
    /// Physical settings of the store (its logical ones are in ``WindowStoreConfiguration``).
    public struct Options: Sendable, Hashable {
        /// LMDB environment flags. Default `[.noSync, .noTLS, .noReadahead]`: commits do not
        /// fsync (a killed process loses nothing; after an OS crash ``integrity`` says whether
        /// to rebuild). `.writeMap` is faster but turns a full disk into `SIGBUS`, so it is off.
        public var environmentFlags: LMDBEnvironmentFlags
        /// The initial map size in bytes. Default 64 MiB; it doubles as needed.
        public var initialMapSize: Int
        /// The largest map size in bytes. Default 1 TiB (address space, not disk).
        public var maxMapSize: Int
        /// The most segments that can exist at once. Default 1,000.
        public var maxSegments: Int
        /// What to do when the directory holds a store built with another retention.
        public var onConfigurationMismatch: ConfigurationMismatchPolicy
        /// Keys longer than this many bytes are stored by hash with collision chains. Default
        /// 400, at most 501 (LMDB keys are limited to 511 bytes).
        public var longKeyThreshold: Int
        /// The hash for long keys; ``KeyHash/constant(_:)`` forces collisions in tests.
        public var keyHash: KeyHash
        /// The largest business key accepted, in bytes. Default 16 MiB.
        public var maxKeySize: Int
        /// How many puts of ``LMDBWindowStore/insertIfAbsent(key:timestampMs:value:conflictRange:)``
        /// may wait in memory before they are written to LMDB in key order (see ``PendingPuts``);
        /// they are written at the latest at the commit. Default 262,144 (about 13 MiB with 20-byte
        /// keys); 0 writes every put at once.
        public var maxPendingPuts: Int

        /// Creates options; every parameter has the default documented on its property.
        public init(
            environmentFlags: LMDBEnvironmentFlags = [.noSync, .noTLS, .noReadahead],
            initialMapSize: Int = 64 << 20,
            maxMapSize: Int = 1 << 40,
            maxSegments: Int = 1_000,
            onConfigurationMismatch: ConfigurationMismatchPolicy = .fail,
            longKeyThreshold: Int = 400,
            keyHash: KeyHash = .fnv1a,
            maxKeySize: Int = 16 << 20,
            maxPendingPuts: Int = 1 << 18
        ) {
            self.environmentFlags = environmentFlags
            self.initialMapSize = initialMapSize
            self.maxMapSize = maxMapSize
            self.maxSegments = maxSegments
            self.onConfigurationMismatch = onConfigurationMismatch
            self.longKeyThreshold = longKeyThreshold
            self.keyHash = keyHash
            self.maxKeySize = maxKeySize
            self.maxPendingPuts = maxPendingPuts
        }
    }

    /// What opening a store built with a different retention does.
    public enum ConfigurationMismatchPolicy: Sendable, Hashable {
        /// Throw ``StateStoreError/Code/configurationMismatch`` (the default): the caller either
        /// passes the original retention or deletes the store and rebuilds it from its changelog.
        case fail
        /// Use the new retention from now on. A shorter one expires entries sooner; a longer one
        /// cannot bring back segments already dropped. The segment interval stays the stored one.
        case adopt
    }

    /// Whether the files on disk can be trusted, decided when the store was opened.
    public enum Integrity: Sendable, Hashable {
        /// The directory held no store; an empty one was created.
        case new
        /// The store was closed cleanly, or last written during the current boot (a killed process
        /// loses nothing: its writes are in the page cache), or commits are synchronous.
        case trusted
        /// The machine rebooted since an unsynced commit: the file may be inconsistent. Delete it
        /// (``LMDBWindowStore/destroy(directory:)``) and rebuild from the changelog. The state is
        /// kept on disk: opening and closing the store again (to inspect it) leaves it untrusted.
        case untrusted(reason: String)
    }

    /// The store's name.
    public let name: String
    /// The directory holding the LMDB environment.
    public let directory: String
    /// How long an entry stays live, in stream-time milliseconds.
    @exclusivity(unchecked) public private(set) var retentionMs: Int64
    /// The span of one segment in milliseconds (the stored one when reopening).
    public let segmentIntervalMs: Int64
    /// Whether the files could be trusted when opened.
    public let integrity: Integrity
    /// The current stream time (pending until commit), or `Int64.min`.
    @exclusivity(unchecked) public private(set) var streamTimeMs: Int64 = .min

    let environment: LMDBEnvironment
    private let options: Options
    private let schema: WindowKeySchema
    private var meta: LMDBDatabase
    // The hot mutable state is marked `@exclusivity(unchecked)`: the store is single-threaded by
    // contract and these properties are never accessed re-entrantly, while the dynamic checks
    // cost about a tenth of an insert.
    /// Open segment databases, ascending by id.
    @exclusivity(unchecked) private var segments: SegmentTable
    // The segment of the last `segmentID` miss, so that most calls need no 64-bit division: a
    // timestamp in `cachedSegmentStart...cachedSegmentEnd` is in `cachedSegmentID`, one in
    // `cachedPreviousStart..<cachedSegmentStart` in the segment before. Empty ranges until filled.
    @exclusivity(unchecked) private var cachedSegmentID: Int64 = 0
    @exclusivity(unchecked) private var cachedPreviousStart: Int64 = 1
    @exclusivity(unchecked) private var cachedSegmentStart: Int64 = 1
    @exclusivity(unchecked) private var cachedSegmentEnd: Int64 = 0
    @exclusivity(unchecked) private var transaction: LMDBWriteTransaction?
    private var committedStreamTimeMs: Int64 = .min
    /// Every mutation of the open transaction, to replay after growing a full map.
    @exclusivity(unchecked) private var replayLog = ReplayLog()
    /// Puts of `insertIfAbsent` not yet written to LMDB; every other operation flushes them first.
    private let pendingPuts = PendingPuts()
    /// Scratch space for stored keys (longest: a short key of `threshold` bytes).
    private let keyBuffer: UnsafeMutableRawBufferPointer
    @exclusivity(unchecked) private var valueBuffer: [UInt8] = []
    @exclusivity(unchecked) private var isClosed = false

    private static let segmentPrefix = "segment/"
    private static let formatVersion: [UInt8] = Array("swift-dedup window store v1".utf8)

    /// Opens the store in `directory`, creating the directory and an empty store if needed.
    ///
    /// - Throws: ``StateStoreError`` with code ``StateStoreError/Code/corrupt`` for files that are
    ///   not a swift-dedup store or are damaged, ``StateStoreError/Code/configurationMismatch`` when
    ///   the retention differs and the policy is ``ConfigurationMismatchPolicy/fail``, and
    ///   ``StateStoreError/Code/storage`` for other LMDB failures.
    public init(
        directory: String,
        configuration: WindowStoreConfiguration,
        options: Options = Options()
    ) throws(StateStoreError) {
        precondition(configuration.retentionMs > 0, "retention must be at least 1 ms")
        precondition(
            (0...WindowKeySchema.maxThreshold).contains(options.longKeyThreshold),
            "longKeyThreshold must be within 0...\(WindowKeySchema.maxThreshold)"
        )
        self.name = configuration.name
        self.directory = directory
        self.options = options
        self.schema = WindowKeySchema(threshold: options.longKeyThreshold, hash: options.keyHash)
        self.keyBuffer = .allocate(byteCount: 2 + WindowKeySchema.maxThreshold + 8, alignment: 8)
        // LMDB refuses more than `maxSegments + 4` databases, meta and main included.
        self.segments = SegmentTable(capacity: options.maxSegments + 4)
        do {
            try FileSystem.createDirectory(directory)
        } catch {
            keyBuffer.deallocate()
            segments.deallocate()
            throw StateStoreError(.storage, "cannot create the store directory \(directory): \(error)")
        }
        let env: LMDBEnvironment
        do {
            env = try LMDBEnvironment(
                path: directory,
                configuration: .init(
                    mapSize: options.initialMapSize,
                    maxMapSize: options.maxMapSize,
                    maxDatabases: UInt32(options.maxSegments + 4),
                    flags: options.environmentFlags
                )
            )
        } catch {
            keyBuffer.deallocate()
            segments.deallocate()
            throw Self.wrap(error, directory: directory)
        }
        self.environment = env
        let opened: OpenedState
        do {
            opened = try Self.openMeta(env, directory: directory, configuration: configuration, options: options)
        } catch {
            keyBuffer.deallocate()
            segments.deallocate()
            throw error
        }
        self.meta = opened.meta
        self.retentionMs = opened.retentionMs
        self.segmentIntervalMs = opened.segmentIntervalMs
        self.integrity = opened.integrity
        self.streamTimeMs = opened.streamTimeMs
        self.committedStreamTimeMs = opened.streamTimeMs
        try reloadSegments()
    }

    deinit {
        if !isClosed { try? close() }
        keyBuffer.deallocate()
        segments.deallocate()
    }

    /// Deletes the store's files in `directory` (the data and lock files), for a rebuild from the
    /// changelog. The directory itself stays.
    public static func destroy(directory: String) throws(StateStoreError) {
        do {
            try FileSystem.removeFile(directory + "/data.mdb")
            try FileSystem.removeFile(directory + "/lock.mdb")
        } catch {
            throw StateStoreError(.storage, "cannot delete the store in \(directory): \(error)")
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

    // MARK: Opening

    private struct OpenedState {
        var meta: LMDBDatabase
        var retentionMs: Int64
        var segmentIntervalMs: Int64
        var streamTimeMs: Int64
        var integrity: Integrity
    }

    private enum MetaKey {
        static let format = "streams.format"
        static let retention = "streams.retentionMs"
        static let segmentInterval = "streams.segmentIntervalMs"
        static let streamTime = "streams.streamTimeMs"
        static let bootID = "streams.bootId"
        static let clean = "streams.cleanShutdown"
    }

    private static func openMeta(
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

    private func reloadSegments() throws(StateStoreError) {
        do {
            try ensureTransaction()
            var found: [(Int64, LMDBDatabase)] = []
            let prefix = Array(Self.segmentPrefix.utf8)
            var names: [String] = []
            try transaction!.forEach(in: try transaction!.mainDatabase()) { (key, _) throws(LMDBError) in
                if key.starts(with: prefix) { names.append(String(decoding: key, as: UTF8.self)) }
                return true
            }
            for name in names {
                guard let id = Int64(name.dropFirst(Self.segmentPrefix.count)),
                    let db = try transaction!.existingDatabase(named: name)
                else {
                    throw StateStoreError(
                        .corrupt, "\(directory) has an unexpected database \(name); delete the store to rebuild it")
                }
                found.append((id, db))
            }
            guard found.count <= segments.capacity else {
                throw StateStoreError(
                    .storage,
                    "\(directory) holds \(found.count) segments, more than maxSegments (\(options.maxSegments)) allows; open it with a larger maxSegments"
                )
            }
            segments.replace(with: found.sorted { $0.0 < $1.0 }.map { (id: $0.0, database: $0.1) })
        } catch let error as StateStoreError {
            throw error
        } catch let error as LMDBError {
            throw wrap(error)
        } catch {
            throw StateStoreError(.storage, "\(error)")
        }
    }

    // MARK: Transactions

    @inline(__always)
    private func ensureTransaction() throws(LMDBError) {
        if transaction == nil {
            precondition(!isClosed, "the store \(name) is closed")
            transaction = try environment.beginWriteTransaction()
        }
    }

    /// Runs `body` in the open transaction; on "map full" grows the map, replays the batch and
    /// runs `body` again.
    @inline(__always)
    private func write<R>(_ body: () throws(LMDBError) -> R) throws(StateStoreError) -> R {
        while true {
            do {
                try ensureTransaction()
                return try body()
            } catch {
                guard error.code == .mapFull else { throw wrap(error) }
                try recoverFromFullMap()
            }
        }
    }

    private func recoverFromFullMap() throws(StateStoreError) {
        transaction.take()?.abort()
        // The replay below writes the pending puts too (they are in the log), directly.
        pendingPuts.removeAll()
        do {
            try environment.growMap()
        } catch {
            throw wrap(error)
        }
        try reloadSegments()
        streamTimeMs = committedStreamTimeMs
        // Each replayed operation is logged again as it is applied, so that a second "map full"
        // during the replay (handled recursively through write()) replays what was redone so far.
        var log = ReplayLog(capacity: max(64 << 10, replayLog.count))
        swap(&log, &replayLog)
        try log.forEach { (op) throws(StateStoreError) in
            switch op {
            case .put(let key, let ts, let value):
                try putUnlogged(key, ts, value)
                replayLog.appendPut(key, ts, value)
            case .delete(let key, let ts):
                _ = try deleteUnlogged(key, ts)
                replayLog.appendDelete(key, ts)
            case .advance(let ts):
                try advanceUnlogged(ts)
                replayLog.appendAdvance(ts)
            }
        }
    }

    /// Commits every write since the last commit with `metadata`, in one LMDB transaction.
    public func commit(metadata: [String: [UInt8]]) throws(StateStoreError) {
        for key in metadata.keys {
            precondition(!key.hasPrefix("streams."), "metadata keys starting with 'streams.' are reserved")
        }
        try flushPendingPuts()
        while true {
            try write { () throws(LMDBError) in
                for (key, value) in metadata {
                    try transaction!.put(key: Array(key.utf8), value: value, in: meta)
                }
                try transaction!.put(key: Array(MetaKey.streamTime.utf8), value: streamTimeMs.bytes, in: meta)
            }
            do {
                try transaction.take()!.commit()
                committedStreamTimeMs = streamTimeMs
                replayLog.removeAll()
                growMapIfHalfFull()
                return
            } catch {
                // The failed commit freed the transaction; nothing of this batch is on disk.
                guard error.code == .mapFull else {
                    try? rollBack()
                    throw wrap(error)
                }
                try recoverFromFullMap()
            }
        }
    }

    /// Doubles the map between transactions once half of it is used, so that batches rarely hit
    /// "map full" and have to be replayed. Best effort: a failure here surfaces, if ever, as a
    /// replayed batch.
    private func growMapIfHalfFull() {
        let info = environment.info
        let used = (info.lastPageNumber + 1) * environment.statistics.pageSize
        if used > info.mapSize / 2 && info.mapSize < options.maxMapSize {
            try? environment.growMap()
        }
    }

    /// Rolls back every write since the last commit.
    public func abort() throws(StateStoreError) {
        try rollBack()
    }

    private func rollBack() throws(StateStoreError) {
        transaction.take()?.abort()
        pendingPuts.removeAll()
        replayLog.removeAll()
        streamTimeMs = committedStreamTimeMs
        try reloadSegments()
    }

    /// The metadata value for `key` as of the open transaction.
    public func metadata(forKey key: String) throws(StateStoreError) -> [UInt8]? {
        try write { () throws(LMDBError) in try transaction!.value(forKey: Array(key.utf8), in: meta) }
    }

    /// Aborts pending writes, marks the store cleanly closed, syncs it to disk and closes it.
    public func close() throws(StateStoreError) {
        guard !isClosed else { return }
        transaction.take()?.abort()
        pendingPuts.removeAll()
        defer { isClosed = true }
        do {
            // An untrusted store stays untrusted until it is destroyed: a clean close now cannot
            // vouch for pages written before the restart.
            if case .untrusted = integrity {
            } else {
                try environment.withWriteTransaction { (txn) throws(LMDBError) in
                    _ = try txn.put(key: Array(MetaKey.clean.utf8), value: [1], in: meta)
                }
            }
            try environment.sync(force: true)
        } catch {
            throw wrap(error)
        }
    }

    // MARK: Reads and writes

    /// The number of entries in all segments, expired ones of undropped segments included.
    public var approximateEntryCount: Int {
        get throws(StateStoreError) {
            try flushPendingPuts()
            return try write { () throws(LMDBError) in
                var total = 0
                for i in 0..<segments.count { total += try transaction!.count(of: segments[i].database) }
                return total
            }
        }
    }

    /// The number of entries of `key` in all segments, expired ones of undropped segments included.
    public func approximateEntryCount(key: UnsafeRawBufferPointer) throws(StateStoreError) -> Int {
        try checkKey(key)
        try flushPendingPuts()
        return try write { () throws(LMDBError) -> Int in
            var total = 0
            try scan(key, from: .min, to: .max) { (_, _) in
                total += 1
                return true
            }
            return total
        }
    }

    /// The number of segments currently stored.
    public var segmentCount: Int { segments.count }

    /// The ids of the segments currently stored, ascending (`id = floor(timestamp / segmentInterval)`).
    public var segmentIDs: [Int64] { segments.ids }

    /// The bytes of the data file in use (`(last page + 1) × page size`).
    public var usedBytes: Int { environment.usedBytes }

    /// Writes `(key, timestampMs) -> value`; a no-op for an already expired entry.
    public func put(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer)
        throws(StateStoreError)
    {
        try checkKey(key)
        guard !isExpired(timestampMs) else { return }
        try flushPendingPuts()
        try putUnlogged(key, timestampMs, value)
        replayLog.appendPut(key, timestampMs, value)
    }

    /// Inserts unless a live entry of `key` lies in `conflictRange`; see ``WindowStore``.
    ///
    /// A short key's put is deferred (see ``PendingPuts``): the lookup asks each segment's filter,
    /// then the pending puts and LMDB of the segments that may hold the key, and the put waits in
    /// memory for the next flush (the commit, any other operation, or ``Options/maxPendingPuts``), which
    /// writes the batch in key order. A segment without a usable filter gets the put directly.
    public func insertIfAbsent(
        key: UnsafeRawBufferPointer,
        timestampMs: Int64,
        value: UnsafeRawBufferPointer,
        conflictRange: ClosedRange<Int64>
    ) throws(StateStoreError) -> Int64? {
        try checkKey(key)
        let floor = liveFloor
        let low = max(conflictRange.lowerBound, floor)
        let high = conflictRange.upperBound
        if schema.isLong(key) {
            if low <= high {
                let found = try write { () throws(LMDBError) -> Int64? in try firstTimestamp(key, from: low, to: high) }
                if let found { return found }
            }
            guard timestampMs >= floor else { return nil }
            try putUnlogged(key, timestampMs, value)
        } else {
            let hash = SegmentFilter.hash(key)
            let found = try write { () throws(LMDBError) -> Int64? in
                if low <= high, let found = try firstShortTimestamp(key, hash: hash, from: low, to: high) {
                    return found
                }
                guard timestampMs >= floor else { return nil }
                try deferPut(key, hash: hash, timestampMs, value)
                return nil
            }
            if found != nil || timestampMs < floor { return found }
        }
        replayLog.appendPut(key, timestampMs, value)
        if pendingPuts.count >= options.maxPendingPuts { try flushPendingPuts() }
        return nil
    }

    /// The hash tag of `key` in ``PendingPuts``, from its filter hash.
    @inline(__always)
    private static func pendingTag(_ hash: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: hash >> 17) }

    /// `insertIfAbsent`'s lookup of short `key`: the earliest timestamp in `[from, to]` over LMDB
    /// and the pending puts, asking LMDB only of segments whose filter may hold the key.
    @inline(__always)
    private func firstShortTimestamp(
        _ key: UnsafeRawBufferPointer, hash: UInt64, from: Int64, to: Int64
    ) throws(LMDBError) -> Int64? {
        let first = segmentID(from)
        let last = segmentID(to)
        var i = 0
        while i < segments.count && segments[i].id < first { i += 1 }
        while i < segments.count && segments[i].id <= last {
            if segments[i].filter == nil && !segments[i].filterUnavailable { try rebuildFilter(at: i) }
            let s = segments[i]
            i += 1
            if let filter = s.filter, !filter.mayContain(hash) { continue }
            var best = pendingPuts.earliestTimestamp(
                key, tag: Self.pendingTag(hash), segmentID: s.id, from: from, to: to)
            let length = schema.encodeShort(key, from, into: keyBuffer)
            var cursor = try transaction!.cachedCursor(on: s.database)
            if try cursor.seek(atLeast: UnsafeRawBufferPointer(rebasing: keyBuffer[..<length])) {
                let stored = cursor.key
                if WindowKeySchema.storedKey(stored, matchesShort: key) {
                    let ts = WindowKeySchema.timestamp(of: stored)
                    if ts <= to && ts < (best ?? .max) { best = ts }
                }
            }
            // Segments partition time: the first one holding the key holds its earliest entry.
            if let best { return best }
        }
        return nil
    }

    /// Records the put of short `key` as pending in its segment (created if needed), or writes it
    /// directly when the segment has no usable filter (a lookup could not skip LMDB there, and
    /// only a filter that knows the pending keys may send a lookup past them).
    @inline(__always)
    private func deferPut(
        _ key: UnsafeRawBufferPointer, hash: UInt64, _ ts: Int64, _ value: UnsafeRawBufferPointer
    ) throws(LMDBError) {
        let id = segmentID(ts)
        let index = try createSegment(id)
        if segments[index].filter == nil && !segments[index].filterUnavailable { try rebuildFilter(at: index) }
        guard segments[index].filter != nil else {
            // Pending puts go first, so that they never overwrite a later direct one.
            try drainPendingPuts()
            let length = schema.encodeShort(key, ts, into: keyBuffer)
            var cursor = try transaction!.cachedCursor(on: segments[index].database)
            try cursor.put(key: UnsafeRawBufferPointer(rebasing: keyBuffer[..<length]), value: value)
            return
        }
        // Grow a full filter first: after the put is pending nothing may fail, or the put would
        // stay pending without being in the replay log, nor in the changelog (a changelogging
        // decorator logs only what the store reports as inserted).
        if segments[index].filter!.isFull { try rebuildFilter(at: index) }
        pendingPuts.add(key, tag: Self.pendingTag(hash), ts, value, segmentID: id)
        // Full again after this key: the next put rebuilds it.
        _ = segments.addToFilter(at: index, key)
    }

    /// Writes the pending puts to LMDB, in key order per segment.
    private func flushPendingPuts() throws(StateStoreError) {
        guard !pendingPuts.isEmpty else { return }
        // After a "map full", write() replays the log (pending puts included) and clears them,
        // so a second run of the body finds nothing left.
        try write { () throws(LMDBError) in try drainPendingPuts() }
    }

    /// ``flushPendingPuts()`` inside an open transaction.
    private func drainPendingPuts() throws(LMDBError) {
        guard !pendingPuts.isEmpty else { return }
        var currentID = Int64.min
        var database = LMDBDatabase?.none
        try pendingPuts.drain(schema: schema) { (id, storedKey, value) throws(LMDBError) in
            if id != currentID || database == nil {
                currentID = id
                database = segments.database(for: id)
            }
            var cursor = try transaction!.cachedCursor(on: database!)
            try cursor.put(key: storedKey, value: value)
        }
    }

    /// The timestamp of the earliest live entry of `key` in `[from, to]`, or `nil`; no allocation.
    public func firstTimestamp(key: UnsafeRawBufferPointer, from fromMs: Int64, to toMs: Int64) throws(StateStoreError)
        -> Int64?
    {
        try checkKey(key)
        let low = max(fromMs, liveFloor)
        guard low <= toMs else { return nil }
        try flushPendingPuts()
        return try write { () throws(LMDBError) -> Int64? in try firstTimestamp(key, from: low, to: toMs) }
    }

    /// The live entries of `key` with `from <= timestamp <= to`, in timestamp order.
    public func fetch(key: UnsafeRawBufferPointer, from fromMs: Int64, to toMs: Int64) throws(StateStoreError)
        -> [WindowEntry]
    {
        try checkKey(key)
        let low = max(fromMs, liveFloor)
        guard low <= toMs else { return [] }
        try flushPendingPuts()
        return try write { () throws(LMDBError) -> [WindowEntry] in
            var result: [WindowEntry] = []
            try scan(key, from: low, to: toMs) { (ts, value) in
                result.append(WindowEntry(key: Array(key), timestampMs: ts, value: Array(value)))
                return true
            }
            return result
        }
    }

    /// Calls `body` with every live entry, segment by segment.
    public func forEachEntry(_ body: (WindowEntry) throws -> Void) throws {
        let floor = liveFloor
        for id in segments.ids {
            // Before each segment: `body` may have inserted since (pending puts). A flush that
            // hits "map full" reloads the segment table, so the database is looked up after it.
            try flushPendingPuts()
            guard let database = segments.database(for: id) else { continue }
            var entries: [WindowEntry] = []
            var damaged = false
            try write { () throws(LMDBError) in
                entries.removeAll(keepingCapacity: true)
                try transaction!.forEach(in: database) { (k, v) throws(LMDBError) in
                    guard let entry = WindowKeySchema.decode(key: k, value: v) else {
                        damaged = true
                        return false
                    }
                    if entry.timestampMs >= floor { entries.append(entry) }
                    return true
                }
            }
            if damaged {
                throw StateStoreError(
                    .corrupt,
                    "segment \(id) of \(directory) holds a malformed entry; delete the store to rebuild it from the changelog"
                )
            }
            for entry in entries { try body(entry) }
        }
    }

    /// Deletes `(key, timestampMs)` if present; whether it was.
    @discardableResult
    public func delete(key: UnsafeRawBufferPointer, timestampMs: Int64) throws(StateStoreError) -> Bool {
        try checkKey(key)
        try flushPendingPuts()
        guard try deleteUnlogged(key, timestampMs) else { return false }
        replayLog.appendDelete(key, timestampMs)
        return true
    }

    /// Advances stream time and drops every fully expired segment.
    public func advanceStreamTime(to timestampMs: Int64) throws(StateStoreError) {
        guard timestampMs > streamTimeMs else { return }
        try advanceUnlogged(timestampMs)
        replayLog.appendAdvance(timestampMs)
    }

    /// Applies changelog entries; see ``WindowStore/restore(from:)``.
    public func restore(from entries: some Sequence<ChangelogEntry>) throws(StateStoreError) {
        try flushPendingPuts()
        var maxTimestamp = Int64.min
        for entry in entries {
            maxTimestamp = max(maxTimestamp, entry.timestampMs)
            try withBytes(entry.key) { (key) throws(StateStoreError) in
                try checkKey(key)
                if let value = entry.value {
                    guard !isExpired(entry.timestampMs) else { return }
                    try withBytes(value) { (v) throws(StateStoreError) in
                        // Short keys as pending puts, like insertIfAbsent's: written sorted.
                        if schema.isLong(key) {
                            try putUnlogged(key, entry.timestampMs, v)
                        } else {
                            let hash = SegmentFilter.hash(key)
                            try write { () throws(LMDBError) in try deferPut(key, hash: hash, entry.timestampMs, v) }
                        }
                        replayLog.appendPut(key, entry.timestampMs, v)
                        if pendingPuts.count >= options.maxPendingPuts { try flushPendingPuts() }
                    }
                } else {
                    try flushPendingPuts()
                    if try deleteUnlogged(key, entry.timestampMs) { replayLog.appendDelete(key, entry.timestampMs) }
                }
            }
        }
        try advanceStreamTime(to: maxTimestamp)
    }

    // MARK: Internals

    /// The smallest timestamp still live: `streamTime - retention + 1`.
    private var liveFloor: Int64 { streamTimeMs.saturatingSubtract(retentionMs).saturatingAdd(1) }

    @inline(__always)
    private func isExpired(_ ts: Int64) -> Bool { ts < liveFloor }

    /// The id of the segment holding `ts`: `floor(ts / segmentInterval)`, without dividing when
    /// `ts` falls in the last computed segment or the one before it.
    @inline(__always)
    private func segmentID(_ ts: Int64) -> Int64 {
        if ts >= cachedSegmentStart && ts <= cachedSegmentEnd { return cachedSegmentID }
        if ts >= cachedPreviousStart && ts < cachedSegmentStart { return cachedSegmentID - 1 }
        return computeSegmentID(ts)
    }

    private func computeSegmentID(_ ts: Int64) -> Int64 {
        let id = ts.floorDivided(by: segmentIntervalMs)
        let (start, overflow) = id.multipliedReportingOverflow(by: segmentIntervalMs)
        if overflow {
            // The segment starts below Int64.min: leave the cache empty rather than clamp it.
            (cachedPreviousStart, cachedSegmentStart, cachedSegmentEnd) = (1, 1, 0)
        } else {
            cachedSegmentID = id
            cachedSegmentStart = start
            // Saturating: a segment reaching past Int64.max ends there; one before a segment that
            // starts within an interval of Int64.min takes every timestamp below it.
            cachedSegmentEnd = start.saturatingAdd(segmentIntervalMs - 1)
            cachedPreviousStart = start.saturatingSubtract(segmentIntervalMs)
        }
        return id
    }

    @inline(__always)
    private func checkKey(_ key: UnsafeRawBufferPointer) throws(StateStoreError) {
        if key.count > options.maxKeySize {
            throw StateStoreError(
                .tooLarge, "a key of \(key.count) bytes exceeds the store's limit of \(options.maxKeySize) bytes")
        }
    }

    private func wrap(_ error: LMDBError) -> StateStoreError { Self.wrap(error, directory: directory) }

    private static func wrap(_ error: LMDBError, directory: String) -> StateStoreError {
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

    private static func diskFull(_ error: LMDBError, directory: String, available: Int64?) -> StateStoreError {
        let free = available.map { "\($0) bytes free" } ?? "free space unknown"
        return StateStoreError(
            .diskFull,
            "disk full: the store in \(directory) cannot be written (\(error.operation) failed, \(free) on its file system); free space there or move the state directory to a larger disk, then run again: the last commit is intact and is resumed",
            underlying: error
        )
    }

    /// The segment database for `id`, if it exists.
    @inline(__always)
    private func segment(_ id: Int64) -> LMDBDatabase? { segments.database(for: id) }

    /// The index in `segments` of segment `id`, created if needed; valid until `segments` changes.
    @inline(__always)
    private func createSegment(_ id: Int64) throws(LMDBError) -> Int {
        if let index = segments.index(of: id) { return index }
        return try openNewSegment(id)
    }

    private func openNewSegment(_ id: Int64) throws(LMDBError) -> Int {
        let db = try transaction!.openDatabase(named: Self.segmentPrefix + String(id), create: true)!
        // No filter until a lookup needs one (insertIfAbsent, or a lookup spanning segments).
        guard let index = segments.insert(id: id, database: db, filter: nil) else {
            throw LMDBError(code: .databasesFull, operation: "opening segment \(id)")
        }
        return index
    }

    /// Builds the filter of the segment at `index` from its entries (in the open transaction, so
    /// including this batch's) and its pending puts, with room for four times as many keys: when
    /// a filter is full, and the first time insertIfAbsent or a lookup spanning several segments
    /// reaches one without a filter. A segment holding an entry whose key cannot be read back gets
    /// no filter, and is searched from then on.
    private func rebuildFilter(at index: Int) throws(LMDBError) {
        let db = segments[index].database
        let keys = try transaction!.count(of: db) + pendingPuts.count(segmentID: segments[index].id)
        var filter = SegmentFilter(wordCount: SegmentFilter.wordCount(forKeys: keys))
        var readable = true
        try transaction!.forEach(in: db) { (key, value) throws(LMDBError) in
            guard let userKey = WindowKeySchema.userKey(stored: key, value: value) else {
                readable = false
                return false
            }
            filter.add(SegmentFilter.hash(userKey))
            return true
        }
        pendingPuts.forEachKey(segmentID: segments[index].id) { filter.add(SegmentFilter.hash($0)) }
        if readable {
            segments.setFilter(at: index, filter)
        } else {
            filter.deallocate()
            segments.setFilter(at: index, nil)
        }
    }

    /// The timestamp of the first entry of `key` in `[from, to]`, over all segments in range.
    @inline(__always)
    private func firstTimestamp(_ key: UnsafeRawBufferPointer, from: Int64, to: Int64) throws(LMDBError) -> Int64? {
        var found: Int64?
        try scan(key, from: from, to: to) { (ts, _) in
            found = ts
            return false
        }
        return found
    }

    /// Calls `body` with each entry of `key` in `[from, to]` in time order until it returns false.
    @inline(__always)
    private func scan(
        _ key: UnsafeRawBufferPointer,
        from: Int64,
        to: Int64,
        _ body: (Int64, UnsafeRawBufferPointer) -> Bool
    ) throws(LMDBError) {
        let first = segmentID(from)
        let last = segmentID(to)
        let long = schema.isLong(key)
        var start = 0
        while start < segments.count && segments[start].id < first { start += 1 }
        var end = start
        while end < segments.count && segments[end].id <= last { end += 1 }
        // (The public lookups. insertIfAbsent has its own, which always uses filters because it
        // defers its puts.) Filters pay off here when the range spans several segments: each one
        // they rule out saves a B-tree descent; within one segment a hit would only pay the hash.
        let filtered = end - start > 1
        let hash = filtered ? SegmentFilter.hash(key) : 0
        for i in start..<end {
            if filtered && segments[i].filter == nil && !segments[i].filterUnavailable {
                // The first lookup that spans this segment and another: build its filter, once.
                try rebuildFilter(at: i)
            }
            let s = segments[i]
            if filtered, let filter = s.filter, !filter.mayContain(hash) { continue }
            if long {
                guard let chain = try findChain(key, in: s.database) else { continue }
                let length = WindowKeySchema.encodeLong(hash: chain.hash, chain: chain.chain, from, into: keyBuffer)
                let go = try transaction!.withCachedCursor(on: s.database) { (cursor) throws(LMDBError) -> Bool in
                    var more = try cursor.seek(atLeast: UnsafeRawBufferPointer(rebasing: keyBuffer[..<length]))
                    while more {
                        let stored = cursor.key
                        guard WindowKeySchema.storedKey(stored, isLongWithHash: chain.hash),
                            WindowKeySchema.chain(ofLong: stored) == chain.chain
                        else { return true }
                        let ts = WindowKeySchema.timestamp(of: stored)
                        if ts > to { return true }
                        guard let (_, value) = WindowKeySchema.splitLongValue(cursor.value) else { return true }
                        if !body(ts, value) { return false }
                        more = try cursor.next()
                    }
                    return true
                }
                if !go { return }
            } else {
                let length = schema.encodeShort(key, from, into: keyBuffer)
                var cursor = try transaction!.cachedCursor(on: s.database)
                var more = try cursor.seek(atLeast: UnsafeRawBufferPointer(rebasing: keyBuffer[..<length]))
                while more {
                    let stored = cursor.key
                    guard WindowKeySchema.storedKey(stored, matchesShort: key) else { break }
                    let ts = WindowKeySchema.timestamp(of: stored)
                    if ts > to { break }
                    if !body(ts, cursor.value) { return }
                    more = try cursor.next()
                }
            }
        }
    }

    /// The collision chain of long `key` in `database`, or `nil` if the key has no entry there.
    /// `next` is the first free chain number.
    private func findChain(
        _ key: UnsafeRawBufferPointer,
        in database: LMDBDatabase
    ) throws(LMDBError) -> (hash: UInt64, chain: UInt16)? {
        try chainLookup(key, in: database).found
    }

    private func chainLookup(
        _ key: UnsafeRawBufferPointer,
        in database: LMDBDatabase
    ) throws(LMDBError) -> (hash: UInt64, found: (hash: UInt64, chain: UInt16)?, next: Int) {
        let hash = schema.hash.hash(key)
        var chain = 0
        while chain <= Int(UInt16.max) {
            let length = WindowKeySchema.encodeLong(hash: hash, chain: UInt16(chain), .min, into: keyBuffer)
            let (match, actual): (Bool, Int?) = try transaction!.withCachedCursor(on: database) {
                (cursor) throws(LMDBError) -> (Bool, Int?) in
                guard try cursor.seek(atLeast: UnsafeRawBufferPointer(rebasing: keyBuffer[..<length])),
                    WindowKeySchema.storedKey(cursor.key, isLongWithHash: hash)
                else { return (false, nil) }
                let actual = Int(WindowKeySchema.chain(ofLong: cursor.key))
                guard let (stored, _) = WindowKeySchema.splitLongValue(cursor.value) else { return (false, actual) }
                return (
                    stored.count == key.count
                        && (key.count == 0 || memcmpEqual(stored.baseAddress!, key.baseAddress!, key.count)), actual
                )
            }
            guard let actual else { return (hash, nil, chain) }
            if match { return (hash, (hash, UInt16(actual)), actual + 1) }
            chain = actual + 1
        }
        return (hash, nil, chain)
    }

    private func putUnlogged(
        _ key: UnsafeRawBufferPointer, _ ts: Int64, _ value: UnsafeRawBufferPointer
    ) throws(StateStoreError) {
        try write { () throws(LMDBError) in
            let index = try createSegment(segmentID(ts))
            let db = segments[index].database
            defer {
                // A rebuild that fails (the transaction is failing too) leaves the full filter in
                // place, which still holds every key: it only answers "maybe" more often.
                if segments.addToFilter(at: index, key) { try? rebuildFilter(at: index) }
            }
            if schema.isLong(key) {
                let lookup = try chainLookup(key, in: db)
                let chain: UInt16
                if let found = lookup.found {
                    chain = found.chain
                } else if lookup.next <= Int(UInt16.max) {
                    chain = UInt16(lookup.next)
                } else {
                    throw LMDBError(code: .other, operation: "more than 65,536 long keys share one hash in a segment")
                }
                let length = WindowKeySchema.encodeLong(hash: lookup.hash, chain: chain, ts, into: keyBuffer)
                valueBuffer.removeAll(keepingCapacity: true)
                withUnsafeBytes(of: UInt32(key.count).bigEndian) { valueBuffer.append(contentsOf: $0) }
                valueBuffer.append(contentsOf: key)
                valueBuffer.append(contentsOf: value)
                try withBytes(valueBuffer) { (v) throws(LMDBError) in
                    _ = try transaction!.put(
                        key: UnsafeRawBufferPointer(rebasing: keyBuffer[..<length]), value: v, in: db)
                }
            } else {
                let length = schema.encodeShort(key, ts, into: keyBuffer)
                var cursor = try transaction!.cachedCursor(on: db)
                try cursor.put(key: UnsafeRawBufferPointer(rebasing: keyBuffer[..<length]), value: value)
            }
        }
    }

    private func deleteUnlogged(_ key: UnsafeRawBufferPointer, _ ts: Int64) throws(StateStoreError) -> Bool {
        // The database is looked up inside the body: after a "map full" the segment table is
        // reloaded and the body runs again.
        return try write { () throws(LMDBError) -> Bool in
            guard let db = segment(segmentID(ts)) else { return false }
            let length: Int
            if schema.isLong(key) {
                guard let found = try findChain(key, in: db) else { return false }
                length = WindowKeySchema.encodeLong(hash: found.hash, chain: found.chain, ts, into: keyBuffer)
            } else {
                length = schema.encodeShort(key, ts, into: keyBuffer)
            }
            return try transaction!.delete(UnsafeRawBufferPointer(rebasing: keyBuffer[..<length]), in: db)
        }
    }

    @inline(__always)
    private func advanceUnlogged(_ ts: Int64) throws(StateStoreError) {
        guard ts > streamTimeMs else { return }
        streamTimeMs = ts
        // Segment s holds timestamps up to (s + 1) * interval - 1, all expired iff that is below
        // the live floor, that is iff (s + 1) * interval <= liveFloor (no division on this path).
        guard let oldest = segments.first else { return }
        let (end, overflow) = (oldest.id + 1).multipliedReportingOverflow(by: segmentIntervalMs)
        if !overflow && end <= liveFloor { try dropExpiredSegments(streamTime: ts) }
    }

    private func dropExpiredSegments(streamTime ts: Int64) throws(StateStoreError) {
        try flushPendingPuts()
        // One segment per body run, chosen inside it: a "map full" (in the flush or a drop)
        // replays the batch from the last commit's stream time, without this advance (it is not
        // in the replay log yet), and reloads the segment table, so both are read afresh.
        var dropped = true
        while dropped {
            dropped = try write { () throws(LMDBError) -> Bool in
                streamTimeMs = max(streamTimeMs, ts)
                let firstLive = liveFloor.floorDivided(by: segmentIntervalMs)
                guard let oldest = segments.first, oldest.id < firstLive else { return false }
                try transaction!.drop(oldest.database)
                segments.removeFirst()
                return true
            }
        }
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

extension StateStoreError {
    /// The LMDB error underneath, if the store that threw is an ``LMDBWindowStore``.
    public var lmdb: LMDBError? { underlying as? LMDBError }
}
