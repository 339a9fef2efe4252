#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif
public import StreamsState

/// The local changelog of a window store: an append-only file of framed, checksummed records
/// (`changelog-<generation>.log` in the state directory's `changelog/`), from which the store can
/// be rebuilt at any time.
///
/// As the store's ``ChangelogSink`` it encodes every mutation into one growing in-memory buffer
/// (no allocation per entry once the buffer has grown), and writes the buffer with a few
/// `write(2)` calls at ``flush()`` or ``sync()``. ``position`` — generation and byte length after
/// the last complete record — is what the checkpoint and the store's commit metadata record.
///
/// Formats, commit order and recovery rules: docs/embedded-files.md. In short: open with the
/// checkpoint's position (``init(directory:committed:)`` cuts off uncommitted records and removes
/// files of other generations), ask ``recovery(forStoreAt:)`` what the store needs, and read with
/// ``reader(from:)``. ``compacted(from:)`` rewrites the live state into the next generation.
///
/// Kafka Streams counterpart: the changelog topic and its `RecordCollector`.
///
/// - Important: Owned by one thread at a time (the task's); not `Sendable`. The buffer is only
///   bounded by the commit interval: ``ChangelogSink/append(key:timestampMs:value:)`` cannot fail,
///   so it never writes.
package final class ChangelogFile: ChangelogSink {
    /// The directory holding the changelog files.
    package let directory: String
    /// This file's path.
    package let path: String
    /// This file's header (its generation and what it was compacted from).
    package let header: ChangelogHeader
    /// The position made durable by the last ``sync()`` (or found at open): the changelog
    /// position to record in the checkpoint.
    package private(set) var position: ChangelogFilePosition
    /// The position after every record appended so far, buffered ones included.
    package var appendedPosition: ChangelogFilePosition {
        ChangelogFilePosition(generation: header.generation, offset: writtenLength + Int64(buffer.count))
    }
    // Appended per mutation from the store's thread only: no dynamic exclusivity checks.
    /// The number of records buffered since the last ``flush()``.
    @exclusivity(unchecked) package private(set) var bufferedRecordCount = 0

    /// Closed by ``close()`` or with the file.
    private var descriptor: Descriptor
    @exclusivity(unchecked) private var buffer: [UInt8] = []
    private var writtenLength: Int64
    private var isClosed = false

    /// The name of the file of `generation`: `changelog-<generation, 20 digits>.log`.
    package static func fileName(generation: UInt64) -> String {
        let digits = String(generation)
        return "changelog-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    /// The generation named by a changelog file name, or `nil` for other names.
    static func generation(ofFileName name: String) -> UInt64? {
        guard name.hasPrefix("changelog-"), name.hasSuffix(".log") else { return nil }
        return UInt64(name.dropFirst("changelog-".count).dropLast(".log".count))
    }

    /// Opens the changelog in `directory` at the committed position, or starts a new one.
    ///
    /// - With `committed == nil` (no checkpoint: a fresh start), every changelog file in the
    ///   directory is removed and generation 1 is created empty.
    /// - With a position, its generation's file must exist and hold at least `committed.offset`
    ///   bytes; anything after them (records of a commit that did not finish) is cut off and
    ///   synced, and files of other generations (an older one already compacted, or a newer one
    ///   whose compaction was not checkpointed) are removed.
    ///
    /// - Parameters:
    ///   - directory: The changelog directory (created if missing).
    ///   - committed: The checkpoint's changelog position, or `nil` for a fresh start.
    /// - Throws: ``EmbeddedError`` naming the file: ``EmbeddedError/Code/corrupt`` when the
    ///   committed file is missing, shorter than committed or has a bad header; I/O errors.
    package convenience init(directory: String, committed: ChangelogFilePosition?) throws(EmbeddedError) {
        try FileSystemCalls.createDirectory(directory, role: "changelog directory")
        let names = try FileSystemCalls.contents(of: directory, role: "changelog directory")
        for name in names where name.hasSuffix(".tmp") {
            try FileSystemCalls.remove(directory + "/" + name, role: "changelog")
        }
        guard let committed else {
            for name in names where Self.generation(ofFileName: name) != nil {
                try FileSystemCalls.remove(directory + "/" + name, role: "changelog")
            }
            let header = ChangelogHeader(generation: 1, compactedFrom: nil, baseLength: Int64(ChangelogHeader.size))
            let path = directory + "/" + Self.fileName(generation: 1)
            try FileSystemCalls.writeAtomically(header.bytes, to: path, role: "changelog")
            try self.init(path: path, directory: directory, length: Int64(ChangelogHeader.size), expecting: 1)
            return
        }
        let path = directory + "/" + Self.fileName(generation: committed.generation)
        guard FileSystemCalls.exists(path) else {
            throw EmbeddedError(
                .corrupt,
                "the checkpoint refers to the changelog \(path), which does not exist: the state directory was damaged; delete it to start over",
                path: path
            )
        }
        try self.init(path: path, directory: directory, length: committed.offset, expecting: committed.generation)
        var removed = false
        for name in names {
            if let generation = Self.generation(ofFileName: name), generation != committed.generation {
                try FileSystemCalls.remove(directory + "/" + name, role: "changelog")
                removed = true
            }
        }
        if removed { try FileSystemCalls.syncDirectory(directory, role: "changelog directory") }
    }

    /// Opens an existing file, cuts it to `length` and positions appends there.
    init(path: String, directory: String, length: Int64, expecting generation: UInt64) throws(EmbeddedError) {
        let file = try Descriptor(opening: path, flags: O_RDWR | O_APPEND, role: "changelog")
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: ChangelogHeader.size, alignment: 8)
        defer { raw.deallocate() }
        let n = try file.readSome(into: raw, at: 0)
        header = try ChangelogHeader(parsing: UnsafeRawBufferPointer(rebasing: raw[0..<n]), path: path)
        guard header.generation == generation else {
            throw EmbeddedError(
                .corrupt,
                "the changelog \(path) says it is generation \(header.generation), not \(generation): the state directory was damaged; delete it to start over",
                path: path
            )
        }
        let size = try file.size()
        guard length >= header.baseLength, size >= length else {
            throw EmbeddedError(
                .corrupt,
                "the changelog \(path) holds \(size) bytes but \(length) are committed (the first \(header.baseLength) at least): committed state was lost; delete the state directory to start over",
                path: path
            )
        }
        if size > length {
            try file.truncate(to: length)
            try file.sync()
        }
        self.directory = directory
        self.path = path
        self.descriptor = file
        self.writtenLength = length
        self.position = ChangelogFilePosition(generation: generation, offset: length)
        buffer.reserveCapacity(1 << 20)
    }

    // MARK: Appending

    /// Buffers one mutation as a framed record. Never writes and never fails.
    ///
    /// - Precondition: The record is at most 256 MiB.
    package func append(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer?) {
        precondition(!isClosed, "append to a closed ChangelogFile")
        ChangelogRecord.encode(key: key, timestampMs: timestampMs, value: value, into: &buffer)
        bufferedRecordCount += 1
    }

    /// Buffers `entry` (convenience for tests and tools).
    package func append(_ entry: ChangelogEntry) {
        entry.key.withUnsafeBytes { key in
            if let value = entry.value {
                value.withUnsafeBytes { append(key: key, timestampMs: entry.timestampMs, value: $0) }
            } else {
                append(key: key, timestampMs: entry.timestampMs, value: nil)
            }
        }
    }

    /// Writes the buffered records to the file.
    ///
    /// - Throws: ``EmbeddedError`` naming the file (``EmbeddedError/Code/diskFull`` when full).
    ///   Part of the buffer may then be in the file, past ``position``: call
    ///   ``discardUncommitted()`` (or reopen) before appending again.
    package func flush() throws(EmbeddedError) {
        try descriptor.writeDraining(&buffer, addingTo: &writtenLength)
        if buffer.isEmpty { bufferedRecordCount = 0 }
    }

    /// Writes the buffered records once they pass `threshold` bytes, and starts the device write
    /// of those bytes without waiting, so that the commit's ``sync()`` has little left to wait
    /// for. Call between records (the engine does after each processed batch); nothing becomes
    /// committed: ``position`` stays where the last ``sync()`` left it.
    ///
    /// - Throws: as ``flush()``.
    package func writeAhead(threshold: Int) throws(EmbeddedError) {
        guard buffer.count >= threshold else { return }
        let start = writtenLength
        try flush()
        descriptor.startWriteback(offset: start, length: Int(writtenLength - start))
    }

    /// Flushes and makes the file durable (`fsync`), then advances ``position``.
    ///
    /// - Throws: ``EmbeddedError`` naming the file.
    package func sync() throws(EmbeddedError) {
        try flush()
        try descriptor.sync()
        position = ChangelogFilePosition(generation: header.generation, offset: writtenLength)
    }

    /// Drops buffered records and cuts the file back to ``position``: rolls back a commit that
    /// failed before its checkpoint was written.
    ///
    /// - Throws: ``EmbeddedError`` naming the file.
    package func discardUncommitted() throws(EmbeddedError) {
        buffer.removeAll(keepingCapacity: true)
        bufferedRecordCount = 0
        try descriptor.truncate(to: position.offset)
        try descriptor.sync()
        writtenLength = position.offset
    }

    /// Closes the file, dropping anything not flushed. Later calls are programmer errors.
    package func close() {
        guard !isClosed else { return }
        isClosed = true
        descriptor.closeFile()
    }

    // MARK: Reading and recovery

    /// A reader of this file from `offset` up to ``position`` (everything before it must be valid).
    ///
    /// - Parameter offset: A record boundary of this generation; `nil` for the first record.
    /// - Throws: ``EmbeddedError`` naming the file.
    package func reader(from offset: Int64? = nil) throws(EmbeddedError) -> ChangelogFileReader {
        try ChangelogFileReader(path: path, from: offset, upTo: position.offset)
    }

    /// What a store whose commit metadata says it reflects `storePosition` needs in order to
    /// reflect ``position``.
    ///
    /// - Same generation, same offset: ``ChangelogRecovery/upToDate``.
    /// - Same generation, smaller offset: ``ChangelogRecovery/replay(from:)`` that offset (the crash
    ///   came after the checkpoint, before the store's commit).
    /// - The position this generation was compacted from: replay from ``ChangelogHeader/baseLength``
    ///   (the crash came between a compaction's checkpoint and the store's commit).
    /// - Anything else (no position, a store ahead of the changelog, an unrelated generation):
    ///   ``ChangelogRecovery/rebuild(reason:)``.
    package func recovery(forStoreAt storePosition: ChangelogFilePosition?) -> ChangelogRecovery {
        Self.recovery(forStoreAt: storePosition, committed: position, header: header)
    }

    /// ``recovery(forStoreAt:)`` for a changelog whose committed position is `position` and whose
    /// header is `header`, without opening the file for appending (which cuts it back): for tools
    /// that only read, and a value that can be handed to another thread, unlike the file.
    package static func recovery(
        forStoreAt storePosition: ChangelogFilePosition?,
        committed position: ChangelogFilePosition,
        header: ChangelogHeader
    ) -> ChangelogRecovery {
        guard let storePosition else {
            return .rebuild(reason: "the store records no changelog position (it is new or was deleted)")
        }
        if storePosition.generation == position.generation {
            if storePosition.offset == position.offset { return .upToDate }
            if storePosition.offset < position.offset && storePosition.offset >= header.baseLength {
                return .replay(from: storePosition.offset)
            }
            return .rebuild(
                reason:
                    "the store is at changelog position \(storePosition), which the committed changelog (\(position)) does not contain"
            )
        }
        if storePosition == header.compactedFrom {
            return header.baseLength == position.offset ? .upToDate : .replay(from: header.baseLength)
        }
        return .rebuild(
            reason:
                "the store is at changelog position \(storePosition), from another changelog generation than \(position.generation)"
        )
    }
}
