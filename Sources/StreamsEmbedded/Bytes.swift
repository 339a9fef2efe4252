/// Little-endian encoding helpers for the binary formats of this module.
extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        let start = appendZeros(MemoryLayout<T>.size)
        storeLittleEndian(value, at: start)
    }

    /// Grows the array by `n` zero bytes (geometrically, so appends stay amortised O(1)) and
    /// returns where they start, for the caller to fill with one `withUnsafeMutableBytes`.
    ///
    /// `append(contentsOf:)` from a raw or typed buffer pointer compiles to a byte-at-a-time loop
    /// here (about 2 instructions a byte, a visible share of a record in callgrind); zero-filling
    /// is vectorised and the copy is one memcpy.
    @inline(__always)
    mutating func appendZeros(_ n: Int) -> Int {
        let start = count
        if capacity < start + n { reserveCapacity(Swift.max(capacity * 2, start + n)) }
        append(contentsOf: repeatElement(0, count: n))
        return start
    }

    /// Appends raw bytes with one memcpy.
    @inline(__always)
    mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        let start = appendZeros(bytes.count)
        withUnsafeMutableBytes { ($0.baseAddress! + start).copyMemory(from: source, byteCount: bytes.count) }
    }

    @inline(__always)
    mutating func storeLittleEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        withUnsafeMutableBytes { $0.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self) }
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func loadLittleEndian<T: FixedWidthInteger>(at offset: Int, as type: T.Type) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

/// Calls `body` with the bytes of `array`, keeping the typed error (`Array.withUnsafeBytes` is untyped).
@inline(__always)
func withBytes<R, E: Error>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    let result: Result<R, E> = array.withUnsafeBytes { raw in
        do throws(E) { return .success(try body(raw)) } catch { return .failure(error) }
    }
    return try result.get()
}
