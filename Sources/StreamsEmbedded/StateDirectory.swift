#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif
internal import StreamsState
internal import StreamsStateLMDB

/// The state directory of an embedded run (``EmbeddedConfiguration/stateDirectory``; `dedup run
/// --state DIR`), held under an exclusive lock.
///
/// Layout:
///
/// | path | what | lifetime |
/// |---|---|---|
/// | `STATE/lock` | `flock(2)` target, holds the owner's pid | while running |
/// | `STATE/checkpoint.json` | ``Checkpoint``: the commit point | replaced atomically per commit |
/// | `STATE/changelog/` | ``ChangelogFile`` generations | the source of truth for the store |
/// | `STATE/store/` | `dedup run`'s LMDB window store | disposable: rebuilt from the changelog |
/// | `STATE/<applicationId>/0_0/<store>/` | a store of a topology run with ``EmbeddedStreams`` | as `store/` |
///
/// The lock is an `flock` on `STATE/lock`, held by the open descriptor until ``unlock()`` or
/// deinit; the kernel releases it when the process dies, so a killed run never leaves a stale lock.
///
/// - Important: Owned by one thread; not `Sendable`.
public final class StateDirectory {
    /// The state directory.
    public let path: String
    /// The LMDB store's directory, `STATE/store`.
    public var storePath: String { path + "/store" }
    /// The changelog directory, `STATE/changelog`.
    public var changelogPath: String { path + "/changelog" }
    /// The checkpoint file, `STATE/checkpoint.json`.
    public var checkpointPath: String { path + "/checkpoint.json" }
    /// The lock file, `STATE/lock`.
    public var lockPath: String { path + "/lock" }

    private var lock: Descriptor?

    /// Creates the directory (and its `store/` and `changelog/`) if needed and locks it.
    ///
    /// - Parameter path: The state directory.
    /// - Throws: ``EmbeddedError`` naming the directory: ``EmbeddedError/Code/locked`` when
    ///   another process (or another `StateDirectory` in this one) holds it, with that process's
    ///   pid; ``EmbeddedError/Code/permissionDenied`` and others when it cannot be created.
    public init(path: String) throws(EmbeddedError) {
        self.path = path
        try FileSystemCalls.createDirectory(path, role: "state directory")
        let file = try Descriptor(opening: path + "/lock", flags: O_RDWR | O_CREAT, role: "state directory lock")
        while flock(file.fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK {
                let owner =
                    (try? FileSystemCalls.readAll(path + "/lock", role: "state directory lock"))
                    .map { String(decoding: $0, as: UTF8.self).trimmingWhitespace } ?? ""
                let who = owner.isEmpty ? "another process" : "another process (pid \(owner))"
                throw EmbeddedError(
                    .locked,
                    "the state directory \(path) is in use by \(who); stop that process, or use another state directory",
                    path: path
                )
            }
            throw EmbeddedError.system("lock", path + "/lock", errno: code, role: "state directory lock")
        }
        try file.truncate(to: 0)
        var written = 0
        try withBytes(Array("\(getpid())\n".utf8)) { (raw) throws(EmbeddedError) in
            _ = try file.writeAll(raw, written: &written)
        }
        try FileSystemCalls.createDirectory(storePath, role: "store directory")
        try FileSystemCalls.createDirectory(changelogPath, role: "changelog directory")
        lock = consume file
    }

    /// Whether this object still holds the lock.
    public var isLocked: Bool {
        switch lock {
        case .some: true
        case .none: false
        }
    }

    /// Releases the lock (closing its descriptor, as going away does). Later uses of the
    /// directory are unprotected.
    public func unlock() {
        lock = nil
    }

    /// The checkpoint, or `nil` for a fresh start; see ``Checkpoint/load(from:)``.
    ///
    /// Without `checkpoint.json` the directory must hold nothing committed: a run killed before
    /// its first commit leaves a changelog (generation 1, possibly with records of the unfinished
    /// commit) and a store without a committed changelog position, and starts over cleanly. A
    /// store that records a committed changelog position, or a changelog generation after 1
    /// (written only by a compaction after a commit), means the checkpoint was lost: starting
    /// over would mix a fresh start with the old state (every record judged a duplicate of the old
    /// store), so it is refused.
    ///
    /// - Throws: ``EmbeddedError`` naming `checkpoint.json`: ``EmbeddedError/Code/corrupt`` also
    ///   when the checkpoint is missing but the directory holds committed state.
    package func loadCheckpoint() throws(EmbeddedError) -> Checkpoint? {
        if let checkpoint = try Checkpoint.load(from: checkpointPath) { return checkpoint }
        if let evidence = try committedStateWithoutCheckpoint() {
            throw EmbeddedError(
                .corrupt,
                "the checkpoint \(checkpointPath) is missing but the state directory holds committed state (\(evidence)): the checkpoint was lost; restore it from a backup, or delete the state directory \(path) to start over (the outputs are then rewritten from the beginning)",
                path: checkpointPath
            )
        }
        return nil
    }

    /// What shows that something was committed here, or `nil` when nothing was.
    private func committedStateWithoutCheckpoint() throws(EmbeddedError) -> String? {
        if FileSystemCalls.exists(changelogPath) {
            let names = try FileSystemCalls.contents(of: changelogPath, role: "changelog directory")
            if let later = names.compactMap(ChangelogFile.generation(ofFileName:)).filter({ $0 > 1 }).max() {
                return "the changelog has generation \(later), written by a compaction after a commit"
            }
        }
        let metadata: [UInt8]?
        do {
            metadata = try LMDBWindowStore.committedMetadata(
                inDirectory: storePath, forKey: ChangelogFilePosition.metadataKey)
        } catch {
            // An unreadable store is rebuilt from the changelog; it cannot mix into a fresh start.
            return nil
        }
        if let position = metadata.flatMap(ChangelogFilePosition.init(metadataBytes:)) {
            return "the store in \(storePath) reflects changelog position \(position)"
        }
        return nil
    }

    /// Saves `checkpoint` atomically; see ``Checkpoint/save(to:)``.
    ///
    /// - Throws: ``EmbeddedError`` naming `checkpoint.json`.
    package func save(_ checkpoint: Checkpoint) throws(EmbeddedError) {
        precondition(isLocked, "save a checkpoint only while holding the state directory lock")
        try checkpoint.save(to: checkpointPath)
    }

    /// Opens the changelog at the checkpoint's position (or fresh without one); see
    /// ``ChangelogFile/init(directory:committed:)``.
    ///
    /// - Throws: ``EmbeddedError`` naming the changelog file.
    package func openChangelog(committed: ChangelogFilePosition?) throws(EmbeddedError) -> ChangelogFile {
        precondition(isLocked, "open the changelog only while holding the state directory lock")
        return try ChangelogFile(directory: changelogPath, committed: committed)
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(self.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
