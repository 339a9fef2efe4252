import Foundation

/// The commit point of the embedded engine: where every input, output and the changelog stood
/// when a commit interval was made durable, saved atomically as `STATE/checkpoint.json`.
///
/// Order of a commit (docs/embedded-files.md): outputs synced, changelog synced, then this file
/// replaced atomically (``save(to:)``) — the commit point — and only then the store committed with
/// the changelog position. On restart (``load(from:)``) outputs and changelog are cut back to the
/// lengths recorded here and inputs resume at the recorded offsets.
///
/// Kafka Streams counterpart: the committed consumer offsets of a transaction plus the
/// `.checkpoint` file of the state directory.
public struct Checkpoint: Codable, Sendable, Hashable {
    /// The format version written by this code.
    public static let currentVersion = 1

    /// Where one input stood: the next byte to read and the number of lines consumed before it.
    public struct Input: Codable, Sendable, Hashable {
        /// The input's path as given on the command line (`-` for standard input).
        public var path: String
        /// The byte offset of the first unconsumed line.
        public var byteOffset: Int64
        /// The number of lines (blank ones included) before ``byteOffset``; the next line is
        /// `lineNumber + 1`.
        public var lineNumber: Int64

        /// Creates an input position.
        public init(path: String, byteOffset: Int64, lineNumber: Int64) {
            self.path = path
            self.byteOffset = byteOffset
            self.lineNumber = lineNumber
        }
    }

    /// How long one output was at the commit.
    public struct Output: Codable, Sendable, Hashable {
        /// The output's path as given on the command line (`-` for standard output).
        public var path: String
        /// Its synced length in bytes; a restart cuts the file back to it.
        public var committedLength: Int64

        /// Creates an output position.
        public init(path: String, committedLength: Int64) {
            self.path = path
            self.committedLength = committedLength
        }
    }

    /// Running totals since the state directory was created, for reporting.
    public struct Counters: Codable, Sendable, Hashable {
        /// Lines read from all inputs (blank lines excluded).
        public var recordsRead: Int64
        /// Records written to the outputs.
        public var recordsWritten: Int64
        /// Records dropped as duplicates.
        public var duplicatesDropped: Int64
        /// Lines that could not be parsed and were handled by the error policy.
        public var malformed: Int64

        /// Creates counters; all default to zero.
        public init(
            recordsRead: Int64 = 0, recordsWritten: Int64 = 0, duplicatesDropped: Int64 = 0, malformed: Int64 = 0
        ) {
            self.recordsRead = recordsRead
            self.recordsWritten = recordsWritten
            self.duplicatesDropped = duplicatesDropped
            self.malformed = malformed
        }
    }

    /// The file format version.
    public var version: Int
    /// The commit number: 1 for the first checkpoint, +1 per commit.
    public var generation: UInt64
    /// Every input's position, in command-line order.
    public var inputs: [Input]
    /// Every output's committed length, in command-line order.
    public var outputs: [Output]
    /// The synced changelog position (generation and length) of this commit.
    public var changelog: ChangelogFilePosition
    /// The stream time at the commit (largest record time seen), or `nil` before any record.
    public var streamTimeMs: Int64?
    /// Running totals.
    public var counters: Counters

    /// Creates a checkpoint of the current ``currentVersion``.
    public init(
        generation: UInt64,
        inputs: [Input],
        outputs: [Output],
        changelog: ChangelogFilePosition,
        streamTimeMs: Int64?,
        counters: Counters = Counters()
    ) {
        self.version = Self.currentVersion
        self.generation = generation
        self.inputs = inputs
        self.outputs = outputs
        self.changelog = changelog
        self.streamTimeMs = streamTimeMs
        self.counters = counters
    }

    /// Writes the checkpoint to `path` atomically: `path.tmp` is written and fsynced, renamed
    /// over `path`, and the directory fsynced. A crash at any moment leaves the previous or this
    /// checkpoint, whole.
    ///
    /// - Throws: ``EmbeddedError`` naming the file (``EmbeddedError/Code/diskFull`` and so on).
    public func save(to path: String) throws(EmbeddedError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do {
            data = try encoder.encode(self)
        } catch {
            preconditionFailure("a Checkpoint always encodes: \(error)")
        }
        try FileSystemCalls.writeAtomically(Array(data) + [UInt8(ascii: "\n")], to: path, role: "checkpoint")
    }

    /// Reads and validates the checkpoint at `path`.
    ///
    /// - Returns: The checkpoint, or `nil` when there is no file (a fresh start).
    /// - Throws: ``EmbeddedError`` naming the file: ``EmbeddedError/Code/corrupt`` for a file that is
    ///   not a valid checkpoint (truncated, edited, empty), ``EmbeddedError/Code/unsupportedVersion``
    ///   for a newer format, and I/O errors.
    public static func load(from path: String) throws(EmbeddedError) -> Checkpoint? {
        guard FileSystemCalls.exists(path) else { return nil }
        let bytes = try FileSystemCalls.readAll(path, role: "checkpoint")
        let hint =
            "restore it from a backup, or delete the state directory to start over (the outputs are then rewritten from the beginning)"
        struct VersionOnly: Decodable { var version: Int }
        let version: Int
        do {
            version = try JSONDecoder().decode(VersionOnly.self, from: Data(bytes)).version
        } catch {
            throw EmbeddedError(
                .corrupt,
                "the checkpoint \(path) is not valid JSON (\(bytes.count) bytes; truncated or edited?): \(hint)",
                path: path
            )
        }
        guard version == currentVersion else {
            throw EmbeddedError(
                .unsupportedVersion,
                "the checkpoint \(path) has format version \(version), this dedup reads version \(currentVersion); use the dedup release that wrote it, or delete the state directory to start over",
                path: path
            )
        }
        let checkpoint: Checkpoint
        do {
            checkpoint = try JSONDecoder().decode(Checkpoint.self, from: Data(bytes))
        } catch {
            throw EmbeddedError(
                .corrupt, "the checkpoint \(path) is missing fields or has wrong types (\(error)): \(hint)", path: path)
        }
        if let problem = checkpoint.problem {
            throw EmbeddedError(.corrupt, "the checkpoint \(path) is inconsistent: \(problem): \(hint)", path: path)
        }
        return checkpoint
    }

    /// The first inconsistency found, or `nil`.
    var problem: String? {
        if generation == 0 { return "generation 0" }
        if changelog.generation == 0 || changelog.offset < Int64(ChangelogHeader.size) {
            return "changelog position \(changelog)"
        }
        for input in inputs where input.byteOffset < 0 || input.lineNumber < 0 || input.lineNumber > input.byteOffset {
            return "input \(input.path) at byte \(input.byteOffset), line \(input.lineNumber)"
        }
        for output in outputs where output.committedLength < 0 {
            return "output \(output.path) of length \(output.committedLength)"
        }
        if Set(inputs.map(\.path)).count != inputs.count { return "an input is listed twice" }
        if Set(outputs.map(\.path)).count != outputs.count { return "an output is listed twice" }
        return nil
    }
}
