/// A deterministic stream of put-if-absent operations: 16-byte random business keys, about 10 % of
/// them repeats of a recent key, 8-byte values, timestamps 1 ms apart.
///
/// Keys, timestamps and values sit in flat arrays so that the C baseline and the Swift store read
/// the very same bytes.
public struct Workload: Sendable {
    /// Bytes per business key.
    public static let keyLength = 16
    /// Bytes per value.
    public static let valueLength = 8
    /// The first timestamp: the start of a segment, so a 1M run fits in one segment.
    public static let startMs: Int64 = 1_700_000_000_000 / 3_600_000 * 3_600_000

    /// Number of operations.
    public let count: Int
    /// Operation `i`'s key is `keys[i * 16 ..< (i + 1) * 16]`.
    public let keys: [UInt8]
    /// Operation `i`'s timestamp in ms: `startMs + i`.
    public let timestampsMs: [Int64]
    /// Operation `i`'s value is `values[i * 8 ..< (i + 1) * 8]`: `i` little-endian.
    public let values: [UInt8]
    /// How many operations reuse a recent key (expected: about 10 %).
    public let repeatCount: Int

    /// Generates a workload.
    ///
    /// - Parameters:
    ///   - count: Number of operations.
    ///   - seed: PRNG seed; equal seeds give equal workloads.
    ///   - repeatFraction: Share of operations that reuse a key.
    ///   - recentKeys: A repeat picks uniformly among the last `recentKeys` fresh keys.
    public init(count: Int, seed: UInt64 = 0x5EED, repeatFraction: Double = 0.10, recentKeys: Int = 10_000) {
        var rng = SplitMix64(seed: seed)
        var keys = [UInt8](repeating: 0, count: count * Self.keyLength)
        var values = [UInt8](repeating: 0, count: count * Self.valueLength)
        var timestamps = [Int64](repeating: 0, count: count)
        var recent = [Int](repeating: 0, count: recentKeys)  // ring of op indices with fresh keys
        var recentFilled = 0
        var recentNext = 0
        var repeats = 0
        let repeatThreshold = UInt64(repeatFraction * Double(UInt64.max))
        keys.withUnsafeMutableBytes { k in
            values.withUnsafeMutableBytes { v in
                for i in 0..<count {
                    let offset = i * Self.keyLength
                    if recentFilled > 0, rng.next() < repeatThreshold {
                        let source = recent[Int(rng.next() % UInt64(recentFilled))] * Self.keyLength
                        for j in 0..<Self.keyLength { k[offset + j] = k[source + j] }
                        repeats += 1
                    } else {
                        k.storeBytes(of: rng.next(), toByteOffset: offset, as: UInt64.self)
                        k.storeBytes(of: rng.next(), toByteOffset: offset + 8, as: UInt64.self)
                        recent[recentNext] = i
                        recentNext = (recentNext + 1) % recentKeys
                        recentFilled = min(recentFilled + 1, recentKeys)
                    }
                    v.storeBytes(of: UInt64(i).littleEndian, toByteOffset: i * Self.valueLength, as: UInt64.self)
                    timestamps[i] = Self.startMs + Int64(i)
                }
            }
        }
        self.count = count
        self.keys = keys
        self.values = values
        self.timestampsMs = timestamps
        self.repeatCount = repeats
    }

    /// `count` fresh random keys that (with probability 1 - 2⁻¹⁰⁰) no workload contains.
    public static func missingKeys(count: Int, seed: UInt64 = 0xAB5E_0CE) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        var keys = [UInt8](repeating: 0, count: count * keyLength)
        keys.withUnsafeMutableBytes { k in
            for i in 0..<count * 2 { k.storeBytes(of: rng.next(), toByteOffset: i * 8, as: UInt64.self) }
        }
        return keys
    }

    /// Calls `body` with operation `i`'s key and value bytes.
    ///
    /// - Important: The buffers are only valid during the call.
    @inline(__always)
    public func withOperation<R>(
        _ i: Int,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R {
        try keys.withUnsafeBytes { k in
            try values.withUnsafeBytes { v in
                try body(
                    UnsafeRawBufferPointer(rebasing: k[i * Self.keyLength..<(i + 1) * Self.keyLength]),
                    UnsafeRawBufferPointer(rebasing: v[i * Self.valueLength..<(i + 1) * Self.valueLength])
                )
            }
        }
    }
}
