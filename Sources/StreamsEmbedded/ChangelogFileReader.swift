#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif
public import StreamsState

/// Reads a changelog file from a byte offset as batches of ``ChangelogEntry``, in large chunks,
/// checking every record's CRC.
///
/// Without a limit it stops cleanly at the first incomplete or damaged record — the torn tail of
/// a writer killed mid-write — and ``validLength`` is where recovery cuts the file. With a limit
/// (the committed length from a checkpoint) everything before the limit must be valid: a damaged
/// record there is committed data lost, and reading throws.
///
/// Kafka Streams counterpart: the restore consumer of a changelog topic.
///
/// - Important: Owned by one thread at a time; not `Sendable`.
package final class ChangelogFileReader {
    /// The file read.
    package let path: String
    /// The file's header.
    package let header: ChangelogHeader
    /// The file's length when it was opened.
    package let fileLength: Int64
    /// The byte offset after the last complete, valid record returned so far (the start offset
    /// before any).
    package private(set) var validLength: Int64
    /// Why reading stopped before the end of the file (an incomplete or damaged record at
    /// ``validLength``), or `nil` while none was met.
    package private(set) var tornTail: String?

    private let descriptor: Descriptor
    private let limit: Int64
    /// Whether a limit was given, so that a bad record before it is an error, not a torn tail.
    private let strict: Bool
    private var buffer: UnsafeMutableRawBufferPointer
    /// Bytes of `buffer` holding file data starting at file offset `validLength`, from `start`.
    private var start = 0
    private var end = 0
    private var atEnd = false

    /// Opens `path` and positions the reader.
    ///
    /// - Parameters:
    ///   - path: A changelog file.
    ///   - offset: Where to start: a record boundary, such as a ``ChangelogFilePosition/offset``; `nil`
    ///     for the first record.
    ///   - limit: Stop at this offset, and require everything before it to be valid; `nil` to read
    ///     to the first torn record or the end of the file.
    ///   - chunkSize: The size of each read (default 1 MiB).
    /// - Throws: ``EmbeddedError`` naming the file: ``EmbeddedError/Code/corrupt`` for a bad header,
    ///   ``EmbeddedError/Code/positionMismatch`` when `offset` or `limit` lie outside the file.
    package init(path: String, from offset: Int64? = nil, upTo limit: Int64? = nil, chunkSize: Int = 1 << 20)
        throws(EmbeddedError)
    {
        precondition(chunkSize >= ChangelogHeader.size, "chunkSize too small")
        let file = try Descriptor(opening: path, flags: O_RDONLY, role: "changelog")
        fileLength = try file.size()
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: ChangelogHeader.size, alignment: 8)
        defer { raw.deallocate() }
        let n = try file.readSome(into: raw, at: 0)
        header = try ChangelogHeader(parsing: UnsafeRawBufferPointer(rebasing: raw[0..<n]), path: path)
        let first = offset ?? Int64(ChangelogHeader.size)
        let last = limit ?? fileLength
        guard first >= Int64(ChangelogHeader.size), first <= last, last <= fileLength else {
            throw EmbeddedError(
                .positionMismatch,
                "cannot read the changelog \(path) from offset \(first) to \(last): the file holds \(fileLength) bytes; the state directory was damaged, delete it to start over",
                path: path
            )
        }
        validLength = first
        self.limit = last
        strict = limit != nil
        self.path = path
        descriptor = file
        buffer = .allocate(byteCount: chunkSize, alignment: 8)
    }

    deinit {
        buffer.deallocate()
    }

    /// The next entries, at most `maxEntries`; empty at the end (see ``tornTail``).
    ///
    /// - Throws: ``EmbeddedError/Code/corrupt`` when a record before the limit given at init is
    ///   damaged or incomplete, and I/O errors, naming the file.
    package func nextBatch(maxEntries: Int = 4_096) throws(EmbeddedError) -> [ChangelogEntry] {
        var batch: [ChangelogEntry] = []
        while batch.count < maxEntries && tornTail == nil {
            if validLength == limit { break }
            let available = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
            let windowEnd = min(available.count, Int(limit - validLength))
            switch ChangelogRecord.decode(UnsafeRawBufferPointer(rebasing: available[0..<windowEnd])) {
            case .entry(let entry, let size):
                batch.append(entry)
                start += size
                validLength += Int64(size)
            case .incomplete(let needed):
                if atEnd || Int64(needed) > limit - validLength {
                    try stop("an incomplete record (\(limit - validLength) of \(needed) bytes)")
                } else {
                    try fill(needed: needed)
                }
            case .invalid(let reason):
                try stop("a damaged record (\(reason))")
            }
        }
        return batch
    }

    /// Applies every remaining entry to `store` with ``WindowStore/restore(from:)``, in batches.
    ///
    /// The caller commits the store afterwards with the position reached.
    ///
    /// - Returns: The number of entries applied.
    /// - Throws: ``EmbeddedError`` from reading, or the store's ``StateStoreError``.
    @discardableResult
    package func restore(into store: some WindowStore, batchSize: Int = 4_096) throws -> Int {
        var count = 0
        while true {
            let batch = try nextBatch(maxEntries: batchSize)
            if batch.isEmpty { return count }
            try store.restore(from: batch)
            count += batch.count
        }
    }

    /// Records a torn tail at `validLength`, or throws if it lies before the limit.
    private func stop(_ reason: String) throws(EmbeddedError) {
        let message = "\(reason) at offset \(validLength)"
        if strict {
            throw EmbeddedError(
                .corrupt,
                "the changelog \(path) has \(message), before its committed length \(limit): committed state was lost (disk damage or an outside edit); delete the state directory to start over",
                path: path
            )
        }
        tornTail = message
    }

    /// Moves unread bytes to the front and reads more, so that at least `needed` are buffered or
    /// the file ends.
    private func fill(needed: Int) throws(EmbeddedError) {
        if start > 0 {
            let count = end - start
            if count > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: count) }
            start = 0
            end = count
        }
        if needed > buffer.count {
            let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: max(needed, buffer.count * 2), alignment: 8)
            grown.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[0..<end]))
            buffer.deallocate()
            buffer = grown
        }
        while end < needed {
            let n = try descriptor.readSome(
                into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]),
                at: validLength + Int64(end)
            )
            if n <= 0 {
                atEnd = true
                return
            }
            end += n
        }
    }
}
