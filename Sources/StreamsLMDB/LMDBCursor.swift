internal import CStreamsLMDB

/// A position in one database, valid inside the closure of ``LMDBReading/withCursor(on:_:)``.
///
/// Movement methods return `false` when there is no such entry (end of database, nothing at or
/// after the key). ``key`` and ``value`` describe the current entry.
///
/// - Important: Not `Sendable`, and tied to its transaction's thread and lifetime.
public struct LMDBCursor: ~Copyable {
    let pointer: OpaquePointer
    private var currentKey = MDB_val()
    private var currentValue = MDB_val()

    init(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }

    @inline(__always)
    private mutating func move(_ op: MDB_cursor_op) throws(LMDBError) -> Bool {
        let rc = mdb_cursor_get(pointer, &currentKey, &currentValue, op)
        if rc == MDB_NOTFOUND {
            currentKey = MDB_val()
            currentValue = MDB_val()
            return false
        }
        try check(rc, "mdb_cursor_get")
        return true
    }

    /// Moves to the first entry whose key is greater than or equal to `key` (`MDB_SET_RANGE`).
    @inline(__always)
    public mutating func seek(atLeast key: UnsafeRawBufferPointer) throws(LMDBError) -> Bool {
        currentKey = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        return try move(MDB_SET_RANGE)
    }

    /// Moves to the entry whose key equals `key` (`MDB_SET_KEY`).
    public mutating func seek(exactly key: UnsafeRawBufferPointer) throws(LMDBError) -> Bool {
        currentKey = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        return try move(MDB_SET_KEY)
    }

    /// Moves to the first entry.
    public mutating func first() throws(LMDBError) -> Bool { try move(MDB_FIRST) }
    /// Moves to the last entry.
    public mutating func last() throws(LMDBError) -> Bool { try move(MDB_LAST) }
    /// Moves to the next entry.
    @inline(__always)
    public mutating func next() throws(LMDBError) -> Bool { try move(MDB_NEXT) }
    /// Moves to the previous entry.
    public mutating func previous() throws(LMDBError) -> Bool { try move(MDB_PREV) }

    /// The current entry's key (empty when the cursor is not on an entry).
    public var key: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: currentKey.mv_data, count: currentKey.mv_size)
    }

    /// The current entry's value (empty when the cursor is not on an entry).
    public var value: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: currentValue.mv_data, count: currentValue.mv_size)
    }

    /// Stores `value` under `key` through this cursor (write transactions only), leaving the cursor
    /// on the new entry. Cheaper than ``LMDBWriteTransaction/put(key:value:in:flags:)`` right
    /// after a nearby lookup: LMDB skips the descent when the key falls on the cursor's leaf page.
    @inline(__always)
    public mutating func put(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(LMDBError) {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try check(mdb_cursor_put(pointer, &k, &v, 0), "mdb_cursor_put")
    }

    /// Deletes the current entry (write transactions only); a following ``next()`` moves to the
    /// entry after the deleted one.
    public mutating func deleteCurrent() throws(LMDBError) {
        try check(mdb_cursor_del(pointer, 0), "mdb_cursor_del")
    }

    /// Re-reads the entry the cursor is positioned on (`MDB_GET_CURRENT`), for example after
    /// ``deleteCurrent()``; returns `false` if there is none.
    public mutating func refresh() throws(LMDBError) -> Bool { try move(MDB_GET_CURRENT) }
}
