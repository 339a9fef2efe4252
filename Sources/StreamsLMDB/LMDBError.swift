internal import CStreamsLMDB

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// An error from LMDB or from the operating system underneath it, with a stable code, the raw
/// return value and a message that says what to do.
///
/// Every `MDB_*` result code and the `errno` values LMDB returns map to one ``Code``. "Not found"
/// is never an error in this binding: lookups return `nil`.
public struct LMDBError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stable kind of an ``LMDBError``.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// `MDB_KEYEXIST`: the key exists and `noOverwrite` was given.
        case keyExists
        /// `MDB_NOTFOUND`: no such key (only surfaced where absence is not a normal answer).
        case notFound
        /// `MDB_PAGE_NOTFOUND`: a page was not found; the file is damaged.
        case pageNotFound
        /// `MDB_CORRUPTED`: the file is damaged.
        case corrupted
        /// `MDB_PANIC`: a fatal error in the environment; it must be closed.
        case panic
        /// `MDB_VERSION_MISMATCH`: the file was written by an incompatible liblmdb.
        case versionMismatch
        /// `MDB_INVALID`: the file is not an LMDB file.
        case invalid
        /// `MDB_MAP_FULL`: the map size is reached.
        case mapFull
        /// `MDB_DBS_FULL`: too many named databases are open.
        case databasesFull
        /// `MDB_READERS_FULL`: too many readers.
        case readersFull
        /// `MDB_TLS_FULL`: too many thread-local reader slots.
        case threadLocalStorageFull
        /// `MDB_TXN_FULL`: the write transaction holds too many dirty pages.
        case transactionFull
        /// `MDB_CURSOR_FULL`: the cursor stack is too deep.
        case cursorFull
        /// `MDB_PAGE_FULL`: a page has no room.
        case pageFull
        /// `MDB_MAP_RESIZED`: another process grew the map.
        case mapResized
        /// `MDB_INCOMPATIBLE`: the database flags do not match the open call.
        case incompatible
        /// `MDB_BAD_RSLOT`: a reader slot is invalid.
        case badReaderSlot
        /// `MDB_BAD_TXN`: the transaction cannot be used any more (it failed earlier).
        case badTransaction
        /// `MDB_BAD_VALSIZE`: a key or value has an unsupported size.
        case badValueSize
        /// `MDB_BAD_DBI`: the database handle was closed or changed.
        case badDatabase
        /// `ENOENT`: the directory does not exist.
        case noSuchFile
        /// `EACCES` / `EPERM` / `EROFS`: no permission to open or write.
        case permissionDenied
        /// `ENOSPC` / `EDQUOT`: the disk is full.
        case diskFull
        /// `EIO`: an I/O error.
        case ioError
        /// `ENOMEM`: out of memory or address space.
        case outOfMemory
        /// `EINVAL`: an invalid argument (often a map size or flags LMDB rejects).
        case invalidArgument
        /// `EAGAIN` / `EBUSY`: the environment is locked by another process.
        case busy
        /// Any other code; see ``LMDBError/rawValue``.
        case other
    }

    /// What kind of failure this is.
    public let code: Code
    /// The raw return value of the LMDB call (an `MDB_*` code or an `errno`).
    public let rawValue: Int32
    /// What was being done, for example `"mdb_env_open /var/lib/dedup/store"`.
    public let operation: String
    /// The cause and fix where the binding knows better than the code's generic ``hint`` (a
    /// read-only open of a directory without a data file, a full file system), else `nil`.
    public let detail: String?

    /// Creates an error from an LMDB return value.
    package init(rawValue: Int32, operation: String, detail: String? = nil) {
        self.rawValue = rawValue
        self.operation = operation
        self.code = Self.code(for: rawValue)
        self.detail = detail
    }

    /// Creates an error with an explicit code, for conditions the binding detects itself.
    package init(code: Code, operation: String, detail: String? = nil) {
        self.code = code
        self.rawValue = 0
        self.operation = operation
        self.detail = detail
    }

    /// The error of a write to the files in `directory` (a commit, a sync, an open): `ENOSPC` and
    /// `EDQUOT`, and `EIO` while the file system has almost no space left, are
    /// ``Code/diskFull`` naming the directory, its free space and the fix. LMDB turns a write
    /// the file system cut short into `EIO`, so without the free-space check a full disk
    /// would read "Input/output error".
    package init(writing rawValue: Int32, operation: String, directory: String) {
        var code = Self.code(for: rawValue)
        var detail: String?
        if code == .diskFull || code == .ioError {
            let available = FileSpace.availableBytes(directory)
            var shortWrite = false
            if code == .ioError, let available, available < FileSpace.nearlyFullBytes {
                code = .diskFull
                shortWrite = true
            }
            if code == .diskFull {
                let free = available.map { "\($0) bytes free" } ?? "free space unknown"
                detail =
                    "the file system is full (\(directory): \(free)\(shortWrite ? "; LMDB reports a write it cut short as an I/O error" : "")); free space there, or move the store to a larger disk, and retry"
            }
        }
        self.code = code
        self.rawValue = rawValue
        self.operation = operation
        self.detail = detail
    }

    private static func code(for rc: Int32) -> Code {
        switch rc {
        case MDB_KEYEXIST: return .keyExists
        case MDB_NOTFOUND: return .notFound
        case MDB_PAGE_NOTFOUND: return .pageNotFound
        case MDB_CORRUPTED: return .corrupted
        case MDB_PANIC: return .panic
        case MDB_VERSION_MISMATCH: return .versionMismatch
        case MDB_INVALID: return .invalid
        case MDB_MAP_FULL: return .mapFull
        case MDB_DBS_FULL: return .databasesFull
        case MDB_READERS_FULL: return .readersFull
        case MDB_TLS_FULL: return .threadLocalStorageFull
        case MDB_TXN_FULL: return .transactionFull
        case MDB_CURSOR_FULL: return .cursorFull
        case MDB_PAGE_FULL: return .pageFull
        case MDB_MAP_RESIZED: return .mapResized
        case MDB_INCOMPATIBLE: return .incompatible
        case MDB_BAD_RSLOT: return .badReaderSlot
        case MDB_BAD_TXN: return .badTransaction
        case MDB_BAD_VALSIZE: return .badValueSize
        case MDB_BAD_DBI: return .badDatabase
        case ENOENT: return .noSuchFile
        case EACCES, EPERM, EROFS: return .permissionDenied
        case ENOSPC, EDQUOT: return .diskFull
        case EIO: return .ioError
        case ENOMEM: return .outOfMemory
        case EINVAL: return .invalidArgument
        case EAGAIN, EBUSY: return .busy
        default: return .other
        }
    }

    /// What the user can do about this error: ``detail`` if there is one, else the code's
    /// generic advice.
    public var hint: String {
        if let detail { return detail }
        switch code {
        case .keyExists: return "the key already exists"
        case .notFound: return "the key or database does not exist"
        case .pageNotFound, .corrupted, .invalid:
            return
                "the store file is damaged or not an LMDB file; delete the store directory and rebuild it from its changelog"
        case .panic:
            return "LMDB hit a fatal error; close and reopen the store (rebuild it from its changelog if this repeats)"
        case .versionMismatch:
            return "the store was written by an incompatible liblmdb version; rebuild it from its changelog"
        case .mapFull:
            return "the store reached its maximum map size; raise the maximum map size or shorten the retention"
        case .databasesFull:
            return "too many named databases are open; raise maxDatabases or use a larger segment interval"
        case .readersFull: return "too many concurrent readers; raise maxReaders or close idle readers"
        case .threadLocalStorageFull: return "too many threads hold readers; open the environment with noTLS"
        case .transactionFull: return "the write transaction is too large; commit more often"
        case .cursorFull, .pageFull: return "an internal LMDB limit was hit; report this with the store's files"
        case .mapResized: return "another process grew the map; reopen the store"
        case .incompatible: return "the database was created with other flags; use the same flags or rebuild the store"
        case .badReaderSlot, .badTransaction:
            return "the transaction failed earlier and cannot be used; abort it and retry"
        case .badValueSize: return "a key is empty or longer than 511 bytes, or a value is too large"
        case .badDatabase: return "the database handle is stale; reopen the store"
        case .noSuchFile: return "the directory does not exist; create it first"
        case .permissionDenied: return "no permission; check the owner and mode of the store directory"
        case .diskFull: return "the file system is full; free space on it or move the store to a larger disk"
        case .ioError: return "the disk reported an I/O error; check the device"
        case .outOfMemory: return "out of memory or address space; lower the map size"
        case .invalidArgument: return "LMDB rejected an argument (map size, flags or path)"
        case .busy: return "the store is locked by another process; stop it first"
        case .other: return "unexpected error"
        }
    }

    /// A one-line message: the operation, LMDB's own text and the hint.
    public var description: String {
        let text = rawValue == 0 ? code.rawValue : String(cString: mdb_strerror(rawValue))
        return "\(operation): \(text) [\(code.rawValue)]; \(hint)"
    }
}

/// Throws an ``LMDBError`` unless `rc` is `MDB_SUCCESS`.
@inline(__always)
func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(LMDBError) {
    if rc != 0 { throw LMDBError(rawValue: rc, operation: operation()) }
}

/// Throws an ``LMDBError`` unless `rc` is `MDB_SUCCESS`, for a call that writes to the files in
/// `directory`: see ``LMDBError/init(writing:operation:directory:)``.
@inline(__always)
func checkWrite(_ rc: Int32, _ operation: @autoclosure () -> String, directory: String) throws(LMDBError) {
    if rc != 0 { throw LMDBError(writing: rc, operation: operation(), directory: directory) }
}

/// The free space of a file system, for telling a full disk from other I/O errors.
package enum FileSpace {
    /// The bytes this process can still write on the file system holding `path` (`statvfs`:
    /// free blocks for root, which may use the reserved ones, available blocks otherwise), or
    /// `nil` when it cannot be asked.
    package static func availableBytes(_ path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        let blocks = geteuid() == 0 ? UInt64(info.f_bfree) : UInt64(info.f_bavail)
        return Int64(clamping: blocks.multipliedReportingOverflow(by: UInt64(info.f_frsize)).partialValue)
    }

    /// Below this many available bytes a failed write is taken for a full file system: LMDB
    /// reports a short write as `EIO`, and a short write leaves less than its own size free.
    package static let nearlyFullBytes: Int64 = 4 << 20
}
