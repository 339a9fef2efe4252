/// The mutations of the open transaction, packed in one growing byte buffer (no allocation per
/// operation), so that a batch can be redone after the map was grown.
struct ReplayLog {
    enum Operation {
        case put(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer)
        case delete(key: UnsafeRawBufferPointer, timestampMs: Int64)
        case advance(timestampMs: Int64)
    }

    private var bytes: [UInt8] = []
    private static let put: UInt8 = 1
    private static let delete: UInt8 = 2
    private static let advance: UInt8 = 3

    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    @inline(__always)
    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    mutating func appendPut(_ key: UnsafeRawBufferPointer, _ ts: Int64, _ value: UnsafeRawBufferPointer) {
        bytes.append(Self.put)
        append(UInt32(key.count))
        bytes.append(contentsOf: key)
        append(ts)
        append(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func appendDelete(_ key: UnsafeRawBufferPointer, _ ts: Int64) {
        bytes.append(Self.delete)
        append(UInt32(key.count))
        bytes.append(contentsOf: key)
        append(ts)
    }

    mutating func appendAdvance(_ ts: Int64) {
        bytes.append(Self.advance)
        append(ts)
    }

    /// Calls `body` with each operation, in order; its buffers are valid during the call only.
    func forEach(_ body: (Operation) throws(StateStoreError) -> Void) throws(StateStoreError) {
        let result: Result<Void, StateStoreError> = bytes.withUnsafeBytes { raw in
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
