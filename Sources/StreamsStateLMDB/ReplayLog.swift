internal import StreamsState
/// The mutations of the open transaction, packed in one growing raw buffer, so that a batch can
/// be redone after the map was grown.
///
/// It is on every write's path, so an append is one capacity check and a few stores into memory
/// this value owns: no copy-on-write check, no reference count, no allocation once grown.
struct ReplayLog: ~Copyable {
    enum Operation {
        case put(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer)
        case delete(key: UnsafeRawBufferPointer, timestampMs: Int64)
        case advance(timestampMs: Int64)
    }

    private var buffer: RawByteBuffer
    /// The bytes logged.
    var count: Int { buffer.count }
    private static let put: UInt8 = 1
    private static let delete: UInt8 = 2
    private static let advance: UInt8 = 3

    init(capacity: Int = 64 << 10) {
        buffer = RawByteBuffer(capacity: capacity)
    }

    mutating func removeAll() { buffer.truncate(to: 0) }

    /// Makes room for `extra` more bytes and returns where they start.
    @inline(__always)
    private mutating func reserve(_ extra: Int) -> UnsafeMutableRawPointer {
        buffer.append(uninitializedCount: extra)
    }

    @inline(__always)
    private static func store<T: FixedWidthInteger>(_ value: T, at p: inout UnsafeMutableRawPointer) {
        p.storeBytes(of: value.littleEndian, as: T.self)
        p += MemoryLayout<T>.size
    }

    @inline(__always)
    private static func store(_ bytes: UnsafeRawBufferPointer, at p: inout UnsafeMutableRawPointer) {
        store(UInt32(bytes.count), at: &p)
        if let source = bytes.baseAddress, bytes.count > 0 { p.copyMemory(from: source, byteCount: bytes.count) }
        p += bytes.count
    }

    @inline(__always)
    mutating func appendPut(_ key: UnsafeRawBufferPointer, _ ts: Int64, _ value: UnsafeRawBufferPointer) {
        var p = reserve(1 + 4 + key.count + 8 + 4 + value.count)
        Self.store(Self.put, at: &p)
        Self.store(key, at: &p)
        Self.store(ts, at: &p)
        Self.store(value, at: &p)
    }

    mutating func appendDelete(_ key: UnsafeRawBufferPointer, _ ts: Int64) {
        var p = reserve(1 + 4 + key.count + 8)
        Self.store(Self.delete, at: &p)
        Self.store(key, at: &p)
        Self.store(ts, at: &p)
    }

    mutating func appendAdvance(_ ts: Int64) {
        var p = reserve(1 + 8)
        Self.store(Self.advance, at: &p)
        Self.store(ts, at: &p)
    }

    /// Calls `body` with each operation, in order; its buffers are valid during the call only.
    func forEach(_ body: (Operation) throws(StateStoreError) -> Void) throws(StateStoreError) {
        let raw = buffer.bytes
        var offset = 0
        func int<T: FixedWidthInteger>(_: T.Type) -> T {
            defer { offset += MemoryLayout<T>.size }
            return T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        func bytes() -> UnsafeRawBufferPointer {
            let length = Int(int(UInt32.self))
            defer { offset += length }
            return UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + length)])
        }
        while offset < raw.count {
            let tag = raw[offset]
            offset += 1
            switch tag {
            case Self.put:
                let key = bytes()
                let ts = int(Int64.self)
                try body(.put(key: key, timestampMs: ts, value: bytes()))
            case Self.delete:
                let key = bytes()
                try body(.delete(key: key, timestampMs: int(Int64.self)))
            default:
                try body(.advance(timestampMs: int(Int64.self)))
            }
        }
    }
}
