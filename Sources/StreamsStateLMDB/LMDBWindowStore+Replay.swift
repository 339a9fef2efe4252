internal import StreamsState
internal import StreamsLMDB

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

// The open write transaction and the map-full replay: when LMDB reports MDB_MAP_FULL the batch is
// aborted, the map doubled and every logged operation of the batch applied again.
extension LMDBWindowStore {
    /// Runs `body` with the open write transaction, beginning one if there is none (the only
    /// place that unwraps ``transaction``). No map-full handling: see ``write(_:)``.
    @inline(__always)
    func withTransaction<R>(_ body: (borrowing LMDBWriteTransaction) throws(LMDBError) -> R) throws(LMDBError) -> R {
        if transaction == nil {
            precondition(!isClosed, "the store \(name) is closed")
            transaction = try environment.beginWriteTransaction()
            transactionThread = pthread_self()
        }
        return try body(transaction!)
    }

    /// Runs `body` with the open transaction (begun if needed), which it passes on to the helpers
    /// it calls; on "map full" grows the map, replays the batch and runs `body` again.
    ///
    /// `@_transparent`, not `@inline(__always)`: since `body` takes the borrowed (noncopyable)
    /// transaction, the optimizer no longer honoured `@inline(__always)` on the specialized
    /// function and called it, and `body` through a closure, on every insert (seen in the release
    /// binary's `insertIfAbsent`). Transparent inlining keeps the per-record path one function.
    @_transparent
    func write<R>(_ body: (borrowing LMDBWriteTransaction) throws(LMDBError) -> R) throws(StateStoreError) -> R {
        while true {
            do {
                return try withTransaction(body)
            } catch {
                guard error.code == .mapFull else { throw wrap(error) }
                try recoverFromFullMap()
            }
        }
    }

    func recoverFromFullMap() throws(StateStoreError) {
        transaction.take()?.abort()
        // The replay below writes the pending puts too (they are in the log), directly.
        pendingPuts.removeAll()
        do {
            try environment.growMap()
        } catch {
            throw wrap(error)
        }
        try reloadSegments()
        streamTimeMs = committedStreamTimeMs
        // Each replayed operation is logged again as it is applied, so that a second "map full"
        // during the replay (handled recursively through write()) replays what was redone so far.
        var log = ReplayLog(capacity: max(64 << 10, replayLog.count))
        swap(&log, &replayLog)
        try log.forEach { (op) throws(StateStoreError) in
            switch op {
            case .put(let key, let ts, let value):
                try putUnlogged(key, ts, value)
                replayLog.appendPut(key, ts, value)
            case .delete(let key, let ts):
                _ = try deleteUnlogged(key, ts)
                replayLog.appendDelete(key, ts)
            case .advance(let ts):
                try advanceUnlogged(ts)
                replayLog.appendAdvance(ts)
            }
        }
    }

    /// Doubles the map between transactions once half of it is used, so that batches rarely hit
    /// "map full" and have to be replayed. Best effort: a failure here surfaces, if ever, as a
    /// replayed batch.
    func growMapIfHalfFull() {
        let info = environment.info
        let used = (info.lastPageNumber + 1) * environment.statistics.pageSize
        if used > info.mapSize / 2 && info.mapSize < options.maxMapSize {
            try? environment.growMap()
        }
    }
}
