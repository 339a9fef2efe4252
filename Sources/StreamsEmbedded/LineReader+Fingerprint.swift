extension LineReader {
    /// The fingerprint of this input's first `offset` bytes (see ``Checkpoint/Input/Fingerprint``),
    /// read with `pread(2)` without moving the reading position; `nil` for standard input and
    /// other inputs that are not regular files (they cannot be re-read).
    ///
    /// Reads at most 2 × ``Checkpoint/Input/Fingerprint/spanBytes`` bytes: call it at startup and
    /// at commits, never per record.
    ///
    /// - Parameter offset: A committed byte offset, at most the file's length.
    /// - Throws: ``EmbeddedError`` naming the input when it cannot be read, or
    ///   ``EmbeddedError/Code/positionMismatch`` when it holds fewer than `offset` bytes.
    func fingerprint(before offset: Int64) throws(EmbeddedError) -> Checkpoint.Input.Fingerprint? {
        guard !isStandardInput && isRegularFile else { return nil }
        let span = Int(min(Int64(Checkpoint.Input.Fingerprint.spanBytes), offset))
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(span, 1), alignment: 8)
        defer { scratch.deallocate() }
        let head = try checksum(of: scratch, count: span, at: 0)
        let tail = offset <= Int64(span) ? head : try checksum(of: scratch, count: span, at: offset - Int64(span))
        return Checkpoint.Input.Fingerprint(headCRC32C: head, tailCRC32C: tail)
    }

    /// The CRC-32C of `count` bytes of the input at `offset`, read into `scratch`.
    private func checksum(of scratch: UnsafeMutableRawBufferPointer, count: Int, at offset: Int64)
        throws(EmbeddedError) -> UInt32
    {
        var filled = 0
        while filled < count {
            let n = try descriptor.readSome(
                into: UnsafeMutableRawBufferPointer(rebasing: scratch[filled..<count]), at: offset + Int64(filled))
            guard n > 0 else {
                throw EmbeddedError(
                    .positionMismatch,
                    "the input \(path) ended at byte \(offset + Int64(filled)), before the committed byte \(offset + Int64(count)): it was replaced or cut since the last commit. Restore it, or delete the state directory to start over",
                    path: path
                )
            }
            filled += n
        }
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: scratch[0..<count]))
    }
}
