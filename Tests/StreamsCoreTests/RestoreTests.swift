import Synchronization
import Testing
import StreamsCore
import StreamsState
import StreamsStateLMDB
import StreamsTestKit

/// A window store that delegates to another and can be told to fail its next commit, to stop a
/// task exactly between the engine's commit and the store's.
final class FlakyWindowStore: WindowStore {
    let inner: any WindowStore
    let failCommit: Atomic<Bool>

    init(_ inner: any WindowStore, failCommit: Bool) {
        self.inner = inner
        self.failCommit = Atomic(failCommit)
    }

    var name: String { inner.name }
    var retentionMs: Int64 { inner.retentionMs }
    var streamTimeMs: Int64 { inner.streamTimeMs }
    var approximateEntryCount: Int { get throws(StateStoreError) { try inner.approximateEntryCount } }
    func approximateEntryCount(key: UnsafeRawBufferPointer) throws(StateStoreError) -> Int {
        try inner.approximateEntryCount(key: key)
    }

    func commit(metadata: [String: [UInt8]]) throws(StateStoreError) {
        if failCommit.load(ordering: .relaxed) {
            try inner.abort()
            throw StateStoreError(.storage, "injected commit failure")
        }
        try inner.commit(metadata: metadata)
    }
    func abort() throws(StateStoreError) { try inner.abort() }
    func metadata(forKey key: String) throws(StateStoreError) -> [UInt8]? { try inner.metadata(forKey: key) }
    func close() throws(StateStoreError) { try inner.close() }
    func put(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer) throws(StateStoreError) {
        try inner.put(key: key, timestampMs: timestampMs, value: value)
    }
    func insertIfAbsent(
        key: UnsafeRawBufferPointer,
        timestampMs: Int64,
        value: UnsafeRawBufferPointer,
        conflictRange: ClosedRange<Int64>
    ) throws(StateStoreError) -> InsertOutcome {
        try inner.insertIfAbsent(key: key, timestampMs: timestampMs, value: value, conflictRange: conflictRange)
    }
    func firstTimestamp(key: UnsafeRawBufferPointer, from fromMs: Int64, to toMs: Int64) throws(StateStoreError)
        -> Int64?
    {
        try inner.firstTimestamp(key: key, from: fromMs, to: toMs)
    }

    func fetch(key: UnsafeRawBufferPointer, from fromMs: Int64, to toMs: Int64) throws(StateStoreError) -> [WindowEntry]
    {
        try inner.fetch(key: key, from: fromMs, to: toMs)
    }
    func forEachEntry(_ body: (WindowEntry) throws -> Void) throws { try inner.forEachEntry(body) }
    func delete(key: UnsafeRawBufferPointer, timestampMs: Int64) throws(StateStoreError) -> Bool {
        try inner.delete(key: key, timestampMs: timestampMs)
    }
    func advanceStreamTime(to timestampMs: Int64) throws(StateStoreError) {
        try inner.advanceStreamTime(to: timestampMs)
    }
    func restore(from entries: [ChangelogEntry]) throws(StateStoreError) {
        try inner.restore(from: entries)
    }
}

/// Stores each record's value as a key at the record's time, and forwards it.
private final class Recorder: Processor {
    let context: ProcessorContext
    let store: any WindowStore

    init(context: ProcessorContext) throws {
        self.context = context
        store = try context.windowStore(named: "seen")
    }

    func process(_ record: Record) throws {
        try store.put(key: Array(record.value), timestampMs: record.timestampMs, value: [1])
        try store.advanceStreamTime(to: record.timestampMs)
        try context.forward(record)
    }
}

@Suite("Commit order and restore")
struct RestoreTests {
    private func topology(failCommit: Bool) -> Topology {
        var topology = Topology()
        topology.addSource("in", topics: "input")
        topology.addProcessor("recorder", parents: "in", stores: ["seen"]) { try Recorder(context: $0) }
        topology.addStateStore("seen") { context in
            let store = try LMDBWindowStore(
                directory: context.directory,
                configuration: WindowStoreConfiguration(name: "seen", retention: .seconds(3600))
            )
            return FlakyWindowStore(store, failCommit: failCommit)
        }
        topology.addSink("out", topic: "output", parents: "recorder")
        return topology
    }

    @Test func crashBetweenEngineAndStoreCommitLeavesStoreBehindAndRestoreCatchesUp() throws {
        let directory = makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        var configuration = StreamsConfiguration(applicationId: "restore", stateDirectory: directory)
        configuration.storeCommitInterval = .zero  // the store commits at every commit
        let engine = InMemoryEngine()
        let changelog = ChangelogID(taskId: TaskId(partition: 0), storeName: "seen")

        do {
            let driver = try TopologyTestDriver(
                topology(failCommit: false), configuration: configuration, engine: engine)
            try driver.inputTopic("input").pipeInput("a", timestampMs: 1_000)
            try driver.close()
        }
        #expect(engine.committedChangelogs[changelog]?.count == 1)

        do {
            // The engine's commit succeeds (output, changelog, offsets durable); the store's fails.
            let driver = try TopologyTestDriver(
                topology(failCommit: false), configuration: configuration, engine: engine)
            // The task wraps a changelogged store; the factory's store is the decorator's inner one.
            let flaky = try #require(
                (driver.stateStore(named: "seen") as? ChangeLoggingWindowStore<FlakyWindowStore>)?.inner)
            flaky.failCommit.store(true, ordering: .relaxed)
            let error = try #require(throws: StreamsError.self) {
                try driver.inputTopic("input").pipeInput("b", timestampMs: 2_000)
            }
            #expect(error.code == .stateStore)
        }
        #expect(engine.committedChangelogs[changelog]?.count == 2)
        #expect(
            engine.committedOutput["output"]?.map { String(decoding: $0.record.value, as: UTF8.self) } == ["a", "b"])

        // Reopen the LMDB files directly: the store is behind (it only has "a", position 1).
        do {
            let store = try LMDBWindowStore(
                directory: "\(directory)/restore/0_0/seen",
                configuration: WindowStoreConfiguration(name: "seen", retention: .seconds(3600))
            )
            #expect(try store.allEntries().map(\.key) == [Array("a".utf8)])
            #expect(try store.metadata(forKey: ChangelogPosition.metadataKey) == ChangelogPosition(1).metadata)
            try store.close()
        }

        // Restart: restore replays entry 1 ("b") and records position 2; then processing resumes.
        let driver = try TopologyTestDriver(topology(failCommit: false), configuration: configuration, engine: engine)
        let store = try #require(driver.windowStore(named: "seen"))
        #expect(
            try store.allEntries().map(\.key).sorted { $0.lexicographicallyPrecedes($1) } == [
                Array("a".utf8), Array("b".utf8),
            ])
        #expect(try store.metadata(forKey: ChangelogPosition.metadataKey) == ChangelogPosition(2).metadata)
        #expect(store.streamTimeMs == 2_000)
        #expect(driver.streamTimeMs == 2_000)  // committed stream time resumes
        try driver.inputTopic("input").pipeInput("c", timestampMs: 3_000)
        #expect(try store.metadata(forKey: ChangelogPosition.metadataKey) == ChangelogPosition(3).metadata)
        try driver.close()
    }

    @Test("stores commit once per storeCommitInterval and when closed; in between they lag, and a restart catches up")
    func storesCommitLessOften() throws {
        let directory = makeTemporaryDirectory()
        defer { removeDirectory(directory) }
        var configuration = StreamsConfiguration(applicationId: "restore", stateDirectory: directory)
        configuration.storeCommitInterval = .seconds(3_600)
        let engine = InMemoryEngine()
        let changelog = ChangelogID(taskId: TaskId(partition: 0), storeName: "seen")
        let seen = WindowStoreConfiguration(name: "seen", retention: .seconds(3600))
        func keys(_ store: some WindowStore) throws -> [String] {
            try store.allEntries().map { String(decoding: $0.key, as: UTF8.self) }.sorted()
        }

        do {
            let driver = try TopologyTestDriver(
                topology(failCommit: false), configuration: configuration, engine: engine)
            try driver.inputTopic("input").pipeInput("a", timestampMs: 1_000)
            try driver.inputTopic("input").pipeInput("b", timestampMs: 2_000)
            // Dropped without close: a crash after two engine commits and no store commit.
        }
        #expect(engine.committedChangelogs[changelog]?.count == 2)
        #expect(engine.committedOffsets[TopicPartition(topic: "input")] == 1)
        do {
            let store = try LMDBWindowStore(directory: "\(directory)/restore/0_0/seen", configuration: seen)
            #expect(try keys(store) == [], "the store committed before its interval")
            #expect(try store.metadata(forKey: ChangelogPosition.metadataKey) == nil)
            try store.close()
        }

        engine.restartAfterCrash()
        let driver = try TopologyTestDriver(topology(failCommit: false), configuration: configuration, engine: engine)
        let store = try #require(driver.windowStore(named: "seen"))
        #expect(try keys(store) == ["a", "b"])  // restored from the changelog
        #expect(try store.metadata(forKey: ChangelogPosition.metadataKey) == ChangelogPosition(2).metadata)
        try driver.inputTopic("input").pipeInput("c", timestampMs: 3_000)
        #expect(try store.metadata(forKey: ChangelogPosition.metadataKey) == ChangelogPosition(2).metadata)
        // The interval passes: the commit that follows (the driver's, on the wall clock) commits the store.
        try driver.advanceWallClockTime(by: .seconds(3_600))
        #expect(try store.metadata(forKey: ChangelogPosition.metadataKey) == ChangelogPosition(3).metadata)
        try driver.inputTopic("input").pipeInput("d", timestampMs: 4_000)
        try driver.inputTopic("input").pipeInput("e", timestampMs: 5_000)
        #expect(try store.metadata(forKey: ChangelogPosition.metadataKey) == ChangelogPosition(3).metadata)
        try driver.close()  // commits the store whatever the interval
        let reopened = try LMDBWindowStore(directory: "\(directory)/restore/0_0/seen", configuration: seen)
        #expect(try keys(reopened) == ["a", "b", "c", "d", "e"])
        #expect(try reopened.metadata(forKey: ChangelogPosition.metadataKey) == ChangelogPosition(5).metadata)
        try reopened.close()
    }

    @Test func inMemoryStoreIsRebuiltFromTheWholeChangelog() throws {
        let engine = InMemoryEngine()
        func topology() -> Topology {
            var topology = Topology()
            topology.addSource("in", topics: "input")
            topology.addProcessor("recorder", parents: "in", stores: ["seen"]) { try Recorder(context: $0) }
            topology.addStateStore("seen") { _ in
                try InMemoryWindowStore(configuration: WindowStoreConfiguration(name: "seen", retention: .seconds(10)))
            }
            return topology
        }
        do {
            let driver = try TopologyTestDriver(topology(), engine: engine)
            try driver.inputTopic("input").pipeRecords(
                (0..<25).map { TestRecord(key: nil, value: "k\($0)", timestampMs: Int64($0) * 1_000) }
            )
            try driver.close()
        }
        // A restore batch size smaller than the changelog exercises several batches.
        let configuration = StreamsConfiguration(applicationId: "test-driver", restoreBatchSize: 7)
        let driver = try TopologyTestDriver(topology(), configuration: configuration, engine: engine)
        let store = try #require(driver.windowStore(named: "seen"))
        // Retention 10 s at stream time 24 s: entries 15…24 are live.
        #expect(try store.allEntries().map(\.timestampMs).sorted() == (15...24).map { Int64($0) * 1_000 })
        #expect(store.streamTimeMs == 24_000)
    }
}
