#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// An error of the embedded engine's files: a stable code, a message that names the file and says
/// what to do, the path, and the `errno` underneath where there is one.
///
/// Thrown with typed throws (`throws(EmbeddedError)`) by every file type of this module
/// (``OutputFile``, ``ChangelogFile``, ``ChangelogFileReader``, ``Checkpoint``, ``LineReader``,
/// ``StateDirectory``).
public struct EmbeddedError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stable kind of an ``EmbeddedError``; match on it with `catch let e where e.code == …`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name.
        public let name: String
        private init(_ name: String) { self.name = name }

        /// An I/O call failed for a reason not covered by a more specific code; see ``EmbeddedError/errno``.
        public static let io = Code("io")
        /// The file system is full (`ENOSPC`) or the disk quota is exhausted (`EDQUOT`).
        public static let diskFull = Code("diskFull")
        /// The process may not create, open or write the file (`EACCES`, `EPERM`, `EROFS`).
        public static let permissionDenied = Code("permissionDenied")
        /// The file, or the directory it should be created in, does not exist.
        public static let notFound = Code("notFound")
        /// A file's contents are not what this module wrote (bad magic, bad checksum, truncated
        /// committed data, unreadable checkpoint).
        public static let corrupt = Code("corrupt")
        /// The file was written by a newer, unsupported format version.
        public static let unsupportedVersion = Code("unsupportedVersion")
        /// The state directory is locked by another process.
        public static let locked = Code("locked")
        /// A recorded position does not fit the file (for example an input shorter than the
        /// checkpoint's offset), or an operation the file cannot do (seeking standard input).
        public static let positionMismatch = Code("positionMismatch")

        /// The code's name.
        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What went wrong, naming the file, and what to do about it.
    public var message: String
    /// The file or directory concerned.
    public var path: String
    /// The `errno` value underneath, if the failure came from a system call.
    public var errno: Int32?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The stable kind of failure.
    ///   - message: What went wrong and what to do; it should name `path`.
    ///   - path: The file or directory concerned.
    ///   - errno: The system error underneath, if any.
    public init(_ code: Code, _ message: String, path: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.errno = errno
    }

    /// `"<code>: <message>"`.
    public var description: String { "\(code): \(message)" }

    /// Maps a failed system call to an error with an actionable message.
    ///
    /// - Parameters:
    ///   - operation: What was being done, as a verb phrase: "write to", "open", "fsync".
    ///   - path: The file concerned.
    ///   - errno: The `errno` the call set.
    ///   - role: What the file is for the user ("output file", "changelog"), used in the message.
    package static func system(_ operation: String, _ path: String, errno code: Int32, role: String) -> EmbeddedError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOSPC, EDQUOT:
            return EmbeddedError(
                .diskFull,
                "cannot \(operation) the \(role) \(path): \(reason); free space on that file system (or raise the quota) or put the \(role) on another disk, then run again: the last commit is intact and is resumed",
                path: path,
                errno: code
            )
        case EACCES, EPERM, EROFS:
            return EmbeddedError(
                .permissionDenied,
                "cannot \(operation) the \(role) \(path): \(reason); check the permissions of the file and its directory, or choose another path",
                path: path,
                errno: code
            )
        case ENOENT, ENOTDIR:
            return EmbeddedError(
                .notFound,
                "cannot \(operation) the \(role) \(path): \(reason); check the path (its directory must exist)",
                path: path,
                errno: code
            )
        case EISDIR:
            return EmbeddedError(
                .io,
                "cannot \(operation) the \(role) \(path): it is a directory; give a file path",
                path: path,
                errno: code
            )
        default:
            return EmbeddedError(
                .io,
                "cannot \(operation) the \(role) \(path): \(reason) (errno \(code))",
                path: path,
                errno: code
            )
        }
    }
}
