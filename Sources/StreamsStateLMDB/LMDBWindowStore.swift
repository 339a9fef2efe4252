public import StreamsLMDB
public import StreamsState

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

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
/// The code is split by concern: this file holds the state, the transactions and the writes;
/// `LMDBWindowStore+Opening` the format and integrity checks, `+Replay` the map-full replay,
/// `+Reads` the lookups and scans, `+Segments` segment ids, filters and expiry, `+LongKeys` the
/// collision chains, `+PendingPuts` insertIfAbsent's deferred puts, `+Errors` the error mapping.
///
/// - Important: One open store per directory: opening claims it (a per-process registry and an
///   exclusive `flock` on `directory/store.lock`), so a second store, in this process or another,
///   throws ``StateStoreError/Code/inUse``; ``close()`` releases it. One thread per batch: the
///   calls from the first one after opening, ``commit(metadata:)`` or ``abort()`` up to the next
///   commit or abort run on one thread (the LMDB write transaction belongs to it), else they
///   throw ``StateStoreError/Code/wrongThread``; hand the store over only between batches. After
///   ``close()`` every operation throws ``StateStoreError/Code/closed``.
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
        /// The most segments that can exist at once. Default 1,000
        /// (``WindowStoreConfiguration/defaultMaxSegments``, as in ``InMemoryWindowStore``).
        /// Opening refuses a retention and segment interval that may need more
        /// (``WindowStoreConfiguration/segmentsNeeded``); a write needing one more segment throws
        /// ``StateStoreError/Code/tooManySegments``.
        public var maxSegments: Int
        /// What to do when the directory holds a store built with another retention.
        public var onConfigurationMismatch: ConfigurationMismatchPolicy
        /// Keys longer than this many bytes are stored by hash with collision chains. Default
        /// 400, at most 501 (LMDB keys are limited to 511 bytes).
        public var longKeyThreshold: Int
        /// The hash for long keys; ``KeyHash/constant(_:)`` forces collisions in tests.
        public var keyHash: KeyHash
        /// The largest business key accepted, in bytes; a longer one throws
        /// ``StateStoreError/Code/tooLarge``. Default 16 MiB
        /// (``WindowStoreConfiguration/defaultMaxKeySize``, as in ``InMemoryWindowStore``).
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
            maxSegments: Int = WindowStoreConfiguration.defaultMaxSegments,
            onConfigurationMismatch: ConfigurationMismatchPolicy = .fail,
            longKeyThreshold: Int = 400,
            keyHash: KeyHash = .fnv1a,
            maxKeySize: Int = WindowStoreConfiguration.defaultMaxKeySize,
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
        /// cannot bring back segments already dropped. The segment interval stays the stored one:
        /// a `segmentInterval` other than it is refused under either policy.
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
    @exclusivity(unchecked) public internal(set) var retentionMs: Int64
    /// The span of one segment in milliseconds (the stored one when reopening).
    public let segmentIntervalMs: Int64
    /// Whether the files could be trusted when opened.
    public let integrity: Integrity
    /// The current stream time (pending until commit), or `Int64.min`.
    @exclusivity(unchecked) public internal(set) var streamTimeMs: Int64 = .min

    let environment: LMDBEnvironment
    let options: Options
    let schema: WindowKeySchema
    var meta: LMDBDatabase
    // The hot mutable state is marked `@exclusivity(unchecked)`: the store is single-threaded by
    // contract and these properties are never accessed re-entrantly, while the dynamic checks
    // cost about a tenth of an insert.
    /// Open segment databases, ascending by id.
    @exclusivity(unchecked) var segments: SegmentTable
    // The segment of the last `segmentID` miss, so that most calls need no 64-bit division: a
    // timestamp in `cachedSegmentStart...cachedSegmentEnd` is in `cachedSegmentID`, one in
    // `cachedPreviousStart..<cachedSegmentStart` in the segment before. Empty ranges until filled.
    @exclusivity(unchecked) var cachedSegmentID: Int64 = 0
    @exclusivity(unchecked) var cachedPreviousStart: Int64 = 1
    @exclusivity(unchecked) var cachedSegmentStart: Int64 = 1
    @exclusivity(unchecked) var cachedSegmentEnd: Int64 = 0
    @exclusivity(unchecked) var transaction: LMDBWriteTransaction?
    /// The thread that began ``transaction`` (meaningless while there is none).
    @exclusivity(unchecked) var transactionThread: pthread_t = pthread_self()
    var committedStreamTimeMs: Int64 = .min
    /// Every mutation of the open transaction, to replay after growing a full map.
    @exclusivity(unchecked) var replayLog = ReplayLog()
    /// Puts of `insertIfAbsent` not yet written to LMDB; every other operation flushes them first.
    let pendingPuts = PendingPuts()
    /// Scratch space for stored keys (longest: a short key of `threshold` bytes).
    let keyBuffer: KeyBuffer
    @exclusivity(unchecked) var valueBuffer: [UInt8] = []
    @exclusivity(unchecked) var isClosed = false
    /// The segment a write last needed beyond ``Options/maxSegments``, for the error message.
    var refusedSegmentID: Int64?
    /// ``usedBytes`` as it was when the store closed its environment.
    var usedBytesAtClose = 0
    /// This store's claim on its directory (registry entry and flock), released by ``close()``.
    var directoryLock: StoreDirectoryLock?

    static let segmentPrefix = "segment/"
    static let formatVersion: [UInt8] = Array("swift-dedup window store v1".utf8)

    /// Opens the store in `directory`, creating the directory and an empty store if needed.
    ///
    /// - Throws: ``StateStoreError`` with code ``StateStoreError/Code/invalidConfiguration`` for a
    ///   retention under 1 ms, or a retention and segment interval (the stored one when reopening)
    ///   that may need more than ``Options/maxSegments`` segments at once
    ///   (``WindowStoreConfiguration/segmentsNeeded``), ``StateStoreError/Code/corrupt`` for files that are
    ///   not a swift-dedup store or are damaged, ``StateStoreError/Code/configurationMismatch`` when
    ///   the retention differs and the policy is ``ConfigurationMismatchPolicy/fail``, or the
    ///   configuration's `segmentInterval` is set and differs from the one the store was built with,
    ///   ``StateStoreError/Code/inUse`` when a store of this process or another process has the
    ///   directory open (one open store per directory; the lock is `directory/store.lock`), and
    ///   ``StateStoreError/Code/storage`` for other LMDB failures.
    public init(
        directory: String,
        configuration: WindowStoreConfiguration,
        options: Options = Options()
    ) throws(StateStoreError) {
        try configuration.validate()
        try WindowStoreConfiguration.checkSegmentCount(
            store: configuration.name,
            retentionMs: configuration.retentionMs,
            segmentIntervalMs: configuration.segmentIntervalMs,
            maxSegments: options.maxSegments,
            setting: "LMDBWindowStore.Options.maxSegments"
        )
        precondition(
            (0...WindowKeySchema.maxThreshold).contains(options.longKeyThreshold),
            "longKeyThreshold must be within 0...\(WindowKeySchema.maxThreshold)"
        )
        self.name = configuration.name
        self.directory = directory
        self.options = options
        self.schema = WindowKeySchema(threshold: options.longKeyThreshold, hash: options.keyHash)
        self.keyBuffer = KeyBuffer(byteCount: 2 + WindowKeySchema.maxThreshold + 8)
        // The table holds `maxSegments`; LMDB may open a few more databases (meta, and slack), so
        // the table's limit, with its clear error, is the one a store meets.
        self.segments = SegmentTable(capacity: options.maxSegments)
        do {
            try FileSystem.createDirectory(directory)
        } catch {
            throw StateStoreError(.storage, "cannot create the store directory \(directory): \(error)")
        }
        // Before LMDB opens anything: a second environment on these files would corrupt them.
        let lock = try StoreDirectoryLock(directory: directory)
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
            throw Self.wrap(error, directory: directory)
        }
        self.environment = env
        let opened = try Self.openMeta(env, directory: directory, configuration: configuration, options: options)
        self.meta = opened.meta
        self.retentionMs = opened.retentionMs
        self.segmentIntervalMs = opened.segmentIntervalMs
        self.integrity = opened.integrity
        self.streamTimeMs = opened.streamTimeMs
        self.committedStreamTimeMs = opened.streamTimeMs
        self.directoryLock = consume lock
        try reloadSegments()
    }

    deinit {
        if transaction != nil && pthread_equal(transactionThread, pthread_self()) == 0 {
            // Released on another thread than the one holding its batch: that batch cannot be
            // ended here (see checkUsable); it is lost, as if the process had been killed.
            transaction.take()?.abandon()
            pendingPuts.removeAll()
            // That thread still holds LMDB's writer mutex, a robust mutex that glibc links into
            // the thread's list of held robust mutexes. Unmapping the lock file would leave that
            // list pointing at freed memory, and the thread's next lock of any robust mutex
            // (another store's transaction) would crash or corrupt memory. So the environment
            // stays mapped and the directory claimed (reopening it in this process throws
            // `.inUse`) until the process exits: a bounded leak, on a path that is already a
            // programmer error.
            _ = Unmanaged.passRetained(environment)
            directoryLock.take()?.keepUntilExit()
            return
        }
        if !isClosed { try? close() }
    }

    // MARK: Transactions

    /// Commits every write since the last commit with `metadata`, in one LMDB transaction.
    public func commit(metadata: [String: [UInt8]]) throws(StateStoreError) {
        try checkUsable()
        for key in metadata.keys {
            precondition(!key.hasPrefix("streams."), "metadata keys starting with 'streams.' are reserved")
        }
        try flushPendingPuts()
        while true {
            try write { (txn) throws(LMDBError) in
                for (key, value) in metadata {
                    try txn.put(key: Array(key.utf8), value: value, in: meta)
                }
                try txn.put(key: Array(MetaKey.streamTime.utf8), value: streamTimeMs.bytes, in: meta)
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

    /// Rolls back every write since the last commit.
    public func abort() throws(StateStoreError) {
        try checkUsable()
        try rollBack()
    }

    func rollBack() throws(StateStoreError) {
        transaction.take()?.abort()
        pendingPuts.removeAll()
        replayLog.removeAll()
        streamTimeMs = committedStreamTimeMs
        try reloadSegments()
    }

    /// The metadata value for `key` as of the open transaction.
    public func metadata(forKey key: String) throws(StateStoreError) -> [UInt8]? {
        try checkUsable()
        return try write { (txn) throws(LMDBError) in try txn.value(forKey: Array(key.utf8), in: meta) }
    }

    /// Aborts pending writes, marks the store cleanly closed, syncs it to disk and closes it: the
    /// LMDB environment is closed (its files closed and unmapped) and the directory released, so
    /// a new store may open it at once, even while this object lives on.
    public func close() throws(StateStoreError) {
        guard !isClosed else { return }
        try checkUsable()
        transaction.take()?.abort()
        pendingPuts.removeAll()
        defer {
            isClosed = true
            usedBytesAtClose = environment.usedBytes
            // Closed before the directory is released: no moment with two environments on it.
            environment.close()
            directoryLock = nil
        }
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

    // MARK: Writes

    /// Writes `(key, timestampMs) -> value`; a no-op for an already expired entry.
    public func put(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer)
        throws(StateStoreError)
    {
        try checkUsable()
        try checkTimestamp(timestampMs, store: name)
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
    ) throws(StateStoreError) -> InsertOutcome {
        try checkUsable()
        try checkTimestamp(timestampMs, store: name)
        try checkKey(key)
        let floor = liveFloor
        let low = max(conflictRange.lowerBound, floor)
        let high = conflictRange.upperBound
        if schema.isLong(key) {
            if low <= high {
                let found = try write { (txn) throws(LMDBError) -> Int64? in
                    try firstTimestamp(txn, key, from: low, to: high)
                }
                if let found { return .conflict(earliestTimestampMs: found) }
            }
            guard timestampMs >= floor else { return .expired }
            try putUnlogged(key, timestampMs, value)
        } else {
            let hash = SegmentFilter.hash(key)
            let outcome = try write { (txn) throws(LMDBError) -> InsertOutcome in
                if low <= high, let found = try firstShortTimestamp(txn, key, hash: hash, from: low, to: high) {
                    return .conflict(earliestTimestampMs: found)
                }
                guard timestampMs >= floor else { return .expired }
                try deferPut(txn, key, hash: hash, timestampMs, value)
                return .inserted
            }
            // Only an insert wrote something, and so goes to the replay log.
            guard case .inserted = outcome else { return outcome }
        }
        replayLog.appendPut(key, timestampMs, value)
        if pendingPuts.count >= options.maxPendingPuts { try flushPendingPuts() }
        return .inserted
    }

    /// Deletes `(key, timestampMs)` if present; whether it was.
    @discardableResult
    public func delete(key: UnsafeRawBufferPointer, timestampMs: Int64) throws(StateStoreError) -> Bool {
        try checkUsable()
        try checkTimestamp(timestampMs, store: name)
        try checkKey(key)
        try flushPendingPuts()
        guard try deleteUnlogged(key, timestampMs) else { return false }
        replayLog.appendDelete(key, timestampMs)
        return true
    }

    /// Advances stream time and drops every fully expired segment.
    public func advanceStreamTime(to timestampMs: Int64) throws(StateStoreError) {
        try checkUsable()
        guard timestampMs > streamTimeMs else { return }
        try advanceUnlogged(timestampMs)
        replayLog.appendAdvance(timestampMs)
    }

    /// Applies changelog entries; see ``WindowStore/restore(from:)``.
    public func restore(from entries: [ChangelogEntry]) throws(StateStoreError) {
        try checkUsable()
        try flushPendingPuts()
        var maxTimestamp = Int64.min
        for entry in entries {
            try checkTimestamp(entry.timestampMs, store: name)
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
                            try write { (txn) throws(LMDBError) in
                                try deferPut(txn, key, hash: hash, entry.timestampMs, v)
                            }
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

    /// Every public operation's first step: a closed store throws ``StateStoreError/Code/closed``;
    /// one whose batch another thread began throws ``StateStoreError/Code/wrongThread`` (LMDB's
    /// writer lock belongs to that thread: a commit here would not release it and the next
    /// transaction would wait for it forever). A compare and a read of the thread pointer.
    @inline(__always)
    func checkUsable() throws(StateStoreError) {
        if transaction != nil {
            if pthread_equal(transactionThread, pthread_self()) == 0 { throw wrongThreadError() }
        } else if isClosed {
            throw StateStoreError(
                .closed, "the store '\(name)' in \(directory) is closed; open a new LMDBWindowStore to use it again")
        }
    }

    @inline(never)
    func wrongThreadError() -> StateStoreError {
        StateStoreError(
            .wrongThread,
            "the store '\(name)' in \(directory) was called from another thread than the one that began its open batch; an LMDBWindowStore's batch (from the first call after open, commit or abort up to the next commit or abort) must stay on one thread: commit or abort on that thread before handing the store over, and do not await between its calls"
        )
    }

    /// The smallest timestamp still live: `streamTime - retention + 1`.
    var liveFloor: Int64 { streamTimeMs.saturatingSubtract(retentionMs).saturatingAdd(1) }

    @inline(__always)
    func isExpired(_ ts: Int64) -> Bool { ts < liveFloor }

    @inline(__always)
    func checkKey(_ key: UnsafeRawBufferPointer) throws(StateStoreError) {
        if key.count > options.maxKeySize {
            throw keyTooLarge(
                key.count, limit: options.maxKeySize, store: name, setting: "LMDBWindowStore.Options.maxKeySize")
        }
    }

    func putUnlogged(
        _ key: UnsafeRawBufferPointer, _ ts: Int64, _ value: UnsafeRawBufferPointer
    ) throws(StateStoreError) {
        try write { (txn) throws(LMDBError) in
            let index = try createSegment(txn, segmentID(ts))
            let db = segments[index].database
            defer {
                // A rebuild that fails (the transaction is failing too) leaves the full filter in
                // place, which still holds every key: it only answers "maybe" more often.
                if segments.addToFilter(at: index, key) { try? rebuildFilter(txn, at: index) }
            }
            if schema.isLong(key) {
                try putLong(txn, key, ts, value, in: db)
            } else {
                let length = schema.encodeShort(key, ts, into: keyBuffer.bytes)
                var cursor = try txn.cachedCursor(on: db)
                try cursor.put(key: keyBuffer.prefix(length), value: value)
            }
        }
    }

    func deleteUnlogged(_ key: UnsafeRawBufferPointer, _ ts: Int64) throws(StateStoreError) -> Bool {
        // The database is looked up inside the body: after a "map full" the segment table is
        // reloaded and the body runs again.
        return try write { (txn) throws(LMDBError) -> Bool in
            guard let db = segment(segmentID(ts)) else { return false }
            let length: Int
            if schema.isLong(key) {
                guard let found = try findChain(txn, key, in: db) else { return false }
                length = WindowKeySchema.encodeLong(hash: found.hash, chain: found.chain, ts, into: keyBuffer.bytes)
            } else {
                length = schema.encodeShort(key, ts, into: keyBuffer.bytes)
            }
            return try txn.delete(keyBuffer.prefix(length), in: db)
        }
    }

}
