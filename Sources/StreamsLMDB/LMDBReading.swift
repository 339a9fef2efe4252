internal import CStreamsLMDB

/// The read operations that read and write transactions share: lookups, cursors and statistics.
///
/// - Important: Buffers handed to closures (and a cursor's ``LMDBCursor/key`` and
///   ``LMDBCursor/value``) point into LMDB's memory map; they are valid only until the transaction
///   ends or writes again. Copy what you keep.
public protocol LMDBReading: ~Copyable {
    /// The underlying transaction.
    var transactionHandle: LMDBTransactionHandle { get }
}

extension LMDBReading where Self: ~Copyable {
    /// Looks up `key` and calls `body` with its value, or returns `nil` if the key is absent.
    ///
    /// - Throws: ``LMDBError`` for failures other than "not found".
    @inline(__always)
    public func withValue<R>(
        forKey key: UnsafeRawBufferPointer,
        in database: LMDBDatabase,
        _ body: (UnsafeRawBufferPointer) throws(LMDBError) -> R
    ) throws(LMDBError) -> R? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = mdb_get(transactionHandle.pointer, database.dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_get")
        return try body(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    /// The value stored for `key`, copied, or `nil` if absent.
    public func value(forKey key: [UInt8], in database: LMDBDatabase) throws(LMDBError) -> [UInt8]? {
        let result: Result<[UInt8]?, LMDBError> = key.withUnsafeBytes { k in
            do throws(LMDBError) {
                return .success(try withValue(forKey: k, in: database) { (v) throws(LMDBError) in Array(v) })
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Opens a cursor on `database`, calls `body` with it and closes it afterwards.
    @inline(__always)
    public func withCursor<R>(
        on database: LMDBDatabase,
        _ body: (inout LMDBCursor) throws(LMDBError) -> R
    ) throws(LMDBError) -> R {
        var cursor: OpaquePointer?
        try check(mdb_cursor_open(transactionHandle.pointer, database.dbi, &cursor), "mdb_cursor_open")
        var c = LMDBCursor(cursor!)
        defer { mdb_cursor_close(c.pointer) }
        return try body(&c)
    }

    /// Calls `body` with each entry whose key is at least `start` (or every entry, when `start` is
    /// `nil`), in key order, until `body` returns `false`.
    public func forEach(
        in database: LMDBDatabase,
        from start: UnsafeRawBufferPointer? = nil,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(LMDBError) -> Bool
    ) throws(LMDBError) {
        try withCursor(on: database) { (cursor) throws(LMDBError) in
            var more: Bool
            if let start { more = try cursor.seek(atLeast: start) } else { more = try cursor.first() }
            while more {
                guard try body(cursor.key, cursor.value) else { return }
                more = try cursor.next()
            }
        }
    }

    /// Opens an existing named database, or returns `nil` if there is none by that name.
    public func existingDatabase(named name: String) throws(LMDBError) -> LMDBDatabase? {
        var dbi: MDB_dbi = 0
        let rc = mdb_dbi_open(transactionHandle.pointer, name, 0, &dbi)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_dbi_open \(name)")
        return LMDBDatabase(dbi: dbi)
    }

    /// The main (unnamed) database, which also lists the names of the named databases.
    public func mainDatabase() throws(LMDBError) -> LMDBDatabase {
        var dbi: MDB_dbi = 0
        try check(mdb_dbi_open(transactionHandle.pointer, nil, 0, &dbi), "mdb_dbi_open main")
        return LMDBDatabase(dbi: dbi)
    }

    /// B-tree statistics of `database`.
    public func statistics(of database: LMDBDatabase) throws(LMDBError) -> LMDBStatistics {
        var s = MDB_stat()
        try check(mdb_stat(transactionHandle.pointer, database.dbi, &s), "mdb_stat")
        return LMDBStatistics(s)
    }

    /// The number of entries in `database`.
    public func count(of database: LMDBDatabase) throws(LMDBError) -> Int {
        try statistics(of: database).entries
    }
}
