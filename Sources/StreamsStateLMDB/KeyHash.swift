internal import StreamsState
/// The hash that places keys too long for an LMDB key (see
/// ``LMDBWindowStore/Options/longKeyThreshold``) in the store.
///
/// Collisions are always resolved by comparing full keys, so the hash only affects speed; the
/// ``constant(_:)`` case exists to force collisions in tests.
public enum KeyHash: Sendable, Hashable {
    /// A 64-bit FNV-1a hash with a final avalanche mix; stable across processes and versions.
    case fnv1a
    /// Every key hashes to the same value: every long key collides. For tests only.
    case constant(UInt64)

    /// Hashes `bytes`.
    @inline(__always)
    func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        switch self {
        case .constant(let value):
            return value
        case .fnv1a:
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in bytes {
                h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
            // splitmix64 finaliser: spreads FNV's weak low bits over the whole word.
            h = (h ^ (h >> 30)) &* 0xbf58_476d_1ce4_e5b9
            h = (h ^ (h >> 27)) &* 0x94d0_49bb_1331_11eb
            return h ^ (h >> 31)
        }
    }
}
