/// Scratch space for the stored key of one operation (the longest: a short key of the maximum
/// threshold, with its length prefix and timestamp), owned by its store and freed with it.
///
/// Not copyable, so that exactly one owner frees the memory, in `deinit`, whatever path the
/// store's initializer leaves by.
struct KeyBuffer: ~Copyable {
    /// The whole buffer, for the key schema to encode into.
    let bytes: UnsafeMutableRawBufferPointer

    /// Allocates `byteCount` bytes.
    init(byteCount: Int) {
        bytes = .allocate(byteCount: byteCount, alignment: 8)
    }

    deinit { bytes.deallocate() }

    /// The first `length` bytes: the key just encoded.
    @inline(__always)
    func prefix(_ length: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[..<length])
    }
}
