// Small helpers both window stores use on their hot paths; `package`, not API.

/// Whether `count` bytes at `a` and `b` are equal.
@inlinable @inline(__always)
package func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    // The standard library's elementsEqual on raw buffers compiles to a byte loop; this is
    // word-at-a-time for the common 16-64 byte keys.
    var i = 0
    while i + 8 <= count {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < count {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}

/// Saturating arithmetic on timestamps, so `Int64.min` ("no stream time yet") and extreme event
/// times never overflow.
extension Int64 {
    /// `self + other`, clamped to `Int64`.
    @inlinable @inline(__always)
    package func saturatingAdd(_ other: Int64) -> Int64 {
        let (r, o) = addingReportingOverflow(other)
        return o ? (other > 0 ? .max : .min) : r
    }

    /// `self - other`, clamped to `Int64`.
    @inlinable @inline(__always)
    package func saturatingSubtract(_ other: Int64) -> Int64 {
        let (r, o) = subtractingReportingOverflow(other)
        return o ? (other > 0 ? .min : .max) : r
    }

    /// Floor division (rounds toward negative infinity).
    @inlinable @inline(__always)
    package func floorDivided(by d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}
