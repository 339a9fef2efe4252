internal import StreamsState
internal import StreamsLMDB

// Long keys: keys longer than the threshold are stored by hash; keys sharing a hash get
// numbered collision chains, and the full key kept in the value is compared on each lookup.
extension LMDBWindowStore {
    /// The collision chain of long `key` in `database`, or `nil` if the key has no entry there.
    /// `next` is the first free chain number.
    func findChain(
        _ key: UnsafeRawBufferPointer,
        in database: LMDBDatabase
    ) throws(LMDBError) -> (hash: UInt64, chain: UInt16)? {
        try chainLookup(key, in: database).found
    }

    func chainLookup(
        _ key: UnsafeRawBufferPointer,
        in database: LMDBDatabase
    ) throws(LMDBError) -> (hash: UInt64, found: (hash: UInt64, chain: UInt16)?, next: Int) {
        let hash = schema.hash.hash(key)
        var chain = 0
        while chain <= Int(UInt16.max) {
            let length = WindowKeySchema.encodeLong(hash: hash, chain: UInt16(chain), .min, into: keyBuffer)
            let (match, actual): (Bool, Int?) = try transaction!.withCachedCursor(on: database) {
                (cursor) throws(LMDBError) -> (Bool, Int?) in
                guard try cursor.seek(atLeast: UnsafeRawBufferPointer(rebasing: keyBuffer[..<length])),
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
