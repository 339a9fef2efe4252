/// The fixed 56-byte header at the start of every changelog file.
///
/// Layout, little-endian:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `SDEDUPCL` |
/// | 8 | 4 | format version (1) |
/// | 12 | 4 | header length (56) |
/// | 16 | 8 | generation |
/// | 24 | 8 | compacted-from generation (0: not a compaction) |
/// | 32 | 8 | compacted-from offset |
/// | 40 | 8 | base length: file length after the compacted records (56 when not compacted) |
/// | 48 | 4 | reserved, 0 |
/// | 52 | 4 | CRC-32C of bytes 0..<52 |
package struct ChangelogHeader: Sendable, Hashable {
    /// The header's size in bytes; the first record starts here.
    package static let size = 56
    /// The format version written by this code.
    package static let currentVersion: UInt32 = 1
    static let magic: [UInt8] = Array("SDEDUPCL".utf8)

    /// The file's generation.
    package var generation: UInt64
    /// For a file written by compaction, the position of the previous generation whose state its
    /// first ``baseLength`` bytes hold; `nil` for a file started empty.
    package var compactedFrom: ChangelogFilePosition?
    /// The file length after the compacted records: the position in this generation equivalent to
    /// ``compactedFrom``. Equal to ``size`` for a file started empty.
    package var baseLength: Int64

    /// Creates a header.
    package init(generation: UInt64, compactedFrom: ChangelogFilePosition?, baseLength: Int64) {
        self.generation = generation
        self.compactedFrom = compactedFrom
        self.baseLength = baseLength
    }

    /// The header's bytes.
    var bytes: [UInt8] {
        var out = Self.magic
        out.reserveCapacity(Self.size)
        out.appendLittleEndian(Self.currentVersion)
        out.appendLittleEndian(UInt32(Self.size))
        out.appendLittleEndian(generation)
        out.appendLittleEndian(compactedFrom?.generation ?? 0)
        out.appendLittleEndian(UInt64(compactedFrom?.offset ?? 0))
        out.appendLittleEndian(UInt64(baseLength))
        out.appendLittleEndian(UInt32(0))
        let crc = out.withUnsafeBytes { CRC32C.checksum($0) }
        out.appendLittleEndian(crc)
        return out
    }

    /// Parses and checks a header.
    ///
    /// - Throws: ``EmbeddedError/Code/corrupt`` or ``EmbeddedError/Code/unsupportedVersion``,
    ///   naming `path`.
    init(parsing raw: UnsafeRawBufferPointer, path: String) throws(EmbeddedError) {
        let hint = "it is not a swift-dedup changelog or was damaged; delete the state directory to start over"
        guard raw.count >= Self.size, Array(raw[0..<8]) == Self.magic else {
            throw EmbeddedError(.corrupt, "the changelog \(path) has no valid header: \(hint)", path: path)
        }
        let version = raw.loadLittleEndian(at: 8, as: UInt32.self)
        guard version == Self.currentVersion else {
            throw EmbeddedError(
                .unsupportedVersion,
                "the changelog \(path) has format version \(version), this dedup reads version \(Self.currentVersion); use the dedup release that wrote it, or delete the state directory to start over",
                path: path
            )
        }
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<52]))
        guard raw.loadLittleEndian(at: 12, as: UInt32.self) == UInt32(Self.size),
            raw.loadLittleEndian(at: 52, as: UInt32.self) == crc
        else {
            throw EmbeddedError(
                .corrupt, "the changelog \(path) has a damaged header (checksum mismatch): \(hint)", path: path)
        }
        generation = raw.loadLittleEndian(at: 16, as: UInt64.self)
        let fromGeneration = raw.loadLittleEndian(at: 24, as: UInt64.self)
        let fromOffset = Int64(bitPattern: raw.loadLittleEndian(at: 32, as: UInt64.self))
        compactedFrom = fromGeneration == 0 ? nil : ChangelogFilePosition(generation: fromGeneration, offset: fromOffset)
        baseLength = Int64(bitPattern: raw.loadLittleEndian(at: 40, as: UInt64.self))
        guard baseLength >= Int64(Self.size) else {
            throw EmbeddedError(
                .corrupt, "the changelog \(path) has a damaged header (base length \(baseLength)): \(hint)", path: path)
        }
    }
}
