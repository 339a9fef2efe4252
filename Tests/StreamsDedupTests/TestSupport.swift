import StreamsCore
import StreamsDedup
import StreamsState

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
final class TemporaryDirectory {
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

/// A deterministic random number generator (SplitMix64), so failures can be replayed by seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import Testing
