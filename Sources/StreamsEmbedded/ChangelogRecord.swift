import StreamsState

/// The framing of one changelog record:
/// `[u32 payload length][u32 CRC-32C][payload]`, little-endian, where the CRC covers the four
/// length bytes and the payload, and the payload is
/// `[u32 key length][key][i64 timestamp ms][u8 kind: 1 value, 0 tombstone][value: the rest]`.
enum ChangelogRecord {
    /// Frame bytes before the payload.
    static let frameSize = 8
    /// Payload bytes besides the key and the value.
    static let fixedPayloadSize = 4 + 8 + 1
    /// The largest payload accepted (256 MiB): a larger length field is garbage.
    static let maxPayloadSize = 256 << 20

    /// Appends one framed record to `buffer`; amortised zero allocations.
    @inline(__always)
    static func encode(
        key: UnsafeRawBufferPointer,
        timestampMs: Int64,
        value: UnsafeRawBufferPointer?,
        into buffer: inout [UInt8]
    ) {
        let payloadLength = fixedPayloadSize + key.count + (value?.count ?? 0)
        precondition(payloadLength <= maxPayloadSize, "changelog record of \(payloadLength) bytes exceeds 256 MiB")
        // One growth and one pass of stores: this runs once per store mutation.
        let start = buffer.appendZeros(frameSize + payloadLength)
        buffer.withUnsafeMutableBytes { raw in
            let record = raw.baseAddress! + start
            record.storeBytes(of: UInt32(payloadLength).littleEndian, as: UInt32.self)
            var p = record + frameSize
            p.storeBytes(of: UInt32(key.count).littleEndian, as: UInt32.self)
            p += 4
            if let base = key.baseAddress, key.count > 0 { p.copyMemory(from: base, byteCount: key.count) }
            p += key.count
            p.storeBytes(of: UInt64(bitPattern: timestampMs).littleEndian, as: UInt64.self)
            p += 8
            p.storeBytes(of: value == nil ? 0 : 1, as: UInt8.self)
            p += 1
            if let value, let base = value.baseAddress, value.count > 0 {
                p.copyMemory(from: base, byteCount: value.count)
            }
            let length = CRC32C.checksum(UnsafeRawBufferPointer(start: record, count: 4))
            let crc = CRC32C.checksum(
                UnsafeRawBufferPointer(start: record + frameSize, count: payloadLength), continuing: length)
            (record + 4).storeBytes(of: crc.littleEndian, as: UInt32.self)
        }
    }

    /// The outcome of decoding at the start of `raw`.
    enum Decoded {
        /// A valid record of `size` bytes (frame included).
        case entry(ChangelogEntry, size: Int)
        /// `raw` ends inside the record; `needed` bytes would hold it.
        case incomplete(needed: Int)
        /// The bytes are not a valid record.
        case invalid(String)
    }

    /// Decodes the record at the start of `raw`.
    static func decode(_ raw: UnsafeRawBufferPointer) -> Decoded {
        guard raw.count >= frameSize else { return .incomplete(needed: frameSize) }
        let payloadLength = Int(raw.loadLittleEndian(at: 0, as: UInt32.self))
        guard payloadLength >= fixedPayloadSize, payloadLength <= maxPayloadSize else {
            return .invalid("impossible record length \(payloadLength)")
        }
        let size = frameSize + payloadLength
        guard raw.count >= size else { return .incomplete(needed: size) }
        let stored = raw.loadLittleEndian(at: 4, as: UInt32.self)
        let length = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<4]))
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[frameSize..<size]), continuing: length)
        guard crc == stored else { return .invalid("checksum mismatch") }
        let keyLength = Int(raw.loadLittleEndian(at: frameSize, as: UInt32.self))
        guard keyLength <= payloadLength - fixedPayloadSize else {
            return .invalid("key length \(keyLength) exceeds the record")
        }
        let keyStart = frameSize + 4
        let afterKey = keyStart + keyLength
        let timestamp = Int64(bitPattern: raw.loadLittleEndian(at: afterKey, as: UInt64.self))
        let kind = raw[afterKey + 8]
        let valueStart = afterKey + 9
        let key = Array(raw[keyStart..<afterKey])
        switch kind {
        case 1:
            return .entry(
                ChangelogEntry(key: key, timestampMs: timestamp, value: Array(raw[valueStart..<size])), size: size)
        case 0 where valueStart == size:
            return .entry(ChangelogEntry(key: key, timestampMs: timestamp, value: nil), size: size)
        default:
            return .invalid("bad record kind \(kind)")
        }
    }
}
