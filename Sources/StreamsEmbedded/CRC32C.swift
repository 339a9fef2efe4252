internal import CStreamsSystem

/// CRC-32C (Castagnoli, polynomial 0x1EDC6F41 reflected as 0x82F63B78), the checksum of iSCSI,
/// ext4 metadata and Kafka record batches: the CPU's `crc32` instruction where there is one
/// (SSE4.2), slicing-by-8 in software elsewhere.
///
/// Check value: `CRC32C.checksum("123456789")` is `0xE3069283`.
public enum CRC32C {
    /// Whether this CPU has the CRC-32C instruction (checked once).
    static let hardwareAvailable = c_streams_crc32c_hardware_available() != 0

    /// Eight 256-entry tables for slicing-by-8, built once.
    private static let tables: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 8 * 256)
        for i in 0..<256 {
            var crc = UInt32(i)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            table[i] = crc
        }
        for i in 0..<256 {
            for t in 1..<8 {
                let previous = table[(t - 1) * 256 + i]
                table[t * 256 + i] = (previous >> 8) ^ table[Int(previous & 0xFF)]
            }
        }
        return table
    }()

    /// The CRC-32C of `bytes`, continuing from `crc` (the checksum of the bytes before them).
    ///
    /// - Parameters:
    ///   - bytes: The data.
    ///   - crc: The checksum so far; 0 to start.
    @inline(__always)
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        if hardwareAvailable { return c_streams_crc32c_hardware(crc, bytes.baseAddress, bytes.count) }
        return softwareChecksum(bytes, continuing: crc)
    }

    /// The slicing-by-8 version of ``checksum(_:continuing:)``, for CPUs without the instruction
    /// (and for the tests that compare the two).
    static func softwareChecksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var c = ~crc
        guard let base = bytes.baseAddress else { return crc }
        var i = 0
        let n = bytes.count
        tables.withUnsafeBufferPointer { t in
            while n - i >= 8 {
                let low = UInt32(base.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian) ^ c
                let high = UInt32(base.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self).littleEndian)
                c =
                    t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((low >> 16) & 0xFF)] ^ t[4 * 256 + Int(low >> 24)]
                    ^ t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
                i += 8
            }
            while i < n {
                c = (c >> 8) ^ t[Int((c ^ UInt32(base.load(fromByteOffset: i, as: UInt8.self))) & 0xFF)]
                i += 1
            }
        }
        return ~c
    }

    /// The CRC-32C of the bytes of `string` in UTF-8.
    public static func checksum(_ string: String) -> UInt32 {
        var copy = string
        return copy.withUTF8 { checksum(UnsafeRawBufferPointer($0)) }
    }
}
