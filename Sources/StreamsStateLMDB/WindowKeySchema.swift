internal import StreamsState
/// How a (business key, timestamp) pair becomes an LMDB key inside a segment database.
///
/// - Short keys (`count <= threshold`): `[UInt16 BE length][key][timestamp]`. The length prefix
///   makes all entries of one key contiguous and sorted by time, and no key is a prefix of another.
/// - Long keys: `[0xFFFF][UInt64 BE hash][UInt16 BE chain][timestamp]`, and the stored value is
///   `[UInt32 BE key length][key][value]`. Distinct keys with the same hash get distinct chain
///   numbers within a segment; a lookup walks the chains of its hash and compares full keys.
///
/// Timestamps are stored big-endian with the sign bit flipped, so byte order is numeric order.
struct WindowKeySchema {
    static let longKeyMarker: UInt16 = 0xFFFF
    static let timestampSize = 8
    static let longPrefixSize = 2 + 8  // marker + hash
    static let longKeySize = 2 + 8 + 2 + 8  // marker + hash + chain + timestamp
    /// The largest threshold: a short stored key must fit LMDB's 511-byte limit.
    static let maxThreshold = 511 - 2 - 8

    let threshold: Int
    let hash: KeyHash

    @inline(__always)
    func isLong(_ key: UnsafeRawBufferPointer) -> Bool { key.count > threshold }

    @inline(__always)
    static func encodeTimestamp(_ ts: Int64, into p: UnsafeMutableRawPointer) {
        p.storeBytes(of: (UInt64(bitPattern: ts) ^ (1 << 63)).bigEndian, as: UInt64.self)
    }

    @inline(__always)
    static func decodeTimestamp(_ p: UnsafeRawPointer) -> Int64 {
        Int64(bitPattern: UInt64(bigEndian: p.loadUnaligned(as: UInt64.self)) ^ (1 << 63))
    }

    /// Writes the stored key of a short `key` at `ts` into `buffer`; returns its length.
    @inline(__always)
    func encodeShort(_ key: UnsafeRawBufferPointer, _ ts: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let base = buffer.baseAddress!
        base.storeBytes(of: UInt16(key.count).bigEndian, as: UInt16.self)
        if key.count > 0 { (base + 2).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        Self.encodeTimestamp(ts, into: base + 2 + key.count)
        return 2 + key.count + 8
    }

    /// Writes the stored key of a long key with `hash`, `chain` and `ts` into `buffer`.
    @inline(__always)
    static func encodeLong(hash: UInt64, chain: UInt16, _ ts: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Int
    {
        let base = buffer.baseAddress!
        base.storeBytes(of: longKeyMarker.bigEndian, as: UInt16.self)
        (base + 2).storeBytes(of: hash.bigEndian, toByteOffset: 0, as: UInt64.self)
        (base + 10).storeBytes(of: chain.bigEndian, as: UInt16.self)
        encodeTimestamp(ts, into: base + 12)
        return longKeySize
    }

    /// Whether a stored key belongs to the short `key` (same length prefix and bytes).
    @inline(__always)
    static func storedKey(_ stored: UnsafeRawBufferPointer, matchesShort key: UnsafeRawBufferPointer) -> Bool {
        guard stored.count == 2 + key.count + 8 else { return false }
        guard UInt16(bigEndian: stored.loadUnaligned(as: UInt16.self)) == UInt16(key.count) else { return false }
        return key.count == 0 || memcmpEqual(stored.baseAddress! + 2, key.baseAddress!, key.count)
    }

    /// Whether a stored key is a long-key entry with `hash`.
    @inline(__always)
    static func storedKey(_ stored: UnsafeRawBufferPointer, isLongWithHash hash: UInt64) -> Bool {
        stored.count == longKeySize
            && UInt16(bigEndian: stored.loadUnaligned(as: UInt16.self)) == longKeyMarker
            && UInt64(bigEndian: stored.loadUnaligned(fromByteOffset: 2, as: UInt64.self)) == hash
    }

    @inline(__always)
    static func chain(ofLong stored: UnsafeRawBufferPointer) -> UInt16 {
        UInt16(bigEndian: stored.loadUnaligned(fromByteOffset: 10, as: UInt16.self))
    }

    @inline(__always)
    static func timestamp(of stored: UnsafeRawBufferPointer) -> Int64 {
        decodeTimestamp(stored.baseAddress! + (stored.count - 8))
    }

    /// Splits a long-key entry's stored value into the full key and the user's value.
    @inline(__always)
    static func splitLongValue(_ stored: UnsafeRawBufferPointer) -> (
        key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer
    )? {
        guard stored.count >= 4 else { return nil }
        let length = Int(UInt32(bigEndian: stored.loadUnaligned(as: UInt32.self)))
        guard stored.count >= 4 + length else { return nil }
        return (
            UnsafeRawBufferPointer(rebasing: stored[4..<(4 + length)]),
            UnsafeRawBufferPointer(rebasing: stored[(4 + length)...])
        )
    }

    /// The business key of a stored entry: from the stored key for a short key, from the value for
    /// a long one; `nil` for a malformed entry.
    static func userKey(stored: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard stored.count >= 2 + 8 else { return nil }
        let length = UInt16(bigEndian: stored.loadUnaligned(as: UInt16.self))
        if length == longKeyMarker {
            guard stored.count == longKeySize else { return nil }
            return splitLongValue(value)?.key
        }
        guard stored.count == 2 + Int(length) + 8 else { return nil }
        return UnsafeRawBufferPointer(rebasing: stored[2..<(2 + Int(length))])
    }

    /// Decodes a stored entry into (business key, timestamp, value); `nil` if it is malformed.
    static func decode(key stored: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> WindowEntry? {
        guard stored.count >= 2 + 8 else { return nil }
        let ts = timestamp(of: stored)
        let length = UInt16(bigEndian: stored.loadUnaligned(as: UInt16.self))
        if length == longKeyMarker {
            guard stored.count == longKeySize, let (k, v) = splitLongValue(value) else { return nil }
            return WindowEntry(key: Array(k), timestampMs: ts, value: Array(v))
        }
        guard stored.count == 2 + Int(length) + 8 else { return nil }
        return WindowEntry(
            key: Array(UnsafeRawBufferPointer(rebasing: stored[2..<(2 + Int(length))])),
            timestampMs: ts,
            value: Array(value)
        )
    }
}
