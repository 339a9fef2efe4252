/// A growing run of raw bytes with one owner: an append is one capacity check and a copy, with no
/// copy-on-write check, no reference count and, once grown, no allocation.
///
/// The storage of ``ReplayLog`` and the key and value arena of ``InMemorySegment``.
///
/// - Important: Pointers into the buffer are valid until the next append, which may move it.
package struct RawByteBuffer: ~Copyable {
    /// Where the bytes start.
    package private(set) var base: UnsafeMutableRawPointer
    private var capacity: Int
    /// The number of bytes in use.
    package private(set) var count = 0

    /// Creates an empty buffer with room for `capacity` bytes.
    package init(capacity: Int) {
        self.capacity = max(1, capacity)
        base = .allocate(byteCount: self.capacity, alignment: 8)
    }

    deinit { base.deallocate() }

    /// The bytes in use.
    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Grows the buffer by `extra` uninitialised bytes, doubling its storage when full, and returns
    /// where they start.
    @inline(__always)
    package mutating func append(uninitializedCount extra: Int) -> UnsafeMutableRawPointer {
        if count + extra > capacity {
            let grown = max(capacity * 2, count + extra)
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 8)
            bigger.copyMemory(from: base, byteCount: count)
            base.deallocate()
            base = bigger
            capacity = grown
        }
        let start = base + count
        count += extra
        return start
    }

    /// Forgets every byte from offset `newCount` on (keeping the storage).
    package mutating func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count)
        count = newCount
    }
}
