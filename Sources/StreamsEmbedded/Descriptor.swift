#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif
internal import CStreamsSystem

/// The thin layer over POSIX file calls that every file type of this module uses: retries on
/// `EINTR`, loops over short writes, and turns `errno` into ``EmbeddedError`` naming the file.
///
/// Not copyable: it owns its descriptor and closes it in `deinit` (or at ``closeFile()``), so an
/// initializer that throws, or an owner that goes away, closes the file without a call. Standard
/// input and output are only borrowed (``init(standard:path:role:)``) and never closed.
struct Descriptor: ~Copyable {
    /// The descriptor; -1 once ``closeFile()`` closed it.
    private(set) var fd: Int32
    let path: String
    /// What the file is for the user ("output file", "changelog"), for messages.
    let role: String
    /// Whether this value closes `fd` (not standard input or output: the process owns those).
    private let owned: Bool

    /// Wraps standard input or output, which is never closed.
    init(standard fd: Int32, path: String, role: String) {
        self.init(fd: fd, path: path, role: role, owned: false)
    }

    private init(fd: Int32, path: String, role: String, owned: Bool) {
        self.fd = fd
        self.path = path
        self.role = role
        self.owned = owned
    }

    deinit {
        if owned && fd >= 0 { _ = close(fd) }
    }

    /// Opens `path` with `flags` (`O_CLOEXEC` is added), creating it with mode 0644 if `O_CREAT`.
    init(opening path: String, flags: Int32, role: String) throws(EmbeddedError) {
        while true {
            let fd = open(path, flags | O_CLOEXEC, 0o644)
            if fd >= 0 {
                self.init(fd: fd, path: path, role: role, owned: true)
                return
            }
            if errno == EINTR { continue }
            throw EmbeddedError.system("open", path, errno: errno, role: role)
        }
    }

    /// Writes all of `bytes`, looping over short writes and `EINTR`.
    ///
    /// `written` holds the number of bytes written, also when it throws (a full disk can accept
    /// part of the buffer).
    func writeAll(_ bytes: UnsafeRawBufferPointer, written: inout Int) throws(EmbeddedError) {
        written = 0
        guard let base = bytes.baseAddress else { return }
        while written < bytes.count {
            let n = write(fd, base + written, bytes.count - written)
            if n > 0 {
                written += n
            } else if n < 0 && errno == EINTR {
                continue
            } else if n == 0 {
                throw EmbeddedError.system("write to", path, errno: EIO, role: role)
            } else {
                throw EmbeddedError.system("write to", path, errno: errno, role: role)
            }
        }
    }

    /// Reads up to `buffer.count` bytes; 0 means end of file, -1 "no data now" on a non-blocking
    /// descriptor.
    /// Writes `buffer` out and removes what was written from it, adding that count to `total`,
    /// also when the write fails part-way (the error is thrown afterwards): the unwritten rest
    /// stays buffered for a retry.
    func writeDraining(_ buffer: inout [UInt8], addingTo total: inout Int64) throws(EmbeddedError) {
        guard !buffer.isEmpty else { return }
        var written = 0
        let result: Result<Void, EmbeddedError> = buffer.withUnsafeBytes { raw in
            do throws(EmbeddedError) {
                try writeAll(raw, written: &written)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        total += Int64(written)
        if written == buffer.count {
            buffer.removeAll(keepingCapacity: true)
        } else {
            buffer.removeFirst(written)
        }
        try result.get()
    }

    func readSome(into buffer: UnsafeMutableRawBufferPointer) throws(EmbeddedError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = read(fd, base, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return -1 }
            throw EmbeddedError.system("read", path, errno: errno, role: role)
        }
    }

    /// Reads up to `buffer.count` bytes at `offset` without moving the file position.
    func readSome(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(EmbeddedError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = pread(fd, base, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw EmbeddedError.system("read", path, errno: errno, role: role)
        }
    }

    /// Makes the file's data and size durable (`fsync`).
    func sync() throws(EmbeddedError) {
        while fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw EmbeddedError.system("fsync", path, errno: errno, role: role)
        }
    }

    /// Asks the kernel to start writing `[offset, offset + length)` to the device now, without
    /// waiting (`sync_file_range(SYNC_FILE_RANGE_WRITE)` on Linux, nothing elsewhere).
    ///
    /// A hint, not durability: the commit's ``sync()`` still makes the data durable, but finds
    /// little left to write, so a commit waits for the device less. Failures are ignored (the
    /// hint does not apply to pipes, and the ``sync()`` reports any real write error).
    func startWriteback(offset: Int64, length: Int) {
        guard length > 0 else { return }
        _ = c_streams_start_writeback(fd, offset, Int64(length))
    }

    /// Cuts or extends the file to `length` bytes.
    func truncate(to length: Int64) throws(EmbeddedError) {
        while ftruncate(fd, off_t(length)) != 0 {
            if errno == EINTR { continue }
            throw EmbeddedError.system("truncate", path, errno: errno, role: role)
        }
    }

    /// Moves the file position to `offset` from the start.
    func seek(to offset: Int64) throws(EmbeddedError) {
        if lseek(fd, off_t(offset), SEEK_SET) < 0 {
            throw EmbeddedError.system("seek in", path, errno: errno, role: role)
        }
    }

    /// The file's status (size, type).
    func status() throws(EmbeddedError) -> stat {
        var info = stat()
        if fstat(fd, &info) != 0 {
            throw EmbeddedError.system("stat", path, errno: errno, role: role)
        }
        return info
    }

    /// The file's size in bytes.
    func size() throws(EmbeddedError) -> Int64 { Int64(try status().st_size) }

    /// Whether the descriptor is a regular file (not a pipe, terminal or socket).
    func isRegularFile() throws(EmbeddedError) -> Bool { (try status().st_mode & S_IFMT) == S_IFREG }

    /// Takes an exclusive `flock(2)` on the file without waiting; the lock lasts until the
    /// descriptor is closed (or the process dies: no stale lock after a kill).
    ///
    /// - Returns: `nil` when the lock was taken; otherwise the pid of the process holding it, as
    ///   far as `/proc/locks` tells (0 when it does not).
    /// - Throws: ``EmbeddedError`` when `flock` fails for another reason than the lock being held.
    func tryLockExclusively() throws(EmbeddedError) -> Int32? {
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK { return Self.flockHolder(of: try status()) ?? 0 }
            throw EmbeddedError.system("lock", path, errno: code, role: role)
        }
        return nil
    }

    /// The pid `/proc/locks` names for a `FLOCK` lock on the file with `info`'s device and inode.
    private static func flockHolder(of info: stat) -> Int32? {
        guard let bytes = try? FileSystemCalls.readAll("/proc/locks", role: "lock table") else { return nil }
        let major = (UInt64(info.st_dev) >> 8) & 0xfff | ((UInt64(info.st_dev) >> 32) & ~0xfff)
        let minor = (UInt64(info.st_dev) & 0xff) | ((UInt64(info.st_dev) >> 12) & ~0xff)
        // Lines read "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF", the device in hex.
        func hex2(_ n: UInt64) -> String {
            let digits = String(n, radix: 16)
            return digits.count < 2 ? "0" + digits : digits
        }
        let wanted = "\(hex2(major)):\(hex2(minor)):\(UInt64(info.st_ino))"
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 6, fields[1] == "FLOCK", fields[5] == wanted else { continue }
            return Int32(fields[4])
        }
        return nil
    }

    /// Closes the file now (once; standard input and output stay open). The descriptor must not
    /// be used afterwards.
    mutating func closeFile() {
        if owned && fd >= 0 { _ = close(fd) }
        fd = -1
    }
}

/// Directory-level operations: durable creation and renames.
enum FileSystemCalls {
    /// The directory part of `path` (`.` when there is none).
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// Makes a directory's entries (created, renamed, removed files) durable.
    static func syncDirectory(_ path: String, role: String) throws(EmbeddedError) {
        let dir = try Descriptor(opening: path, flags: O_RDONLY | O_DIRECTORY, role: role)
        try dir.sync()
    }

    /// Creates `path` and missing parents (mode 0755); an existing directory is fine.
    static func createDirectory(_ path: String, role: String) throws(EmbeddedError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw EmbeddedError.system("create the directory for", path, errno: errno, role: role)
            }
        }
        var info = stat()
        if stat(path, &info) != 0 || (info.st_mode & S_IFMT) != S_IFDIR {
            throw EmbeddedError(.io, "cannot use \(path) as the \(role): it is not a directory", path: path)
        }
    }

    /// Atomically renames `from` to `to` (replacing `to`) and syncs the directory.
    static func renameDurably(_ from: String, to: String, role: String) throws(EmbeddedError) {
        if rename(from, to) != 0 {
            throw EmbeddedError.system("rename \(from) onto", to, errno: errno, role: role)
        }
        try syncDirectory(parent(of: to), role: role)
    }

    /// Removes a file; a missing file is not an error.
    static func remove(_ path: String, role: String) throws(EmbeddedError) {
        if unlink(path) != 0 && errno != ENOENT {
            throw EmbeddedError.system("remove", path, errno: errno, role: role)
        }
    }

    /// Whether something exists at `path`.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// The names in a directory (without `.` and `..`).
    static func contents(of path: String, role: String) throws(EmbeddedError) -> [String] {
        guard let dir = opendir(path) else {
            throw EmbeddedError.system("list", path, errno: errno, role: role)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Reads a whole (small) file.
    static func readAll(_ path: String, role: String) throws(EmbeddedError) -> [UInt8] {
        let file = try Descriptor(opening: path, flags: O_RDONLY, role: role)
        var bytes: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 8)
        defer { chunk.deallocate() }
        while true {
            let n = try file.readSome(into: chunk)
            if n <= 0 { return bytes }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n]))
        }
    }

    /// Writes `bytes` to `path` atomically: a temporary file next to it is written and synced,
    /// renamed over `path`, and the directory is synced. A crash leaves the old or the new file.
    static func writeAtomically(_ bytes: [UInt8], to path: String, role: String) throws(EmbeddedError) {
        let temporary = path + ".tmp"
        var file = try Descriptor(opening: temporary, flags: O_WRONLY | O_CREAT | O_TRUNC, role: role)
        do throws(EmbeddedError) {
            var written = 0
            try withBytes(bytes) { (raw) throws(EmbeddedError) in try file.writeAll(raw, written: &written) }
            try file.sync()
        } catch {
            file.closeFile()
            try? remove(temporary, role: role)
            throw error
        }
        file.closeFile()
        try renameDurably(temporary, to: path, role: role)
    }
}
