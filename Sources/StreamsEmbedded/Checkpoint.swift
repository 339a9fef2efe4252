import Foundation

/// The commit point of the embedded engine: where every input, output and the changelog stood
/// when a commit interval was made durable, saved atomically as `STATE/checkpoint.json`.
///
/// Order of a commit (docs/embedded-files.md): outputs synced, changelog synced, then this file
/// replaced atomically (``save(to:)``) — the commit point — and only then the store committed with
/// the changelog position. On restart (``load(from:)``) outputs and changelog are cut back to the
/// lengths recorded here and inputs resume at the recorded offsets.
///
/// The file carries a CRC-32C (`crc32c`) over its own bytes, so that a damaged or hand-edited
/// checkpoint is refused instead of silently resuming at a wrong position. A file of the previous
/// format (version 1, without a checksum) is accepted and rewritten in this format at the next
/// commit.
///
/// Kafka Streams counterpart: the committed consumer offsets of a transaction plus the
/// `.checkpoint` file of the state directory.
package struct Checkpoint: Codable, Sendable, Hashable {
    /// The format version written by this code.
    package static let currentVersion = 2
    /// The oldest format version this code reads (version 1 has no checksum and no input
    /// fingerprints; it is accepted and rewritten as ``currentVersion`` at the next commit).
    package static let oldestReadableVersion = 1

    /// Where one input stood: the next byte to read and the number of lines consumed before it.
    package struct Input: Codable, Sendable, Hashable {
        /// The input's path as given on the command line (`-` for standard input).
        package var path: String
        /// The byte offset of the first unconsumed line.
        package var byteOffset: Int64
        /// The number of lines (blank ones included) before ``byteOffset``; the next line is
        /// `lineNumber + 1`.
        package var lineNumber: Int64
        /// Checksums of the committed prefix, checked when the input is resumed; `nil` for
        /// standard input and other inputs that cannot be re-read, and in version 1 checkpoints.
        package var fingerprint: Fingerprint?

        /// Creates an input position.
        package init(path: String, byteOffset: Int64, lineNumber: Int64, fingerprint: Fingerprint? = nil) {
            self.path = path
            self.byteOffset = byteOffset
            self.lineNumber = lineNumber
            self.fingerprint = fingerprint
        }

        /// Checksums of the bytes before ``Input/byteOffset`` that tell whether the input still
        /// holds what was committed: a file replaced by other content (of the same or a greater
        /// length) must not be resumed at the old offset. Growth after the offset (appending, the
        /// normal case) does not change them.
        ///
        /// Only the first and the last ``spanBytes`` bytes of the committed prefix are covered, so
        /// that the check reads at most 8 KiB once at startup; a change between them goes unnoticed.
        package struct Fingerprint: Codable, Sendable, Hashable {
            /// How many bytes each checksum covers at most.
            package static let spanBytes = 4_096

            /// The CRC-32C of the input's first `min(spanBytes, byteOffset)` bytes.
            package var headCRC32C: UInt32
            /// The CRC-32C of the `min(spanBytes, byteOffset)` bytes just before `byteOffset`.
            package var tailCRC32C: UInt32

            /// Creates a fingerprint from its two checksums.
            package init(headCRC32C: UInt32, tailCRC32C: UInt32) {
                self.headCRC32C = headCRC32C
                self.tailCRC32C = tailCRC32C
            }
        }
    }

    /// How long one output was at the commit.
    package struct Output: Codable, Sendable, Hashable {
        /// The output's path as given on the command line (`-` for standard output).
        package var path: String
        /// Its synced length in bytes; a restart cuts the file back to it.
        package var committedLength: Int64

        /// Creates an output position.
        package init(path: String, committedLength: Int64) {
            self.path = path
            self.committedLength = committedLength
        }
    }

    /// The file format version (``currentVersion`` unless loaded from an older file).
    package var version: Int
    /// The commit number: 1 for the first checkpoint, +1 per commit.
    package var generation: UInt64
    /// Every input's position, in command-line order.
    package var inputs: [Input]
    /// Every output's committed length, in command-line order.
    package var outputs: [Output]
    /// The synced changelog position (generation and length) of this commit.
    package var changelog: ChangelogFilePosition
    /// The stream time at the commit (largest record time seen), or `nil` before any record.
    package var streamTimeMs: Int64?

    /// Creates a checkpoint of the current ``currentVersion``.
    package init(
        generation: UInt64,
        inputs: [Input],
        outputs: [Output],
        changelog: ChangelogFilePosition,
        streamTimeMs: Int64?
    ) {
        self.version = Self.currentVersion
        self.generation = generation
        self.inputs = inputs
        self.outputs = outputs
        self.changelog = changelog
        self.streamTimeMs = streamTimeMs
    }

    /// The file form: the checkpoint's fields plus the checksum.
    private struct Stored: Codable {
        var version: Int
        var generation: UInt64
        var inputs: [Input]
        var outputs: [Output]
        var changelog: ChangelogFilePosition
        var streamTimeMs: Int64?
        var crc32c: String
    }

    /// The JSON key of the checksum, with its quotes, as it appears in the file.
    private static let checksumKey = Array("\"crc32c\"".utf8)

    /// Writes the checkpoint to `path` atomically: `path.tmp` is written and fsynced, renamed
    /// over `path`, and the directory fsynced. A crash at any moment leaves the previous or this
    /// checkpoint, whole.
    ///
    /// The file is written as ``currentVersion`` (also for a checkpoint loaded from an older
    /// version), with `crc32c`: eight lowercase hex digits, the CRC-32C of the whole file with
    /// those eight digits read as `0`s.
    ///
    /// - Throws: ``EmbeddedError`` naming the file (``EmbeddedError/Code/diskFull`` and so on).
    package func save(to path: String) throws(EmbeddedError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let stored = Stored(
            version: Self.currentVersion, generation: generation, inputs: inputs, outputs: outputs,
            changelog: changelog, streamTimeMs: streamTimeMs, crc32c: "00000000")
        var bytes: [UInt8]
        do {
            bytes = Array(try encoder.encode(stored)) + [UInt8(ascii: "\n")]
        } catch {
            preconditionFailure("a Checkpoint always encodes: \(error)")
        }
        guard let digits = Self.checksumDigits(in: bytes) else {
            preconditionFailure("the encoded checkpoint has no crc32c field")
        }
        let crc = bytes.withUnsafeBytes { CRC32C.checksum($0) }
        let hex = Array(String(crc, radix: 16).utf8)
        let text = Array(repeating: UInt8(ascii: "0"), count: 8 - hex.count) + hex
        bytes.replaceSubrange(digits, with: text)
        try FileSystemCalls.writeAtomically(bytes, to: path, role: "checkpoint")
    }

    /// The range of the checksum's eight hex digits in `bytes`, or `nil` when there is no single
    /// well-formed `"crc32c" : "xxxxxxxx"` member. Only a `"crc32c"` followed by a colon is the
    /// key: a path may be the string `"crc32c"`, but inside a string every `"` is escaped, so no
    /// path can fake the key.
    private static func checksumDigits(in bytes: [UInt8]) -> Range<Int>? {
        func skipSpace(_ j: inout Int) {
            while j < bytes.count && (bytes[j] == 0x20 || bytes[j] == 0x09 || bytes[j] == 0x0A || bytes[j] == 0x0D) {
                j += 1
            }
        }
        var found: Range<Int>?
        var i = 0
        while i + checksumKey.count <= bytes.count {
            guard bytes[i] == checksumKey[0] && bytes[i..<i + checksumKey.count].elementsEqual(checksumKey) else {
                i += 1
                continue
            }
            var j = i + checksumKey.count
            skipSpace(&j)
            guard j < bytes.count && bytes[j] == UInt8(ascii: ":") else {
                i += checksumKey.count
                continue
            }
            guard found == nil else { return nil }
            j += 1
            skipSpace(&j)
            guard j + 10 <= bytes.count, bytes[j] == UInt8(ascii: "\""), bytes[j + 9] == UInt8(ascii: "\"") else {
                return nil
            }
            found = (j + 1)..<(j + 9)
            i = j + 10
        }
        return found
    }

    /// Reads and validates the checkpoint at `path`.
    ///
    /// - Returns: The checkpoint, or `nil` when there is no file (a fresh start).
    /// - Throws: ``EmbeddedError`` naming the file: ``EmbeddedError/Code/corrupt`` for a file that is
    ///   not a valid checkpoint (a checksum that does not match, truncated, edited, empty),
    ///   ``EmbeddedError/Code/unsupportedVersion`` for a newer format, and I/O errors.
    package static func load(from path: String) throws(EmbeddedError) -> Checkpoint? {
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
        guard version <= currentVersion else {
            throw EmbeddedError(
                .unsupportedVersion,
                "the checkpoint \(path) has format version \(version), this dedup reads versions \(oldestReadableVersion) to \(currentVersion); use the dedup release that wrote it, or delete the state directory to start over",
                path: path
            )
        }
        // Any file with a checksum is verified, whatever its version says: a damaged version
        // number must not turn the check off.
        if let digits = checksumDigits(in: bytes) {
            guard let stored = UInt32(String(decoding: bytes[digits], as: UTF8.self), radix: 16) else {
                throw EmbeddedError(
                    .corrupt, "the checkpoint \(path) has a malformed crc32c (damaged or edited): \(hint)", path: path)
            }
            var zeroed = bytes
            zeroed.replaceSubrange(digits, with: repeatElement(UInt8(ascii: "0"), count: 8))
            let actual = zeroed.withUnsafeBytes { CRC32C.checksum($0) }
            guard actual == stored else {
                throw EmbeddedError(
                    .corrupt,
                    "the checkpoint \(path) does not match its checksum (crc32c \(String(stored, radix: 16)), its bytes give \(String(actual, radix: 16))): it was damaged or edited; \(hint)",
                    path: path
                )
            }
        } else if version != 1 {
            throw EmbeddedError(
                .corrupt,
                "the checkpoint \(path) has no crc32c checksum (damaged or edited; only format version 1 has none): \(hint)",
                path: path
            )
        }
        guard version >= oldestReadableVersion else {
            throw EmbeddedError(.corrupt, "the checkpoint \(path) has format version \(version): \(hint)", path: path)
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
