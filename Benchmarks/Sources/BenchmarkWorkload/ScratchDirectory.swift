import Foundation
import Synchronization

/// A fresh directory under /tmp, removed by ``remove()``.
///
/// Benchmarks create one per store instance (per iteration for write benchmarks) and remove it in
/// the same iteration or in the benchmark's teardown, so nothing is left behind.
public final class ScratchDirectory: @unchecked Sendable {  // immutable after init
    /// The directory's path.
    public let path: String

    /// Creates `/tmp/swift-dedup-bench-<label>-XXXXXX`.
    public init(_ label: String) {
        var template = Array("/tmp/swift-dedup-bench-\(label)-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!).map { String(cString: $0) } }
        guard let created else { fatalError("mkdtemp failed: \(String(cString: strerror(errno)))") }
        path = created
        Self.created.withLock { $0.append(path) }
    }

    private static let created = Mutex<[String]>([])

    /// Removes every scratch directory this process created and has not removed yet; call it from a
    /// benchmark's teardown.
    public static func removeAll() {
        for path in created.withLock({ paths in defer { paths.removeAll() }; return paths }) {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    /// Allocated bytes of every file in the directory (st_blocks, so sparse files count what they use).
    public var allocatedBytes: Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return 0 }
        var total = 0
        for name in names {
            var info = stat()
            if stat(path + "/" + name, &info) == 0 { total += Int(info.st_blocks) * 512 }
        }
        return total
    }

    /// Removes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
        Self.created.withLock { $0.removeAll { $0 == path } }
    }
}
