internal import StreamsState
internal import Synchronization

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The claim of an ``LMDBWindowStore`` on its directory: an entry in this process's registry
/// (LMDB forbids opening one environment twice in a process) and an exclusive `flock` on
/// `DIR/store.lock` holding the owner's pid (for other processes). Taken when the store opens,
/// released when it closes (or by this owner's `deinit`); nothing of it is on the record path.
struct StoreDirectoryLock: ~Copyable {
    /// A directory by device and inode, so that two spellings of one path are one directory.
    struct DirectoryID: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
    }

    /// The directories of the stores open in this process.
    static let registry = Mutex<Set<DirectoryID>>([])

    static let fileName = "store.lock"

    let id: DirectoryID
    let descriptor: Int32

    /// Claims `directory` (which exists) for one store.
    ///
    /// - Throws: ``StateStoreError`` with code ``StateStoreError/Code/inUse`` when a store of this
    ///   process or another process has it open, ``StateStoreError/Code/storage`` when the lock
    ///   file cannot be opened.
    init(directory: String) throws(StateStoreError) {
        let id = try Self.identify(directory)
        let inserted = Self.registry.withLock { $0.insert(id).inserted }
        guard inserted else {
            throw StateStoreError(
                .inUse,
                "the store in \(directory) is already open in this process; close it first (LMDB allows one open store per directory and process)"
            )
        }
        let path = directory + "/" + Self.fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let code = errno
            Self.registry.withLock { _ = $0.remove(id) }
            throw StateStoreError(
                .storage, "cannot open the lock file \(path): \(String(cString: strerror(code))); check its permissions"
            )
        }
        guard Self.lock(fd) == 0 else {
            let code = errno
            let holder = Self.holder(fd)
            close(fd)
            Self.registry.withLock { _ = $0.remove(id) }
            guard code == EWOULDBLOCK else {
                throw StateStoreError(
                    .storage,
                    "cannot lock \(path): \(String(cString: strerror(code))); check the file system supports flock")
            }
            let who = holder.map { "process \($0)" } ?? "another process"
            throw StateStoreError(
                .inUse,
                "the store in \(directory) is in use by \(who) (it holds \(path)); stop that process or use another directory"
            )
        }
        // The holder's pid, for the message of a process refused above. Best effort.
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
        self.id = id
        self.descriptor = fd
    }

    /// Keeps the directory claimed until the process exits (the descriptor stays open and the
    /// registry keeps the directory): for a store whose LMDB environment must stay mapped.
    consuming func keepUntilExit() {
        discard self
    }

    deinit {
        // Closing the descriptor releases the flock.
        close(descriptor)
        Self.registry.withLock { _ = $0.remove(id) }
    }

    /// `flock(fd, LOCK_EX | LOCK_NB)`, retried for up to 2 s while the file names this process as
    /// its holder: this process has no store there (the registry says so), so the lock is held by
    /// a child forked meanwhile that inherited an earlier store's descriptor and has not yet
    /// reached `exec` (which closes it: `O_CLOEXEC`).
    static func lock(_ fd: Int32) -> Int32 {
        var attempts = 0
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { return 0 }
            let code = errno
            guard code == EWOULDBLOCK, attempts < 2_000, holder(fd) == getpid() else {
                errno = code
                return -1
            }
            attempts += 1
            usleep(1_000)
        }
    }

    static func identify(_ directory: String) throws(StateStoreError) -> DirectoryID {
        var info = stat()
        guard stat(directory, &info) == 0 else {
            let code = errno
            throw StateStoreError(
                .storage, "cannot read the store directory \(directory): \(String(cString: strerror(code)))")
        }
        return DirectoryID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// The pid written into the lock file by its holder, if readable.
    static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let digits = buffer[..<count].prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        return Int32(String(decoding: digits, as: UTF8.self))
    }
}
