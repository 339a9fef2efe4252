internal import StreamsState
internal import StreamsLMDB

// Long keys: keys longer than the threshold are stored by hash; keys sharing a hash get
// numbered collision chains, and the full key kept in the value is compared on each lookup.
extension LMDBWindowStore {
    /// Writes long `key`'s entry in `database`: in the key's chain if it has one there, else in
    /// the first free chain of its hash; the value holds the key's length, the key and `value`.
    func putLong(
        _ txn: borrowing LMDBWriteTransaction,
        _ key: UnsafeRawBufferPointer,
        _ ts: Int64,
        _ value: UnsafeRawBufferPointer,
        in database: LMDBDatabase
    ) throws(LMDBError) {
        let lookup = try chainLookup(txn, key, in: database)
        let chain: UInt16
        if let found = lookup.found {
            chain = found.chain
        } else if lookup.next <= Int(UInt16.max) {
            chain = UInt16(lookup.next)
        } else {
            throw LMDBError(code: .other, operation: "more than 65,536 long keys share one hash in a segment")
        }
        let length = WindowKeySchema.encodeLong(hash: lookup.hash, chain: chain, ts, into: keyBuffer.bytes)
        valueBuffer.removeAll(keepingCapacity: true)
        withUnsafeBytes(of: UInt32(key.count).bigEndian) { valueBuffer.append(contentsOf: $0) }
        valueBuffer.append(contentsOf: key)
        valueBuffer.append(contentsOf: value)
        try withBytes(valueBuffer) { (v) throws(LMDBError) in
            _ = try txn.put(key: keyBuffer.prefix(length), value: v, in: database)
        }
    }

    /// The collision chain of long `key` in `database`, or `nil` if the key has no entry there.
    /// `next` is the first free chain number.
    func findChain(
        _ txn: borrowing LMDBWriteTransaction,
        _ key: UnsafeRawBufferPointer,
        in database: LMDBDatabase
    ) throws(LMDBError) -> (hash: UInt64, chain: UInt16)? {
        try chainLookup(txn, key, in: database).found
    }

    func chainLookup(
        _ txn: borrowing LMDBWriteTransaction,
        _ key: UnsafeRawBufferPointer,
        in database: LMDBDatabase
    ) throws(LMDBError) -> (hash: UInt64, found: (hash: UInt64, chain: UInt16)?, next: Int) {
        let hash = schema.hash.hash(key)
        var chain = 0
        while chain <= Int(UInt16.max) {
            let length = WindowKeySchema.encodeLong(hash: hash, chain: UInt16(chain), .min, into: keyBuffer.bytes)
            let (match, actual): (Bool, Int?) = try txn.withCachedCursor(on: database) {
                (cursor) throws(LMDBError) -> (Bool, Int?) in
                guard try cursor.seek(atLeast: keyBuffer.prefix(length)),
                    WindowKeySchema.storedKey(cursor.key, isLongWithHash: hash)
                else { return (false, nil) }
                let actual = Int(WindowKeySchema.chain(ofLong: cursor.key))
                guard let (stored, _) = WindowKeySchema.splitLongValue(cursor.value) else { return (false, actual) }
                return (
                    stored.count == key.count
                        && (key.count == 0 || memcmpEqual(stored.baseAddress!, key.baseAddress!, key.count)), actual
                )
            }
            guard let actual else { return (hash, nil, chain) }
            if match { return (hash, (hash, UInt16(actual)), actual + 1) }
            chain = actual + 1
        }
        return (hash, nil, chain)
    }
}
