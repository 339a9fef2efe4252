internal import CStreamsLMDB
internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// An open LMDB environment: one memory-mapped data file (plus its lock file) holding one or more
/// databases.
///
/// The map grows on demand: when a write transaction run by ``withWriteTransaction(_:)`` hits
/// `MDB_MAP_FULL`, the map size is doubled (up to ``Configuration/maxMapSize``) and the work is
/// retried, so callers only see ``LMDBError/Code/mapFull`` once the maximum is reached.
///
/// - Important: `MDB_env` is thread-safe (LMDB documents the environment handle as shareable across
///   threads), hence `@unchecked Sendable`. Transactions are not.
public final class LMDBEnvironment: @unchecked Sendable {
    /// How to open an environment.
    public struct Configuration: Sendable, Hashable {
        /// The initial map size in bytes (rounded up to whole pages by LMDB). Default 64 MiB.
        public var mapSize: Int
        /// The largest map size growth may reach. Default 1 TiB (address space, not disk).
        public var maxMapSize: Int
        /// How many named databases may be open at once. Default 256.
        public var maxDatabases: UInt32
        /// How many reader slots the lock file has. Default 126 (LMDB's default).
        public var maxReaders: UInt32
        /// The environment flags. Default `[.noTLS, .noReadahead]` (fully synchronous commits).
        public var flags: LMDBEnvironmentFlags
        /// The mode of newly created files. Default `0o644`.
        public var fileMode: UInt32

        /// Creates a configuration; every parameter has the default documented on its property.
        public init(
            mapSize: Int = 64 << 20,
            maxMapSize: Int = 1 << 40,
            maxDatabases: UInt32 = 256,
            maxReaders: UInt32 = 126,
            flags: LMDBEnvironmentFlags = [.noTLS, .noReadahead],
            fileMode: UInt32 = 0o644
        ) {
            self.mapSize = mapSize
            self.maxMapSize = maxMapSize
            self.maxDatabases = maxDatabases
            self.maxReaders = maxReaders
            self.flags = flags
            self.fileMode = fileMode
        }
    }

    /// The path the environment was opened at.
    public let path: String
    /// The configuration the environment was opened with.
    public let configuration: Configuration
    /// Valid until ``close()``; every use goes through ``openHandle``.
    private let handle: OpaquePointer
    /// Whether ``close()`` ran (atomic: the type is `Sendable`).
    private let closed = Atomic<Bool>(false)

    /// Opens (creating if needed) the environment at `path`, a directory unless the flags contain
    /// ``LMDBEnvironmentFlags/noSubdirectory``.
    ///
    /// - Throws: ``LMDBError``: ``LMDBError/Code/noSuchFile`` when the directory is missing,
    ///   ``LMDBError/Code/invalid`` or ``LMDBError/Code/versionMismatch`` for a file that is not a
    ///   usable LMDB file, ``LMDBError/Code/corrupted`` when the data file is shorter than its
    ///   meta page says (a truncated copy).
    public init(path: String, configuration: Configuration = Configuration()) throws(LMDBError) {
        self.path = path
        self.configuration = configuration
        var env: OpaquePointer?
        try check(mdb_env_create(&env), "mdb_env_create")
        // From here on mdb_env_close must run on every failure path.
        do throws(LMDBError) {
            try check(mdb_env_set_maxdbs(env, configuration.maxDatabases), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(env, configuration.maxReaders), "mdb_env_set_maxreaders")
            try check(mdb_env_set_mapsize(env, configuration.mapSize), "mdb_env_set_mapsize")
            let rc = mdb_env_open(env, path, configuration.flags.rawValue, mdb_mode_t(configuration.fileMode))
            if rc != 0 { throw Self.openError(rc, path: path, flags: configuration.flags) }
            try Self.verifyFileLength(env!, path: path, flags: configuration.flags)
        } catch {
            mdb_env_close(env)
            throw error
        }
        handle = env!
    }

    deinit {
        if !closed.load(ordering: .acquiring) { mdb_env_close(handle) }
    }

    /// Closes the environment now rather than when the last reference goes (`mdb_env_close`): its
    /// files are closed and unmapped, so the directory may be opened again in this process at
    /// once (LMDB forbids two open environments on one directory in a process). A second call
    /// does nothing.
    ///
    /// - Important: Call it only with no transaction of this environment open and no other thread
    ///   using it; any use afterwards is a programmer error (a precondition failure).
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        mdb_env_close(handle)
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// The `MDB_env` pointer, checked to be open (an atomic load: once per call, not per record).
    var openHandle: OpaquePointer {
        precondition(!closed.load(ordering: .acquiring), "the LMDB environment at \(path) is closed")
        return handle
    }

    /// The error of a failed `mdb_env_open`: a read-only open of a directory (or path) that holds
    /// no data file says so rather than that the directory is missing, and a full disk says it is.
    private static func openError(_ rc: Int32, path: String, flags: LMDBEnvironmentFlags) -> LMDBError {
        let operation = "mdb_env_open \(path)" + (flags.contains(.readOnly) ? " (read-only)" : "")
        if rc == ENOENT && flags.contains(.readOnly) {
            let noSubdirectory = flags.contains(.noSubdirectory)
            let directory = noSubdirectory ? String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) : path
            if access(directory.isEmpty ? "." : directory, F_OK) == 0 {
                let missing = noSubdirectory ? "\(path) does not exist" : "\(path) has no data.mdb"
                return LMDBError(
                    rawValue: rc,
                    operation: operation,
                    detail:
                        "\(missing) (no LMDB environment there), and a read-only open cannot create one; open it writable once to create it, or give the path of an existing environment"
                )
            }
        }
        return LMDBError(writing: rc, operation: operation, directory: path)
    }

    /// A data file shorter than its last used page was truncated (a copy cut short, a full disk
    /// during a copy): reading it through the map would raise SIGBUS, so refuse it up front.
    private static func verifyFileLength(_ env: OpaquePointer, path: String, flags: LMDBEnvironmentFlags)
        throws(LMDBError)
    {
        var info = MDB_envinfo()
        var stat = MDB_stat()
        try check(mdb_env_info(env, &info), "mdb_env_info")
        try check(mdb_env_stat(env, &stat), "mdb_env_stat")
        let dataPath = flags.contains(.noSubdirectory) ? path : path + "/data.mdb"
        var st = stat_t()
        guard stat_path(dataPath, &st) == 0 else { return }
        let needed = (info.me_last_pgno + 1) * Int(stat.ms_psize)
        if Int(st.st_size) < needed {
            throw LMDBError(
                code: .corrupted,
                operation: "mdb_env_open \(path) (data file has \(st.st_size) bytes, its meta page needs \(needed))")
        }
    }

    /// Flushes written data to disk (`mdb_env_sync`).
    ///
    /// - Parameter force: Flush even when the environment was opened with ``LMDBEnvironmentFlags/noSync``.
    public func sync(force: Bool = true) throws(LMDBError) {
        try checkWrite(mdb_env_sync(openHandle, force ? 1 : 0), "mdb_env_sync \(path)", directory: path)
    }

    /// Facts about the environment: map size, last page, last transaction.
    public var info: LMDBEnvironmentInfo {
        var i = MDB_envinfo()
        mdb_env_info(openHandle, &i)
        return LMDBEnvironmentInfo(i)
    }

    /// Statistics of the main database, including the page size.
    public var statistics: LMDBStatistics {
        var s = MDB_stat()
        mdb_env_stat(openHandle, &s)
        return LMDBStatistics(s)
    }

    /// The data file's high-water mark: `(last page + 1) × page size`, the size the file needs.
    ///
    /// Not the bytes in use: LMDB reuses freed pages but never shrinks the file or lowers its
    /// last page, so this does not fall when entries are deleted or databases dropped. For the
    /// pages of one tree see ``LMDBStatistics/usedBytes``.
    public var usedBytes: Int {
        (info.lastPageNumber + 1) * statistics.pageSize
    }

    /// Sets the map size. Call only while this process has no transaction open.
    public func setMapSize(_ bytes: Int) throws(LMDBError) {
        try check(mdb_env_set_mapsize(openHandle, bytes), "mdb_env_set_mapsize \(bytes)")
    }

    /// Doubles the map size, up to ``Configuration/maxMapSize``. Call only while this process has
    /// no transaction open.
    ///
    /// - Throws: ``LMDBError/Code/mapFull`` when the map is already at its maximum.
    public func growMap() throws(LMDBError) {
        let current = info.mapSize
        guard current < configuration.maxMapSize else {
            throw LMDBError(
                code: .mapFull,
                operation: "growing the map of \(path) beyond its maximum of \(configuration.maxMapSize) bytes")
        }
        try setMapSize(min(current &* 2, configuration.maxMapSize))
    }

    /// Begins a read transaction, calls `body` with it and aborts it afterwards.
    @available(*, noasync, message: "LMDB transactions cannot cross an await")
    public func withReadTransaction<R>(_ body: (borrowing LMDBReadTransaction) throws(LMDBError) -> R) throws(LMDBError)
        -> R
    {
        let txn = try LMDBReadTransaction(environment: openHandle)
        return try body(txn)
    }

    /// Begins a write transaction, calls `body` with it and commits; aborts if `body` throws.
    ///
    /// When the map is full (in `body` or at commit), the transaction is aborted, the map doubled
    /// and `body` called again from the start, so `body` must only touch the transaction.
    ///
    /// - Throws: The first error of `body` or of the commit, after the transaction was aborted.
    @available(*, noasync, message: "LMDB transactions cannot cross an await")
    public func withWriteTransaction<R>(_ body: (inout LMDBWriteTransaction) throws(LMDBError) -> R) throws(LMDBError)
        -> R
    {
        while true {
            do throws(LMDBError) {
                return try attemptWrite(body)
            } catch  where error.code == .mapFull && info.mapSize < configuration.maxMapSize {
                try growMap()
            }
        }
    }

    @available(*, noasync)
    private func attemptWrite<R>(_ body: (inout LMDBWriteTransaction) throws(LMDBError) -> R) throws(LMDBError) -> R {
        var txn = try LMDBWriteTransaction(environment: openHandle)
        let result = try body(&txn)  // on throw, txn's deinit aborts
        try txn.commit()
        return result
    }

    /// Begins a write transaction to keep open across calls; commit or abort it before the next one.
    ///
    /// - Important: Only one write transaction exists per environment at a time; a second call
    ///   from another thread blocks until the first ends, from the same thread it deadlocks.
    @available(*, noasync, message: "LMDB transactions cannot cross an await")
    public func beginWriteTransaction() throws(LMDBError) -> LMDBWriteTransaction {
        try LMDBWriteTransaction(environment: openHandle)
    }
}

/// `stat(2)` under a name that does not clash with the `stat` struct.
private func stat_path(_ path: String, _ st: inout stat_t) -> Int32 {
    stat(path, &st)
}

#if canImport(Glibc)
    private typealias stat_t = Glibc.stat
#else
    private typealias stat_t = Darwin.stat
#endif
