internal import CStreamsLMDB

/// Flags for opening an ``LMDBEnvironment``; each maps to one `MDB_*` environment flag.
public struct LMDBEnvironmentFlags: OptionSet, Sendable, Hashable {
    /// The raw flag bits.
    public let rawValue: UInt32

    /// Creates flags from raw bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MDB_NOSYNC`: do not fsync on commit. A killed process loses nothing (the page cache
    /// survives); an operating-system crash can lose recent commits or corrupt the file. Pair it
    /// with an explicit ``LMDBEnvironment/sync(force:)`` and a changelog to rebuild from.
    public static let noSync = Self(rawValue: UInt32(MDB_NOSYNC))
    /// `MDB_NOMETASYNC`: fsync data but not the meta page on commit.
    public static let noMetaSync = Self(rawValue: UInt32(MDB_NOMETASYNC))
    /// `MDB_WRITEMAP`: write through a writable memory map. Faster, but a full disk then raises
    /// `SIGBUS` instead of returning an error, so it is off by default in swift-dedup's stores.
    public static let writeMap = Self(rawValue: UInt32(MDB_WRITEMAP))
    /// `MDB_MAPASYNC`: with ``writeMap``, flush asynchronously.
    public static let mapAsync = Self(rawValue: UInt32(MDB_MAPASYNC))
    /// `MDB_NOTLS`: tie read transactions to the transaction object, not the thread, so they may
    /// be used from Swift concurrency's threads.
    public static let noTLS = Self(rawValue: UInt32(MDB_NOTLS))
    /// `MDB_NORDAHEAD`: turn off OS read-ahead; better for random access to a store larger than RAM.
    public static let noReadahead = Self(rawValue: UInt32(MDB_NORDAHEAD))
    /// `MDB_NOSUBDIR`: the path names the data file itself, not a directory.
    public static let noSubdirectory = Self(rawValue: UInt32(MDB_NOSUBDIR))
    /// `MDB_RDONLY`: open read-only.
    public static let readOnly = Self(rawValue: UInt32(MDB_RDONLY))
    /// `MDB_NOLOCK`: no locking at all; the caller guarantees a single user.
    public static let noLock = Self(rawValue: UInt32(MDB_NOLOCK))
}

/// Flags for ``LMDBWriteTransaction/put(key:value:in:flags:)``.
public struct LMDBPutFlags: OptionSet, Sendable, Hashable {
    /// The raw flag bits.
    public let rawValue: UInt32

    /// Creates flags from raw bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MDB_NOOVERWRITE`: do not replace an existing key; the put reports `false` instead.
    public static let noOverwrite = Self(rawValue: UInt32(MDB_NOOVERWRITE))
    /// `MDB_APPEND`: the key is larger than every key in the database; a fast bulk load.
    /// LMDB rejects keys out of order with ``LMDBError/Code/keyExists``.
    public static let append = Self(rawValue: UInt32(MDB_APPEND))
}
