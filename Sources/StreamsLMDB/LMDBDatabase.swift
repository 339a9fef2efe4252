/// A handle to a named (or the main, unnamed) database inside an ``LMDBEnvironment``.
///
/// Handles are cheap values; they stay valid until the database is dropped with
/// ``LMDBWriteTransaction/drop(_:)`` or the environment is closed. Keys sort bytewise.
public struct LMDBDatabase: Sendable, Hashable {
    /// The LMDB database index (`MDB_dbi`).
    let dbi: UInt32
    /// The database's name, or `nil` for the main database.
    public let name: String?

    init(dbi: UInt32, name: String?) {
        self.dbi = dbi
        self.name = name
    }
}

/// An opaque LMDB transaction handle, shared by the read and write transaction types.
public struct LMDBTransactionHandle {
    let pointer: OpaquePointer
}
