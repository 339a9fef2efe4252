internal import CStreamsLMDB

/// A read-only snapshot of an ``LMDBEnvironment``, aborted when it goes out of scope.
///
/// Obtain one with ``LMDBEnvironment/withReadTransaction(_:)``.
///
/// - Important: Not `Sendable` and not usable across an `await`: the environment is opened with
///   `MDB_NOTLS`, but a transaction still belongs to one thread at a time.
public struct LMDBReadTransaction: ~Copyable, LMDBReading {
    /// The underlying transaction.
    public let transactionHandle: LMDBTransactionHandle

    @available(*, noasync, message: "LMDB transactions cannot cross an await")
    init(environment: OpaquePointer) throws(LMDBError) {
        var txn: OpaquePointer?
        try check(mdb_txn_begin(environment, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin (read)")
        transactionHandle = LMDBTransactionHandle(pointer: txn!)
    }

    deinit {
        mdb_txn_abort(transactionHandle.pointer)
    }
}
