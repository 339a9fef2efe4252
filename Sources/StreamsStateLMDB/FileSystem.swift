internal import StreamsState
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

    /// The bytes this process can still write on the file system holding `path` (`statvfs`:
    /// free blocks for root, which may use the reserved ones, available blocks otherwise), or
    /// `nil` when it cannot be asked.
    static func availableBytes(_ path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        let blocks = geteuid() == 0 ? info.f_bfree : info.f_bavail
        return Int64(clamping: UInt64(blocks).multipliedReportingOverflow(by: UInt64(info.f_frsize)).partialValue)
    }

    /// Below this many available bytes a failed write is taken for a full file system: LMDB
    /// reports a short write as `EIO`, and a short write leaves less than its own size free.
    static let nearlyFullBytes: Int64 = 4 << 20

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
