internal import CStreamsLMDB

/// B-tree statistics of one database or of the whole environment (`mdb_stat`).
public struct LMDBStatistics: Sendable, Hashable {
    /// The page size in bytes.
    public var pageSize: Int
    /// The B-tree depth.
    public var depth: Int
    /// The number of internal (branch) pages.
    public var branchPages: Int
    /// The number of leaf pages.
    public var leafPages: Int
    /// The number of overflow pages (values larger than a page's share).
    public var overflowPages: Int
    /// The number of entries.
    public var entries: Int

    init(_ s: MDB_stat) {
        pageSize = Int(s.ms_psize)
        depth = Int(s.ms_depth)
        branchPages = s.ms_branch_pages
        leafPages = s.ms_leaf_pages
        overflowPages = s.ms_overflow_pages
        entries = s.ms_entries
    }

    /// The bytes used by this tree's pages.
    public var usedBytes: Int { (branchPages + leafPages + overflowPages) * pageSize }
}

/// Facts about an open environment (`mdb_env_info`).
public struct LMDBEnvironmentInfo: Sendable, Hashable {
    /// The current map size in bytes.
    public var mapSize: Int
    /// The last page number used in the data file.
    public var lastPageNumber: Int
    /// The id of the last committed transaction.
    public var lastTransactionID: Int
    /// The maximum number of reader slots.
    public var maxReaders: Int
    /// The reader slots in use.
    public var readers: Int

    init(_ i: MDB_envinfo) {
        mapSize = i.me_mapsize
        lastPageNumber = i.me_last_pgno
        lastTransactionID = i.me_last_txnid
        maxReaders = Int(i.me_maxreaders)
        readers = Int(i.me_numreaders)
    }
}
