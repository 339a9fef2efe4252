/// The mutations of the open transaction, packed in one growing byte buffer (no allocation per
/// operation), so that a batch can be redone after the map was grown.
struct ReplayLog {
    enum Operation {
        case put(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer)
        case delete(key: UnsafeRawBufferPointer, timestampMs: Int64)
        case advance(timestampMs: Int64)
    }

    private var bytes: [UInt8] = []
    /// The used prefix of `bytes`; the array only grows (amortised doubling), so appends are a
    /// bounds check and a memcpy.
    private var count = 0
    private static let put: UInt8 = 1
    private static let delete: UInt8 = 2
    private static let advance: UInt8 = 3

    mutating func removeAll() { count = 0 }

    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if count + extra > bytes.count {
            bytes.append(contentsOf: repeatElement(0, count: max(bytes.count, count + extra, 4096)))
        }
    }

    @inline(__always)
    private mutating func write(_ source: UnsafeRawBufferPointer) {
        guard source.count > 0 else { return }
        let offset = count
        bytes.withUnsafeMutableBytes { ($0.baseAddress! + offset).copyMemory(from: source.baseAddress!, byteCount: source.count) }
        count += source.count
    }

    @inline(__always)
    private mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { write($0) }
    }

    @inline(__always)
    mutating func appendPut(_ key: UnsafeRawBufferPointer, _ ts: Int64, _ value: UnsafeRawBufferPointer) {
        reserve(1 + 4 + key.count + 8 + 4 + value.count)
        write(Self.put)
        write(UInt32(key.count))
        write(key)
        write(ts)
        write(UInt32(value.count))
        write(value)
    }

    mutating func appendDelete(_ key: UnsafeRawBufferPointer, _ ts: Int64) {
        reserve(1 + 4 + key.count + 8)
        write(Self.delete)
        write(UInt32(key.count))
        write(key)
        write(ts)
    }

    mutating func appendAdvance(_ ts: Int64) {
        reserve(1 + 8)
        write(Self.advance)
        write(ts)
    }

    /// Calls `body` with each operation, in order; its buffers are valid during the call only.
    func forEach(_ body: (Operation) throws(StateStoreError) -> Void) throws(StateStoreError) {
        let used = count
        let result: Result<Void, StateStoreError> = bytes.withUnsafeBytes { all in
            let raw = UnsafeRawBufferPointer(rebasing: all[..<used])
            var offset = 0
            func int<T: FixedWidthInteger>(_: T.Type) -> T {
                defer { offset += MemoryLayout<T>.size }
                return T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self))
            }
            func slice(_ count: Int) -> UnsafeRawBufferPointer {
                defer { offset += count }
                return UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + count)])
            }
            do throws(StateStoreError) {
                while offset < raw.count {
                    let tag = raw[offset]
                    offset += 1
                    switch tag {
                    case Self.put:
                        let key = slice(Int(int(UInt32.self)))
                        let ts = int(Int64.self)
                        let value = slice(Int(int(UInt32.self)))
                        try body(.put(key: key, timestampMs: ts, value: value))
                    case Self.delete:
                        let key = slice(Int(int(UInt32.self)))
                        try body(.delete(key: key, timestampMs: int(Int64.self)))
                    default:
                        try body(.advance(timestampMs: int(Int64.self)))
                    }
                }
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }
}
