import Testing

@testable import StreamsState
@testable import StreamsStateLMDB
import StreamsTestSupport

@Suite("Changelogging decorator")
struct ChangeLoggingWindowStoreTests {
    /// Each store kind under the decorator: the in-memory one, and LMDB with its short-key puts
    /// deferred (the default) or written at once.
    enum Kind: CaseIterable, CustomTestStringConvertible {
        case inMemory, lmdb, lmdbUndeferred
        var testDescription: String { "\(self)" }
    }

    private static let configuration = WindowStoreConfiguration(
        name: "logged", retention: .milliseconds(100), segmentInterval: .milliseconds(50))

    private static func open(_ kind: Kind, in dir: TemporaryDirectory) throws -> any WindowStore {
        switch kind {
        case .inMemory: try InMemoryWindowStore(configuration: configuration)
        case .lmdb: try LMDBWindowStore(directory: dir.path, configuration: configuration)
        case .lmdbUndeferred:
            try LMDBWindowStore(directory: dir.path, configuration: configuration, options: .init(maxPendingPuts: 0))
        }
    }

    @Test(
        "only the mutations the store accepted are logged, in order; restore and expiry log nothing",
        arguments: Kind.allCases)
    func logsAcceptedMutations(kind: Kind) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let inner = try Self.open(kind, in: dir)
        let log = InMemoryChangelog()
        let store = inner.loggingChanges(to: log) as! any WindowStore
        let (k1, k2, k3, k4, k5) = (
            [UInt8]("k1".utf8), [UInt8]("k2".utf8), [UInt8](), [UInt8]("k4".utf8), [UInt8]("k5".utf8)
        )

        try store.put(key: k1, timestampMs: 50, value: [1])  // logged
        try store.advanceStreamTime(to: 200)  // live from 101 on; drops segment 0, not logged
        try store.put(key: k2, timestampMs: 100, value: [2])  // expired: a no-op
        try store.put(key: k2, timestampMs: 150, value: [3])  // logged
        #expect(
            try store.insertIfAbsent(key: k2, timestampMs: 160, value: [4], conflictRange: 100...200)
                == .conflict(earliestTimestampMs: 150))
        #expect(try store.insertIfAbsent(key: k3, timestampMs: 170, value: [5], conflictRange: 100...200) == .inserted)
        #expect(try store.insertIfAbsent(key: k4, timestampMs: 90, value: [6], conflictRange: 0...100) == .expired)
        #expect(try store.delete(key: k3, timestampMs: 170))  // a tombstone
        #expect(try !store.delete(key: k3, timestampMs: 170))  // nothing left to delete
        #expect(try !store.delete(key: k5, timestampMs: 180))  // never there
        try store.restore(from: [
            ChangelogEntry(key: k5, timestampMs: 190, value: [7]),
            ChangelogEntry(key: k2, timestampMs: 150, value: nil),
        ])
        try store.commit(metadata: ["m": [1]])

        #expect(
            log.entries == [
                ChangelogEntry(key: k1, timestampMs: 50, value: [1]),
                ChangelogEntry(key: k2, timestampMs: 150, value: [3]),
                ChangelogEntry(key: k3, timestampMs: 170, value: [5]),
                ChangelogEntry(key: k3, timestampMs: 170, value: nil),
            ])
        // The decorator shows the inner store as it is.
        #expect(try inner.allEntries() == [WindowEntry(key: k5, timestampMs: 190, value: [7])])
        #expect(try store.allEntries() == inner.allEntries())
        #expect(store.streamTimeMs == 200 && store.name == "logged" && store.retentionMs == 100)
        #expect(try store.metadata(forKey: "m") == [1])
        try store.close()
    }

    @Test("a failed mutation is not logged", arguments: [Kind.lmdb, .lmdbUndeferred])
    func failedMutationIsNotLogged(kind: Kind) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let inner = try LMDBWindowStore(
            directory: dir.path, configuration: Self.configuration,
            options: .init(maxKeySize: 8, maxPendingPuts: kind == .lmdb ? 1 << 18 : 0))
        let log = InMemoryChangelog()
        let store = ChangeLoggingWindowStore(inner, changelog: log)
        let long = [UInt8](repeating: 1, count: 9)
        #expect(throws: StateStoreError.self) { try store.put(key: long, timestampMs: 1, value: []) }
        #expect(throws: StateStoreError.self) {
            try store.insertIfAbsent(key: long, timestampMs: 1, value: [], conflictRange: 0...1)
        }
        #expect(throws: StateStoreError.self) { try store.delete(key: long, timestampMs: 1) }
        #expect(log.entries.isEmpty)
        try store.close()
    }

    /// A sink that refuses every entry, like a producer whose queue stays full.
    final class FullSink: ChangelogSink {
        func append(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer?)
            throws(StateStoreError)
        {
            throw StateStoreError(.storage, "the changelog producer's queue is full")
        }
    }

    @Test(
        "a changelog that cannot take an entry fails the mutation; aborting leaves the store without it",
        arguments: Kind.allCases)
    func appendFailureFailsTheMutation(kind: Kind) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let inner = try Self.open(kind, in: dir)
        let store = inner.loggingChanges(to: FullSink()) as! any WindowStore
        let key = [UInt8]("k".utf8)
        let error = #expect(throws: StateStoreError.self) {
            try store.insertIfAbsent(key: key, timestampMs: 10, value: [1], conflictRange: 0...20)
        }
        #expect(error?.message.contains("queue is full") == true)
        #expect(throws: StateStoreError.self) { try store.put(key: key, timestampMs: 11, value: [1]) }
        try store.abort()
        #expect(try inner.firstTimestamp(key: key, from: .min, to: .max) == nil, "the store kept an unlogged entry")
    }
}
