import Foundation
import Testing

/// File helpers for tests.
public enum Files {
    /// The file's bytes (empty if it does not exist).
    public static func read(_ path: String) -> [UInt8] {
        Array(FileManager.default.contents(atPath: path) ?? Data())
    }

    /// The file's contents as UTF-8 text.
    public static func text(_ path: String) -> String {
        String(decoding: read(path), as: UTF8.self)
    }

    /// The file's lines without their newlines (a last line without newline included).
    public static func lines(_ path: String) -> [String] {
        var lines = text(path).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// Creates (or replaces) the file with `bytes`.
    public static func write(_ bytes: [UInt8], to path: String) {
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
    }

    /// Creates (or replaces) the file with `lines`, each followed by a newline.
    public static func write(_ lines: [String], to path: String) {
        write(Array(lines.map { $0 + "\n" }.joined().utf8), to: path)
    }

    /// Appends `bytes` to the file.
    public static func append(_ bytes: [UInt8], to path: String) {
        let handle = FileHandle(forWritingAtPath: path)!
        handle.seekToEndOfFile()
        handle.write(Data(bytes))
        try! handle.close()
    }

    /// Appends `lines`, each followed by a newline.
    public static func append(_ lines: [String], to path: String) {
        append(Array(lines.map { $0 + "\n" }.joined().utf8), to: path)
    }

    /// Whether something exists at `path`.
    public static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// The file's size, or -1 if it does not exist.
    public static func size(_ path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? -1
    }

    /// Bytes of the regular files directly in `directory`.
    public static func directorySize(_ directory: String) -> Int64 {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.reduce(0) { total, name in total + max(0, size(directory + "/" + name)) }
    }

    /// Cuts the file to `length` bytes.
    public static func truncate(_ path: String, to length: Int64) {
        #expect(Foundation.truncate(path, off_t(length)) == 0)
    }
}

/// Runs a program (mount, umount) with its output discarded and returns its exit status.
@discardableResult
public func runTool(_ path: String, _ arguments: [String]) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
}

/// A tmpfs of a given size mounted on a temporary directory, for real `ENOSPC` tests.
public struct SmallFileSystem: Sendable {
    /// The mount point.
    public let directory: TemporaryDirectory

    /// Whether this process may mount a tmpfs (root in a privileged container); probed once.
    public static let isPermitted: Bool = {
        guard let fs = try? SmallFileSystem(size: "64k") else { return false }
        fs.unmount()
        return true
    }()

    /// Mounts a tmpfs of `size` (as `mount -o size=` takes it, e.g. `"256k"`).
    public init(size: String, _ label: String = #function) throws {
        directory = TemporaryDirectory(label)
        guard runTool("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", directory.path]) == 0 else {
            directory.remove()
            throw CocoaError(.fileWriteNoPermission)
        }
    }

    /// The mount point's path.
    public var path: String { directory.path }

    /// Unmounts and removes the mount point.
    public func unmount() {
        runTool("/bin/umount", [directory.path])
        directory.remove()
    }
}
