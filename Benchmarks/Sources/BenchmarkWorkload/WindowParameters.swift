/// The window semantics every suite uses, for the store and for the baselines alike.
///
/// Retention is long enough that all 10M operations stay live (10M ops at 1 ms = 2.8 h), so "1M vs
/// 10M" compares stores of 1M and 10M keys. Segments are one hour: the 1M workload fills part of one
/// segment, the 10M workload three. The dedup window (the conflict range of put-if-absent) is ten
/// minutes, so about one put-if-absent in six near a segment start searches two segments.
public struct WindowParameters: Sendable {
    /// An entry stays live for this long after its timestamp.
    public var retentionMs: Int64 = 24 * 3_600_000
    /// The span of one segment (one LMDB named database).
    public var segmentIntervalMs: Int64 = 3_600_000
    /// Put-if-absent's conflict range is `timestampMs - dedupWindowMs ... timestampMs`.
    public var dedupWindowMs: Int64 = 10 * 60_000
    /// LMDB map size: virtual, pages are only used as written.
    public var mapSize: Int = 16 << 30

    /// The standard parameters.
    public static let standard = WindowParameters()

    /// The conflict range of an operation at `timestampMs`.
    @inline(__always)
    public func conflictRange(at timestampMs: Int64) -> ClosedRange<Int64> {
        (timestampMs - dedupWindowMs)...timestampMs
    }
}
