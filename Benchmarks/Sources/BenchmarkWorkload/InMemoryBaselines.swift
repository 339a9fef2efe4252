/// A 16-byte business key as a value, for the in-memory `Set`/`Dictionary` baselines.
public struct Key16: Hashable, Sendable {
    /// Bytes 0..<8, as stored.
    public var first: UInt64
    /// Bytes 8..<16, as stored.
    public var second: UInt64
}

extension Workload {
    /// Operation `i`'s key as a ``Key16``, read straight from the key bytes.
    @inline(__always)
    public func key16(_ i: Int) -> Key16 {
        keys.withUnsafeBytes { k in
            Key16(
                first: k.loadUnaligned(fromByteOffset: i * Self.keyLength, as: UInt64.self),
                second: k.loadUnaligned(fromByteOffset: i * Self.keyLength + 8, as: UInt64.self)
            )
        }
    }

    /// Inserts every key into a new `Set`; returns how many were new. The floor for "have I seen this
    /// key" with no window, no durability and no values.
    public func setInsertAll() -> Int {
        var seen = Set<Key16>()
        var inserted = 0
        for i in 0..<count where seen.insert(key16(i)).inserted { inserted += 1 }
        return inserted
    }

    /// Put-if-absent with the dedup window into a new `[Key16: Int64]` (key → latest timestamp);
    /// returns how many were inserted. What the store does, in memory, without segments or expiry.
    public func dictionaryPutIfAbsentAll(window: WindowParameters = .standard) -> Int {
        var latest: [Key16: Int64] = [:]
        var inserted = 0
        timestampsMs.withUnsafeBufferPointer { timestamps in
            for i in 0..<count {
                let ts = timestamps[i]
                let key = key16(i)
                if let seen = latest[key], seen >= ts - window.dedupWindowMs { continue }
                latest[key] = ts
                inserted += 1
            }
        }
        return inserted
    }
}
