#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// An append-only output file: records are copied into one in-memory buffer and written with a
/// few large `write(2)` calls, at ``flush()`` or when the buffer passes its threshold — never one
/// call per record. Each threshold write also asks the kernel to start writing those bytes to the
/// device, so that the commit's fsync finds little left to wait for.
///
/// In the commit protocol (docs/embedded-files.md) the engine appends the kept lines of a commit
/// interval, calls ``sync()``, and records ``length`` in the checkpoint. After a crash it reopens the
/// file with ``OpenMode/resume(committedLength:)``, which cuts off whatever was written after the
/// last checkpoint.
///
/// The path `-` means standard output. Standard output cannot be truncated or synced: ``sync()``
/// only flushes, ``OpenMode/resume(committedLength:)`` does not cut anything, so after a crash the
/// lines of the interrupted commit interval can be written twice. Exactly-once needs a file.
///
/// Kafka Streams counterpart: the producer of a sink topic, with its transaction.
///
/// - Important: Owned by one thread at a time; not `Sendable`. After a write error the bytes not
///   written stay buffered (``flush()`` can be retried once space is freed), and the file may hold
///   part of them past ``length``: recover with ``truncate(to:)`` or by reopening in resume mode.
public final class OutputFile {
    /// How an output file is opened.
    public enum OpenMode: Sendable, Hashable {
        /// Create the file, or empty an existing one: a fresh run.
        case truncate
        /// Continue after a crash or a stop: the file must hold at least `committedLength` bytes
        /// (the checkpoint's length for it), and everything after them is cut off and synced.
        case resume(committedLength: Int64)
        /// Continue without cutting anything off (at-least-once): what was written after the last
        /// commit stays, and may be written again.
        case append
    }

    /// The path given, or `-` for standard output.
    public let path: String
    /// Whether this writes to standard output (path `-`).
    public let isStandardOutput: Bool
    /// The number of bytes made durable by the last ``sync()`` (or found at open): the length to
    /// record in a checkpoint. For standard output, the bytes flushed by the last ``sync()``.
    public private(set) var length: Int64
    /// The number of bytes appended so far, buffered ones included: the length the file will have
    /// after the next ``flush()``.
    public var appendedLength: Int64 { writtenLength + Int64(buffer.count) }
    /// The buffer size above which ``append(_:)`` writes the buffer out (default 1 MiB).
    public let flushThreshold: Int

    /// Closed by ``close()`` or with the file (standard output stays open).
    private var descriptor: Descriptor
    // Appended per record from the job's thread only: no dynamic exclusivity checks.
    @exclusivity(unchecked) private var buffer: [UInt8]
    /// Bytes handed to `write(2)` (and so in the file, unless a write failed part-way).
    private var writtenLength: Int64
    private var isClosed = false

    /// Opens (or creates) the output file.
    ///
    /// - Parameters:
    ///   - path: The file, or `-` for standard output.
    ///   - mode: ``OpenMode/truncate`` for a fresh run, ``OpenMode/resume(committedLength:)`` after
    ///     a checkpoint. Ignored for standard output, except that `length` starts at the
    ///     committed length so that checkpoints keep counting.
    ///   - flushThreshold: The buffer size, in bytes, above which appends write it out.
    /// - Throws: ``EmbeddedError`` naming the file: ``EmbeddedError/Code/permissionDenied``,
    ///   ``EmbeddedError/Code/notFound`` (missing directory), ``EmbeddedError/Code/diskFull``, or
    ///   ``EmbeddedError/Code/positionMismatch`` when resuming a file shorter than its committed
    ///   length (it was replaced or cut by someone else).
    public init(path: String, mode: OpenMode, flushThreshold: Int = 1 << 20) throws(EmbeddedError) {
        precondition(flushThreshold > 0, "flushThreshold must be positive")
        self.path = path
        self.flushThreshold = flushThreshold
        self.buffer = []
        buffer.reserveCapacity(min(flushThreshold, 1 << 20))
        if path == "-" {
            isStandardOutput = true
            descriptor = Descriptor(standard: STDOUT_FILENO, path: "standard output", role: "output")
            if case .resume(let committed) = mode {
                length = committed
            } else {
                length = 0
            }
            writtenLength = length
            return
        }
        isStandardOutput = false
        let existed = FileSystemCalls.exists(path)
        let file = try Descriptor(opening: path, flags: O_RDWR | O_CREAT | O_APPEND, role: "output file")
        guard try file.isRegularFile() else {
            throw EmbeddedError(
                .io,
                "the output file \(path) is not a regular file (a pipe or device cannot be truncated after a crash); write to a file, or use - for standard output",
                path: path
            )
        }
        // Held until the file is closed: a second run (with another --state) writing the
        // same file would interleave its lines with ours and cut them on its restarts.
        if let holder = try file.tryLockExclusively() {
            let who = holder > 0 ? "another process (pid \(holder))" : "another process"
            throw EmbeddedError(
                .locked,
                "the output file \(path) is being written by \(who); stop that run, or choose another output path",
                path: path
            )
        }
        switch mode {
        case .truncate:
            try file.truncate(to: 0)
            length = 0
        case .resume(let committed):
            let size = try file.size()
            guard size >= committed else {
                throw EmbeddedError(
                    .positionMismatch,
                    "the output file \(path) holds \(size) bytes but the checkpoint says \(committed) were committed; it was replaced or cut since the last run. Restore it, or delete the state directory to start over",
                    path: path
                )
            }
            if size > committed { try file.truncate(to: committed) }
            length = committed
        case .append:
            // A kill in the middle of a write can leave a partial last line; it was never
            // committed (commits only follow complete writes), so cut it rather than let the
            // next line be glued onto it.
            length = try Self.lengthThroughLastNewline(file)
            if length < (try file.size()) { try file.truncate(to: length) }
        }
        try file.sync()
        if !existed {
            try FileSystemCalls.syncDirectory(FileSystemCalls.parent(of: path), role: "output directory")
        }
        descriptor = file
        writtenLength = length
    }

    /// The length of `file` up to and including its last newline (0 if it has none).
    private static func lengthThroughLastNewline(_ file: borrowing Descriptor) throws(EmbeddedError) -> Int64 {
        var end = try file.size()
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 8)
        defer { chunk.deallocate() }
        while end > 0 {
            let start = max(0, end - Int64(chunk.count))
            let n = try file.readSome(
                into: UnsafeMutableRawBufferPointer(rebasing: chunk[0..<Int(end - start)]), at: start)
            if let i = UnsafeRawBufferPointer(rebasing: chunk[0..<n]).lastIndex(of: UInt8(ascii: "\n")) {
                return start + Int64(i) + 1
            }
            end = start
        }
        return 0
    }

    /// Appends `bytes` to the buffer, writing the buffer out first if it passed ``flushThreshold``.
    ///
    /// - Throws: ``EmbeddedError`` from the write, see ``flush()``.
    @inline(__always)
    public func append(_ bytes: UnsafeRawBufferPointer) throws(EmbeddedError) {
        precondition(!isClosed, "append to a closed OutputFile")
        buffer.appendBytes(bytes)
        if buffer.count >= flushThreshold { try writeAhead() }
    }

    /// Appends `bytes` followed by a newline (`\n`).
    ///
    /// - Throws: ``EmbeddedError`` from the write, see ``flush()``.
    @inline(__always)
    public func appendLine(_ bytes: UnsafeRawBufferPointer) throws(EmbeddedError) {
        precondition(!isClosed, "append to a closed OutputFile")
        buffer.appendBytes(bytes)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= flushThreshold { try writeAhead() }
    }

    /// Writes the full buffer and starts the device write of those bytes without waiting.
    private func writeAhead() throws(EmbeddedError) {
        let start = writtenLength
        try flush()
        if !isStandardOutput { descriptor.startWriteback(offset: start, length: Int(writtenLength - start)) }
    }

    /// Appends the bytes of an array (convenience for tests and small tools).
    public func append(_ bytes: [UInt8]) throws(EmbeddedError) {
        try withBytes(bytes) { (raw) throws(EmbeddedError) in try append(raw) }
    }

    /// Writes the buffer to the file with as few `write(2)` calls as the kernel allows.
    ///
    /// - Throws: ``EmbeddedError`` naming the file; ``EmbeddedError/Code/diskFull`` when the file
    ///   system is full. The bytes not written stay buffered; part of the buffer may be in the file.
    public func flush() throws(EmbeddedError) {
        try descriptor.writeDraining(&buffer, addingTo: &writtenLength)
    }

    /// Flushes the buffer and makes the file durable (`fsync`); ``length`` then covers everything
    /// appended. For standard output, only flushes.
    ///
    /// - Throws: ``EmbeddedError`` naming the file (a full disk can also surface here).
    public func sync() throws(EmbeddedError) {
        try flush()
        if !isStandardOutput { try descriptor.sync() }
        length = writtenLength
    }

    /// Drops the buffer and cuts the file to `length` bytes, durably: for rolling back a commit
    /// that failed part-way (usually to ``length``).
    ///
    /// - Precondition: Not standard output; `length` at most ``appendedLength``.
    /// - Throws: ``EmbeddedError`` naming the file.
    public func truncate(to newLength: Int64) throws(EmbeddedError) {
        precondition(!isStandardOutput, "standard output cannot be truncated")
        precondition(newLength >= 0 && newLength <= appendedLength, "truncate beyond the appended length")
        buffer.removeAll(keepingCapacity: true)
        try descriptor.truncate(to: newLength)
        try descriptor.sync()
        writtenLength = newLength
        length = newLength
    }

    /// Flushes and syncs, then closes the file. Later calls are programmer errors.
    ///
    /// - Throws: ``EmbeddedError`` from the final ``sync()``; the file is closed anyway.
    public func close() throws(EmbeddedError) {
        guard !isClosed else { return }
        defer {
            isClosed = true
            descriptor.closeFile()
        }
        try sync()
    }
}
