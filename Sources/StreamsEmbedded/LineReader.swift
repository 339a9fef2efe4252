#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// One line of a JSON Lines input, lent to ``LineReader/forEachLine(_:)``.
///
/// - Important: ``bytes`` points into the reader's buffer and is valid only during the call that
///   lends it; copy what you keep.
public struct Line {
    /// The line's bytes, without the `\n` and without a `\r` before it.
    public let bytes: UnsafeRawBufferPointer
    /// The byte offset of the line's first byte in the input.
    public let offset: Int64
    /// The line's number in the input, counting from 1 (blank lines are counted).
    public let number: Int64
    /// The byte offset just after the line's newline (or its last byte at the end of the input):
    /// where a reader resumes after this line.
    public let endOffset: Int64
}

/// What ``LineReader/nextBatch(maxLines:)`` found.
public enum LineReadStatus: Sendable, Hashable {
    /// A batch of this many lines (at least one) is ready for ``LineReader/forEachLine(_:)``.
    case lines(Int)
    /// Follow mode: the input has no complete line now; sleep and call again.
    case noDataYet
    /// The input ended (end of file without follow mode, or standard input closed).
    case endOfInput
}

/// Reads a JSON Lines input from a byte offset in large chunks (1 MiB by default) and hands out
/// batches of lines as views into one buffer: no allocation per line.
///
/// Handles `\n` and `\r\n`, a final line without a newline, and blank lines (empty or only spaces,
/// tabs and `\r`), which are skipped but counted in line numbers and positions. The path `-` is
/// standard input, which can only be read from its start.
///
/// In follow mode, the end of a regular file means "no more data yet" (``LineReadStatus/noDataYet``):
/// the caller sleeps and calls again, and an incomplete last line is held back until its newline
/// arrives or ``stopFollowing()`` is called. A pipe's end (the writer closed it) always ends the input.
///
/// ```swift
/// let reader = try LineReader(path: "in.jsonl", offset: checkpoint.byteOffset, lineNumber: checkpoint.lineNumber)
/// while case .lines = try reader.nextBatch() {
///     reader.forEachLine { line in process(line.bytes) }
///     // reader.byteOffset / reader.lineNumber: the position after the batch, for the checkpoint
/// }
/// ```
///
/// Kafka Streams counterpart: the consumer of a source topic, with its position.
///
/// - Important: Owned by one thread at a time; not `Sendable`. Its hot properties have no
///   dynamic exclusivity checks (`@exclusivity(unchecked)`): it is never used re-entrantly.
public final class LineReader {
    /// The path given, or `-` for standard input.
    public let path: String
    /// Whether the end of a regular file means "no data yet" rather than the end of the input.
    public private(set) var follow: Bool
    /// The byte offset after the last line handed out or skipped: where to resume.
    @exclusivity(unchecked) public private(set) var byteOffset: Int64
    /// The number of lines (blank ones included) before ``byteOffset``.
    @exclusivity(unchecked) public private(set) var lineNumber: Int64

    private struct Span {
        var start: Int
        var count: Int
        var offset: Int64
        var number: Int64
        var endOffset: Int64
    }

    let descriptor: Descriptor
    let isStandardInput: Bool
    let isRegularFile: Bool
    private var buffer: UnsafeMutableRawBufferPointer
    /// The input offset of `buffer[0]`.
    private var bufferOffset: Int64
    /// Unconsumed data is `buffer[start..<end]`.
    @exclusivity(unchecked) private var start = 0
    @exclusivity(unchecked) private var end = 0
    private var inputEnded = false
    @exclusivity(unchecked) private var batch: [Span] = []

    /// Opens the input, positioned at `offset`.
    ///
    /// - Parameters:
    ///   - path: A file, or `-` for standard input.
    ///   - offset: The byte offset to start at (a line start, such as a checkpoint's); 0 for the
    ///     beginning. Must be 0 for standard input.
    ///   - lineNumber: The number of lines before `offset`.
    ///   - follow: Whether the end of a regular file means "no data yet" (see the type's docs).
    ///   - chunkSize: The size of each `read(2)`; the buffer grows for longer lines.
    /// - Throws: ``EmbeddedError`` naming the input: ``EmbeddedError/Code/notFound``,
    ///   ``EmbeddedError/Code/permissionDenied``, ``EmbeddedError/Code/positionMismatch`` when the
    ///   file is shorter than `offset` or is standard input with an offset.
    public init(
        path: String,
        offset: Int64 = 0,
        lineNumber: Int64 = 0,
        follow: Bool = false,
        chunkSize: Int = 1 << 20
    ) throws(EmbeddedError) {
        precondition(chunkSize > 0 && offset >= 0 && lineNumber >= 0, "invalid LineReader arguments")
        self.path = path
        self.follow = follow
        self.byteOffset = offset
        self.lineNumber = lineNumber
        self.bufferOffset = offset
        if path == "-" {
            isStandardInput = true
            let input = Descriptor(standard: STDIN_FILENO, path: "standard input", role: "input")
            isRegularFile = (try? input.isRegularFile()) ?? false
            descriptor = input
            guard offset == 0 else {
                throw EmbeddedError(
                    .positionMismatch,
                    "cannot resume standard input at byte \(offset): it cannot seek. Give the input as a file path to resume exactly, or delete the state directory to start over",
                    path: path
                )
            }
        } else {
            isStandardInput = false
            let file = try Descriptor(opening: path, flags: O_RDONLY, role: "input")
            isRegularFile = try file.isRegularFile()
            if offset > 0 {
                guard isRegularFile else {
                    throw EmbeddedError(
                        .positionMismatch,
                        "cannot resume the input \(path) at byte \(offset): it is not a regular file and cannot seek",
                        path: path
                    )
                }
                let size = try file.size()
                guard size >= offset else {
                    throw EmbeddedError(
                        .positionMismatch,
                        "the input \(path) holds \(size) bytes but the checkpoint resumes it at byte \(offset): it was replaced or cut since the last run. Restore it, or delete the state directory to start over",
                        path: path
                    )
                }
                try file.seek(to: offset)
            }
            descriptor = file
        }
        buffer = .allocate(byteCount: chunkSize, alignment: 8)
        batch.reserveCapacity(4_096)
    }

    deinit {
        buffer.deallocate()
    }

    /// Ends follow mode: the next end of file ends the input, and a held-back last line without
    /// a newline is handed out.
    public func stopFollowing() {
        follow = false
    }

    /// Finds the next batch of lines: every complete line already buffered (at most `maxLines`),
    /// reading one more chunk only when none is. The previous batch's views become invalid.
    ///
    /// ``byteOffset`` and ``lineNumber`` move past the batch (and past skipped blank lines, also
    /// when the status is ``LineReadStatus/noDataYet``).
    ///
    /// - Throws: ``EmbeddedError`` naming the input, for read errors, or when a followed file
    ///   shrinks below the position (``EmbeddedError/Code/positionMismatch``: truncated or rotated).
    public func nextBatch(maxLines: Int = 4_096) throws(EmbeddedError) -> LineReadStatus {
        precondition(maxLines > 0, "maxLines must be positive")
        batch.removeAll(keepingCapacity: true)
        while true {
            scanCompleteLines(maxLines: maxLines)
            if !batch.isEmpty { return .lines(batch.count) }
            if inputEnded {
                if start < end {
                    take(lineEnd: end, next: end)
                    if !batch.isEmpty { return .lines(1) }
                }
                return .endOfInput
            }
            compactAndGrow()
            let n = try descriptor.readSome(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
            if n > 0 {
                end += n
            } else if n < 0 {
                return .noDataYet
            } else if follow && isRegularFile {
                let size = try descriptor.size()
                if size < bufferOffset + Int64(end) {
                    throw EmbeddedError(
                        .positionMismatch,
                        "the followed input \(path) shrank to \(size) bytes, below the \(bufferOffset + Int64(end)) already read: it was truncated or rotated; restart with the new file and a new state directory",
                        path: path
                    )
                }
                return .noDataYet
            } else {
                inputEnded = true
            }
        }
    }

    /// Calls `body` with each line of the current batch, in order.
    ///
    /// - Parameter body: Receives each ``Line``; its bytes are valid only during the call.
    /// - Throws: Whatever `body` throws (the batch then stays consumed: ``byteOffset`` is already
    ///   past it).
    public func forEachLine<E: Error>(_ body: (Line) throws(E) -> Void) throws(E) {
        let base = UnsafeRawBufferPointer(buffer)
        for span in batch {
            try body(
                Line(
                    bytes: UnsafeRawBufferPointer(rebasing: base[span.start..<span.start + span.count]),
                    offset: span.offset,
                    number: span.number,
                    endOffset: span.endOffset
                )
            )
        }
    }

    /// Appends every complete line in `buffer[start..<end]` to the batch (skipping blank ones).
    private func scanCompleteLines(maxLines: Int) {
        guard let base = buffer.baseAddress else { return }
        while batch.count < maxLines && start < end {
            guard let index = Self.newline(in: UnsafeRawPointer(base), from: start, to: end) else { return }
            take(lineEnd: index, next: index + 1)
        }
    }

    /// The index of the first `\n` in `base[from..<end]`, or `nil`.
    ///
    /// Records are short (about 100 bytes), so the call into `memchr` costs more than the search:
    /// the first 128 bytes are searched sixteen at a time in two 64-bit words (SWAR), and only a
    /// longer line goes on to `memchr`. Never reads outside `base[from..<end]`.
    @inline(__always)
    static func newline(in base: UnsafeRawPointer, from: Int, to end: Int) -> Int? {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let newlines = ones &* 0x0A
        var index = from
        let swarEnd = min(end, from &+ 128)
        while swarEnd &- index >= 16 {
            let low = base.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ newlines
            let high = base.loadUnaligned(fromByteOffset: index &+ 8, as: UInt64.self) ^ newlines
            // The high bit of each zero byte (a newline); only the lowest one is exact, which is the one used.
            let lowMask = (low &- ones) & ~low & highs
            let highMask = (high &- ones) & ~high & highs
            if lowMask | highMask != 0 {
                return lowMask != 0
                    ? index &+ lowMask.trailingZeroBitCount &>> 3
                    : index &+ 8 &+ highMask.trailingZeroBitCount &>> 3
            }
            index &+= 16
        }
        if end &- index < 16 {
            while index < end {
                if base.load(fromByteOffset: index, as: UInt8.self) == UInt8(ascii: "\n") { return index }
                index &+= 1
            }
            return nil
        }
        guard let found = memchr(base + index, Int32(UInt8(ascii: "\n")), end &- index) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// Consumes the line `buffer[start..<lineEnd]`, whose successor starts at `next`.
    @inline(__always)
    private func take(lineEnd: Int, next: Int) {
        var count = lineEnd - start
        if count > 0 && buffer[start + count - 1] == UInt8(ascii: "\r") { count -= 1 }
        lineNumber += 1
        let lineOffset = bufferOffset + Int64(start)
        byteOffset = bufferOffset + Int64(next)
        var blank = true
        for i in start..<start + count {
            let byte = buffer[i]
            if byte != UInt8(ascii: " ") && byte != UInt8(ascii: "\t") && byte != UInt8(ascii: "\r") {
                blank = false
                break
            }
        }
        if !blank {
            batch.append(
                Span(start: start, count: count, offset: lineOffset, number: lineNumber, endOffset: byteOffset))
        }
        start = next
    }

    /// Moves unconsumed bytes to the front; doubles the buffer when a line fills it.
    private func compactAndGrow() {
        if start > 0 {
            let count = end - start
            if count > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: count) }
            bufferOffset += Int64(start)
            start = 0
            end = count
        }
        if end == buffer.count {
            let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 8)
            grown.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[0..<end]))
            buffer.deallocate()
            buffer = grown
        }
    }
}
