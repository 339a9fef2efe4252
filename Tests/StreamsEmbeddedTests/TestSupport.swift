import Foundation
import Testing
import StreamsTestSupport



/// File helpers for tests.
enum Files {
    static func read(_ path: String) -> [UInt8] {
        Array(FileManager.default.contents(atPath: path) ?? Data())
    }

    static func write(_ bytes: [UInt8], to path: String) {
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
    }

    static func append(_ bytes: [UInt8], to path: String) {
        let handle = FileHandle(forWritingAtPath: path)!
        handle.seekToEndOfFile()
        handle.write(Data(bytes))
        try! handle.close()
    }

    static func size(_ path: String) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? -1
    }

    static func truncate(_ path: String, to length: Int64) {
        #expect(Foundation.truncate(path, off_t(length)) == 0)
    }
}

/// A tmpfs of a given size mounted on a temporary directory, for real `ENOSPC` tests.
struct SmallFileSystem {
    let directory: TemporaryDirectory

    /// Whether this process may mount a tmpfs (root in a privileged container); probed once.
    static let isPermitted: Bool = {
        guard let fs = try? SmallFileSystem(size: "64k") else { return false }
        fs.unmount()
        return true
    }()

    init(size: String, _ label: String = #function) throws {
        directory = TemporaryDirectory(label)
        guard Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", directory.path]) == 0 else {
            directory.remove()
            throw CocoaError(.fileWriteNoPermission)
        }
    }

    var path: String { directory.path }

    func unmount() {
        _ = Self.run("/bin/umount", [directory.path])
        directory.remove()
    }

    private static func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
