/// A point in the local changelog: a file generation and a byte offset in that generation's file.
///
/// The offset is the file's length after the last complete record that the position covers, so
/// it counts the header. Each compaction starts a new generation (a new file); offsets of
/// different generations are not comparable, and the new file's header says which position of the
/// old generation it is equivalent to (see ``ChangelogHeader/compactedFrom``).
///
/// The store's commit metadata holds one under ``metadataKey`` (``metadataBytes``); the
/// checkpoint holds one as JSON.
///
/// Kafka Streams counterpart: the changelog topic offset recorded in a `.checkpoint` file.
public struct ChangelogPosition: Codable, Sendable, Hashable, CustomStringConvertible {
    /// The metadata key under which the engine stores the position a store reflects.
    public static let metadataKey = "changelog.position"

    /// The changelog file's generation (1 for the first file, +1 per compaction).
    public var generation: UInt64
    /// The byte length of that file after the last record covered.
    public var offset: Int64

    /// Creates a position.
    public init(generation: UInt64, offset: Int64) {
        self.generation = generation
        self.offset = offset
    }

    /// `"<generation>:<offset>"`, as stored in the store's metadata.
    public var description: String { "\(generation):\(offset)" }

    /// The position as store metadata bytes: ``description`` in UTF-8.
    public var metadataBytes: [UInt8] { Array(description.utf8) }

    /// Parses ``metadataBytes``; `nil` for anything else.
    public init?(metadataBytes bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let generation = UInt64(parts[0]), let offset = Int64(parts[1]), offset >= 0 else {
            return nil
        }
        self.init(generation: generation, offset: offset)
    }
}
