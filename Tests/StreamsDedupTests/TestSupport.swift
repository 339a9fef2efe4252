import StreamsCore
import StreamsDedup
import StreamsState
import StreamsStateLMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The window store implementations every deduplicator test runs with.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case inMemory
    case lmdb

    var testDescription: String { rawValue }

    var factory: WindowStoreFactory {
        switch self {
        case .inMemory: .inMemory
        case .lmdb: .lmdb(options: LMDBWindowStore.Options(initialMapSize: 1 << 20))
        }
    }
}

/// A temporary directory deleted when the value is released.
final class SelfRemovingDirectory {
    let path: String

    init() {
        var template = Array("/tmp/streams-dedup-test-XXXXXX".utf8CString)
        let result = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(result != nil, "mkdtemp failed")
        path = String(cString: result!)
    }

    deinit {
        _ = system("rm -rf '\(path)'")
    }
}

import Testing
