internal import StreamsState
internal import StreamsLMDB
#if canImport(FoundationEssentials)
    internal import FoundationEssentials
#else
    internal import Foundation
#endif
#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The few file-system operations the state layer needs.
enum FileSystem {
    /// Creates `path` and its parents if missing.
    static func createDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// The bytes this process can still write on the file system holding `path`, or `nil`.
    static func availableBytes(_ path: String) -> Int64? { FileSpace.availableBytes(path) }

    /// Below this many available bytes a failed write is taken for a full file system.
    static var nearlyFullBytes: Int64 { FileSpace.nearlyFullBytes }

    /// Whether something exists at `path`.
    static func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path)
    }

    /// Removes the file at `path`; a missing file is not an error.
    static func removeFile(_ path: String) throws {
        if FileManager.default.fileExists(atPath: path) {
            try FileManager.default.removeItem(atPath: path)
        }
    }
}

/// Identifies the running boot of the operating system, to tell a killed process (its unsynced
/// writes survive in the page cache) from a machine restart (they may be lost).
enum SystemBoot {
    /// Linux's `/proc/sys/kernel/random/boot_id`, or `"unknown"` elsewhere.
    static let identifier: String = {
        guard let data = FileManager.default.contents(atPath: "/proc/sys/kernel/random/boot_id") else {
            return "unknown"
        }
        return String(decoding: data.filter { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: " ") }, as: UTF8.self)
    }()
}
