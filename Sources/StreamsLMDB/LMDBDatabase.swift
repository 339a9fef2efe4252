/// A handle to a named (or the main, unnamed) database inside an ``LMDBEnvironment``.
///
/// Handles are plain integers (no reference count to touch on the hot path); they stay valid until
/// the database is dropped with ``LMDBWriteTransaction/drop(_:)`` or the environment is closed.
/// Keys sort bytewise.
public struct LMDBDatabase: Sendable, Hashable {
    /// The LMDB database index (`MDB_dbi`).
    let dbi: UInt32

    init(dbi: UInt32) {
        self.dbi = dbi
    }
}

/// An opaque LMDB transaction handle, shared by the read and write transaction types.
public struct LMDBTransactionHandle {
    let pointer: OpaquePointer
}
