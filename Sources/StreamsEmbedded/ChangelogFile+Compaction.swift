#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif
public import StreamsState

extension ChangelogFile {
    /// Rewrites the store's live entries into the next generation's file, so that the changelog's
    /// size stays proportional to the live keys, and returns that file open for appending.
    ///
    /// The new file is written as `…log.tmp`, synced, renamed into place and the directory synced.
    /// Its header records ``ChangelogHeader/compactedFrom`` = this file's ``position`` and
    /// ``ChangelogHeader/baseLength`` = its length, which is how a store committed at the old
    /// position maps into the new generation (``recovery(forStoreAt:)``).
    ///
    /// Call it at a commit boundary, when the store reflects exactly ``position`` (it is committed
    /// and nothing was appended since), then, in this order:
    /// 1. save a checkpoint with the returned file's ``position`` (the commit point: before it a
    ///    crash reopens the old generation and removes the new file; after it, the new one and
    ///    removes the old);
    /// 2. commit the store with the new position as its metadata;
    /// 3. ``removeOtherGenerations()`` on the new file (or let the next open do it); close this one.
    ///
    /// - Parameter store: The store whose live entries (``WindowStore/forEachEntry(_:)``) are written.
    /// - Returns: The new generation's changelog.
    /// - Precondition: Everything appended to this file was synced.
    /// - Throws: ``EmbeddedError`` naming the new file, or the store's error; this file is then
    ///   unchanged and still current.
    package func compacted(from store: some WindowStore) throws -> ChangelogFile {
        precondition(appendedPosition == position, "compact only at a commit boundary, after sync()")
        let generation = header.generation + 1
        let finalPath = directory + "/" + Self.fileName(generation: generation)
        let temporary = finalPath + ".tmp"
        var file = try Descriptor(opening: temporary, flags: O_WRONLY | O_CREAT | O_TRUNC, role: "changelog")
        do {
            var pending = ChangelogHeader(generation: generation, compactedFrom: position, baseLength: 0).bytes
            var length: Int64 = 0
            func write() throws(EmbeddedError) {
                var written = 0
                try withBytes(pending) { (raw) throws(EmbeddedError) in try file.writeAll(raw, written: &written) }
                length += Int64(pending.count)
                pending.removeAll(keepingCapacity: true)
            }
            try store.forEachEntry { entry in
                entry.key.withUnsafeBytes { key in
                    entry.value.withUnsafeBytes { value in
                        ChangelogRecord.encode(key: key, timestampMs: entry.timestampMs, value: value, into: &pending)
                    }
                }
                if pending.count >= 1 << 20 { try write() }
            }
            try write()
            // The header goes last, once the base length is known.
            let header = ChangelogHeader(generation: generation, compactedFrom: position, baseLength: length).bytes
            try withBytes(header) { (raw) throws(EmbeddedError) in
                if pwrite(file.fd, raw.baseAddress, raw.count, 0) != raw.count {
                    throw EmbeddedError.system("write the header of", temporary, errno: errno, role: "changelog")
                }
            }
            try file.sync()
            file.closeFile()
            try FileSystemCalls.renameDurably(temporary, to: finalPath, role: "changelog")
            return try ChangelogFile(path: finalPath, directory: directory, length: length, expecting: generation)
        } catch {
            file.closeFile()
            try? FileSystemCalls.remove(temporary, role: "changelog")
            throw error
        }
    }

    /// Removes the files of every generation but this one, and syncs the directory.
    ///
    /// - Throws: ``EmbeddedError`` naming the file that could not be removed.
    package func removeOtherGenerations() throws(EmbeddedError) {
        for name in try FileSystemCalls.contents(of: directory, role: "changelog directory") {
            if let generation = Self.generation(ofFileName: name), generation != header.generation {
                try FileSystemCalls.remove(directory + "/" + name, role: "changelog")
            }
        }
        try FileSystemCalls.syncDirectory(directory, role: "changelog directory")
    }
}
