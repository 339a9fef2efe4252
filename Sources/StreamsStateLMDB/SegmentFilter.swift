internal import StreamsState
/// A blocked Bloom filter over the business keys written to one segment in this process, so that
/// a lookup can skip the segments that certainly do not hold its key.
///
/// A deduplicator's lookup searches every segment its window overlaps (two or three with the
/// default segment interval), and most lookups are misses: without the filter each miss costs one
/// B-tree descent per segment. The filter answers "maybe" or "certainly not" from one 64-bit word;
/// with it, a miss costs no descent at all, and insertIfAbsent can defer its put (``PendingPuts``).
///
/// Correctness rests on one rule: the filter holds a superset of the segment's keys, pending puts
/// included. Bits are only ever added (deletes and aborted writes leave theirs, which only costs
/// false positives), every write to a segment with a filter goes through ``add(_:)``, and a filter
/// is only ever built from all of the segment's entries (in the open transaction) and pending
/// puts, the first time insertIfAbsent or a lookup spanning several segments reaches it. When a
/// filter fills up it is rebuilt, larger, from the segment's entries, like a hash table growing.
/// A rollback brings back what the transaction deleted, so every filter is dropped when the store
/// reloads its segments, and rebuilt on demand.
///
/// About 16 bits per key, 4 bits per key in one word: roughly 1% false positives when full.
///
/// Not copyable: it owns its bits and frees them in `deinit` (its segment's slot in
/// ``SegmentTable`` holds it; replacing or removing the slot frees it).
struct SegmentFilter: ~Copyable {
    private var words: UnsafeMutablePointer<UInt64>
    private var wordMask: UInt64
    /// Keys added since the filter was (re)built.
    private(set) var count = 0
    /// Keys the filter takes before it should be rebuilt larger.
    private(set) var capacity: Int

    /// The first filter of a segment: 8 KiB, for 4,096 keys.
    static let initialWordCount = 1 << 10
    private static let bitsPerKey = 16

    /// An empty filter of `wordCount` 64-bit words (a power of two).
    init(wordCount: Int = initialWordCount) {
        precondition(wordCount > 0 && wordCount & (wordCount - 1) == 0, "wordCount must be a power of two")
        words = .allocate(capacity: wordCount)
        words.initialize(repeating: 0, count: wordCount)
        wordMask = UInt64(wordCount - 1)
        capacity = wordCount * 64 / Self.bitsPerKey
    }

    deinit { words.deallocate() }

    /// Whether the filter has taken as many keys as it was sized for.
    var isFull: Bool { count >= capacity }

    /// The word count for a rebuilt filter that holds `keys` keys with room to grow fourfold.
    static func wordCount(forKeys keys: Int) -> Int {
        var words = initialWordCount
        while words * 64 / bitsPerKey < keys * 4 { words <<= 1 }
        return words
    }

    /// Records `hash` (from ``hash(_:)``).
    @inline(__always)
    mutating func add(_ hash: UInt64) {
        let (index, mask) = Self.probe(hash, wordMask)
        words[index] |= mask
        count += 1
    }

    /// `false` if no key with `hash` was ever added; `true` if one may have been.
    @inline(__always)
    func mayContain(_ hash: UInt64) -> Bool {
        let (index, mask) = Self.probe(hash, wordMask)
        return words[index] & mask == mask
    }

    @inline(__always)
    private static func probe(_ hash: UInt64, _ wordMask: UInt64) -> (Int, UInt64) {
        let mask =
            (1 as UInt64) << (hash & 63) | (1 as UInt64) << ((hash >> 6) & 63)
            | (1 as UInt64) << ((hash >> 12) & 63) | (1 as UInt64) << ((hash >> 18) & 63)
        return (Int(truncatingIfNeeded: (hash >> 32) & wordMask), mask)
    }

    /// A 64-bit hash of `key`'s bytes for the filter (not stored anywhere; may change freely).
    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: key.count)
        guard let base = key.baseAddress else { return finalize(h) }
        let count = key.count
        var i = 0
        while i + 8 <= count {
            h = (h ^ base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        if i < count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while i < count {
                tail |= UInt64(base.load(fromByteOffset: i, as: UInt8.self)) << shift
                shift += 8
                i += 1
            }
            h = (h ^ tail) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
        }
        return finalize(h)
    }

    @inline(__always)
    private static func finalize(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
