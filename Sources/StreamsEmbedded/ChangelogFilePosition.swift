internal import StreamsCore

/// A point in the local changelog: a file generation and a byte offset in that generation's file.
///
/// The offset is the file's length after the last complete record that the position covers, so
/// it counts the header. Each compaction starts a new generation (a new file); offsets of
/// different generations are not comparable, and the new file's header says which position of the
/// old generation it is equivalent to (see ``ChangelogHeader/compactedFrom``).
///
/// The store's commit metadata holds one under ``metadataKey`` as ``metadataBytes`` (the runtime's
/// 8-byte form of ``packed``); the checkpoint holds one as JSON.
///
/// Kafka Streams counterpart: the changelog topic offset recorded in a `.checkpoint` file.
package struct ChangelogFilePosition: Codable, Sendable, Hashable, CustomStringConvertible {
    /// The metadata key under which the engine stores the position a store reflects: the
    /// runtime's (`ChangelogPosition.metadataKey`), so there is one.
    package static var metadataKey: String { ChangelogPosition.metadataKey }

    /// The changelog file's generation (1 for the first file, +1 per compaction).
    package var generation: UInt64
    /// The byte length of that file after the last record covered.
    package var offset: Int64

    /// Creates a position.
    package init(generation: UInt64, offset: Int64) {
        self.generation = generation
        self.offset = offset
    }

    /// `"<generation>:<offset>"`.
    package var description: String { "\(generation):\(offset)" }

    /// The position as one `Int64`, the form the runtime's changelog positions take: the
    /// generation in the high 24 bits, the byte offset in the low 40 (1 TiB per generation).
    package var packed: Int64 { Int64(generation) << 40 | offset }

    /// The inverse of ``packed``; `nil` for 0 (a store that never recorded a position).
    package init?(packed: Int64) {
        guard packed > 0 else { return nil }
        self.init(generation: UInt64(packed >> 40), offset: packed & (1 << 40 - 1))
    }

    /// The position as store metadata: ``packed`` as 8 big-endian bytes, exactly what the runtime
    /// records after a commit (`StreamsCore.ChangelogPosition.metadata`).
    package var metadataBytes: [UInt8] { ChangelogPosition(packed).metadata }

    /// Parses ``metadataBytes``; `nil` for anything else.
    package init?(metadataBytes bytes: [UInt8]) {
        guard let position = ChangelogPosition(metadata: bytes) else { return nil }
        self.init(packed: position.offset)
    }
}
