internal import CStreamsLMDB

/// The one write transaction of an ``LMDBEnvironment``: reads see its own writes; nothing is
/// visible to others until ``commit()``; it is aborted if dropped without commit.
///
/// Obtain one with ``LMDBEnvironment/withWriteTransaction(_:)`` (closure form, aborts on throw,
/// retries after growing a full map) or ``LMDBEnvironment/beginWriteTransaction()`` (to keep it
/// open across many calls, as the window store does between commits).
///
/// - Important: Not `Sendable` and not usable across an `await`: an LMDB write transaction belongs
///   to the thread that began it.
public struct LMDBWriteTransaction: ~Copyable, LMDBReading {
    /// The underlying transaction.
    public let transactionHandle: LMDBTransactionHandle
    /// Cursors kept open for the transaction's lifetime by ``withCachedCursor(on:_:)``: a few
    /// slots of (dbi, cursor), dbi 0 (LMDB's free-page database, never a user's) meaning empty.
    /// LMDB frees a write transaction's cursors itself when it commits or aborts, so they are only
    /// closed here when evicted or before a ``drop(_:)``. A raw buffer keeps the type trivially
    /// destructible, which `discard self` requires.
    private let cursorSlots: UnsafeMutableBufferPointer<(dbi: UInt32, cursor: OpaquePointer?)>
    private static let cursorSlotCount = 8

    @available(*, noasync, message: "LMDB transactions cannot cross an await")
    init(environment: OpaquePointer) throws(LMDBError) {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(environment, nil, 0, &txn), "mdb_txn_begin (write)")
        transactionHandle = LMDBTransactionHandle(pointer: txn!)
        cursorSlots = .allocate(capacity: Self.cursorSlotCount)
        cursorSlots.initialize(repeating: (0, nil))
    }

    deinit {
        mdb_txn_abort(transactionHandle.pointer)
        cursorSlots.deallocate()
    }

    /// Makes every write of this transaction durable (as far as the environment's sync flags say)
    /// and visible. On failure LMDB has already freed the transaction: nothing was committed.
    public consuming func commit() throws(LMDBError) {
        let pointer = transactionHandle.pointer
        // The environment outlives the transaction: its path names the directory in the error.
        let environment = mdb_txn_env(pointer)
        cursorSlots.deallocate()
        discard self
        // mdb_txn_commit frees the transaction whether it succeeds or fails.
        let rc = mdb_txn_commit(pointer)
        if rc != 0 {
            var cPath: UnsafePointer<CChar>?
            let path = mdb_env_get_path(environment, &cPath) == 0 && cPath != nil ? String(cString: cPath!) : "?"
            throw LMDBError(writing: rc, operation: "mdb_txn_commit \(path)", directory: path)
        }
    }

    /// Forgets the transaction without ending it, for an owner that finds itself on another
    /// thread than the one that began it: ending it there would unlock LMDB's writer mutex from a
    /// thread that does not hold it. The transaction's memory is freed with the environment.
    public consuming func abandon() {
        cursorSlots.deallocate()
        discard self
    }

    /// Discards every write of this transaction.
    public consuming func abort() {
        let pointer = transactionHandle.pointer
        cursorSlots.deallocate()
        discard self
        mdb_txn_abort(pointer)
    }

    /// The cursor on `database` that stays open until the transaction ends, opened on first use,
    /// so that hot loops neither allocate a cursor per lookup (`mdb_cursor_open` mallocs) nor go
    /// through a closure.
    ///
    /// - Important: Every call for the same database returns the same LMDB cursor: moving one
    ///   moves all. It is valid until the transaction ends or the database is dropped; a ninth
    ///   database evicts (closes) the last slot's cursor, so do not hold one across calls for
    ///   other databases.
    @inline(__always)
    public func cachedCursor(on database: LMDBDatabase) throws(LMDBError) -> LMDBCursor {
        var free = -1
        for i in 0..<Self.cursorSlotCount {
            if cursorSlots[i].dbi == database.dbi { return LMDBCursor(cursorSlots[i].cursor!) }
            if free < 0 && cursorSlots[i].dbi == 0 { free = i }
        }
        var pointer: OpaquePointer?
        try check(mdb_cursor_open(transactionHandle.pointer, database.dbi, &pointer), "mdb_cursor_open")
        if free < 0 {
            // All slots taken: evict the last one.
            free = Self.cursorSlotCount - 1
            mdb_cursor_close(cursorSlots[free].cursor)
        }
        cursorSlots[free] = (database.dbi, pointer)
        return LMDBCursor(pointer!)
    }

    /// Calls `body` with ``cachedCursor(on:)``.
    @inline(__always)
    public func withCachedCursor<R>(
        on database: LMDBDatabase,
        _ body: (inout LMDBCursor) throws(LMDBError) -> R
    ) throws(LMDBError) -> R {
        var cursor = try cachedCursor(on: database)
        return try body(&cursor)
    }

    /// Opens the database `name`, creating it if `create` is true and it does not exist.
    ///
    /// - Returns: The database, or `nil` if it does not exist and `create` is false.
    public func openDatabase(named name: String, create: Bool = true) throws(LMDBError) -> LMDBDatabase? {
        var dbi: MDB_dbi = 0
        let rc = mdb_dbi_open(transactionHandle.pointer, name, create ? UInt32(MDB_CREATE) : 0, &dbi)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "mdb_dbi_open \(name)")
        return LMDBDatabase(dbi: dbi)
    }

    /// Stores `value` under `key`.
    ///
    /// - Returns: `false` if `flags` contains ``LMDBPutFlags/noOverwrite`` and the key exists
    ///   (nothing is written); otherwise `true`.
    /// - Throws: ``LMDBError``; ``LMDBError/Code/mapFull`` leaves the transaction unusable: abort it,
    ///   grow the map and redo the work (``LMDBEnvironment/withWriteTransaction(_:)`` does this).
    @inline(__always)
    @discardableResult
    public func put(
        key: UnsafeRawBufferPointer,
        value: UnsafeRawBufferPointer,
        in database: LMDBDatabase,
        flags: LMDBPutFlags = []
    ) throws(LMDBError) -> Bool {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let rc = mdb_put(transactionHandle.pointer, database.dbi, &k, &v, flags.rawValue)
        if rc == MDB_KEYEXIST && flags.contains(.noOverwrite) { return false }
        try check(rc, "mdb_put")
        return true
    }

    /// Stores `value` under `key` (array convenience).
    @discardableResult
    public func put(
        key: [UInt8],
        value: [UInt8],
        in database: LMDBDatabase,
        flags: LMDBPutFlags = []
    ) throws(LMDBError) -> Bool {
        let result: Result<Bool, LMDBError> = key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                do throws(LMDBError) { return .success(try put(key: k, value: v, in: database, flags: flags)) } catch {
                    return .failure(error)
                }
            }
        }
        return try result.get()
    }

    /// Deletes `key`.
    ///
    /// - Returns: `false` if the key did not exist.
    @discardableResult
    public func delete(_ key: UnsafeRawBufferPointer, in database: LMDBDatabase) throws(LMDBError) -> Bool {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        let rc = mdb_del(transactionHandle.pointer, database.dbi, &k, nil)
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "mdb_del")
        return true
    }

    /// Deletes `key` (array convenience).
    @discardableResult
    public func delete(_ key: [UInt8], in database: LMDBDatabase) throws(LMDBError) -> Bool {
        let result: Result<Bool, LMDBError> = key.withUnsafeBytes { k in
            do throws(LMDBError) { return .success(try delete(k, in: database)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Deletes `database` and frees all its pages at once (`mdb_drop(…, 1)`); the handle becomes
    /// invalid once this transaction commits.
    public func drop(_ database: LMDBDatabase) throws(LMDBError) {
        for i in 0..<Self.cursorSlotCount where cursorSlots[i].dbi == database.dbi {
            mdb_cursor_close(cursorSlots[i].cursor)
            cursorSlots[i] = (0, nil)
        }
        try check(mdb_drop(transactionHandle.pointer, database.dbi, 1), "mdb_drop (database \(database.dbi))")
    }

    /// Removes every entry of `database` but keeps it (`mdb_drop(…, 0)`).
    public func empty(_ database: LMDBDatabase) throws(LMDBError) {
        try check(mdb_drop(transactionHandle.pointer, database.dbi, 0), "mdb_drop(empty) (database \(database.dbi))")
    }
}
