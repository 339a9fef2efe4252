import StreamsCore
import StreamsState
import StreamsTestKit
import Testing

/// An engine that delivers its input a little at a time, with a status per partition that the
/// test sets, around an ``InMemoryEngine`` that keeps output, changelogs and commits.
final class TricklingEngine: StreamsEngine {
    let inner = InMemoryEngine()
    /// Records still to deliver per partition, in offset order.
    var pending: [TopicPartition: [Record]] = [:]
    /// How many records of a partition one poll delivers.
    var perPoll = 1
    /// Partitions whose records are all queued: once delivered, they report `.ended`.
    var complete: Set<TopicPartition> = []
    /// A partition that fails once its queued records are delivered.
    var failing: (partition: TopicPartition, error: StreamsError)?
    private(set) var pausedPartitions: Set<TopicPartition> = []
    private(set) var polls = 0
    private var nextOffsets: [TopicPartition: Int64] = [:]

    func enqueue(_ values: [(String, Int64)], to partition: TopicPartition) {
        for (value, timestampMs) in values {
            let offset = nextOffsets[partition, default: 0]
            nextOffsets[partition] = offset + 1
            pending[partition, default: []].append(
                Record(
                    key: nil, value: Array(value.utf8), timestampMs: timestampMs,
                    origin: RecordOrigin(partition: partition, offset: offset)))
        }
    }

    func poll(maxRecords: Int, timeout: Duration) throws(StreamsError) -> [InputBatch] {
        polls += 1
        var batches: [InputBatch] = []
        for (partition, records) in pending.sorted(by: { $0.key.topic < $1.key.topic })
        where !records.isEmpty && !pausedPartitions.contains(partition) {
            let taken = Array(records.prefix(perPoll))
            pending[partition] = Array(records.dropFirst(taken.count))
            batches.append(InputBatch(partition: partition, records: taken))
        }
        return batches
    }

    func status(of partition: TopicPartition) -> InputPartitionStatus {
        if pending[partition]?.isEmpty == false { return .active }
        if let failing, failing.partition == partition { return .failed(failing.error) }
        return complete.contains(partition) ? .ended : .caughtUp
    }

    func pause(_ partitions: [TopicPartition]) { pausedPartitions.formUnion(partitions) }
    func resume(_ partitions: [TopicPartition]) { pausedPartitions.subtract(partitions) }

    func sinkHandle(topic: String, sink: String, task: TaskId) throws(StreamsError) -> SinkHandle {
        try inner.sinkHandle(topic: topic, sink: sink, task: task)
    }
    func send(_ record: Record, to handle: SinkHandle) throws(StreamsError) { try inner.send(record, to: handle) }
    func changelogSink(for changelog: ChangelogID) -> any ChangelogSink { inner.changelogSink(for: changelog) }
    /// Changelog reads that come back empty (timed out) before the real ones.
    var emptyChangelogReads = 0

    func readChangelog(_ changelog: ChangelogID, from position: ChangelogPosition, maxEntries: Int)
        throws(StreamsError) -> ChangelogBatch
    {
        if emptyChangelogReads > 0 {
            emptyChangelogReads -= 1
            return ChangelogBatch(entries: [], nextPosition: position)
        }
        return try inner.readChangelog(changelog, from: position, maxEntries: maxEntries)
    }
    func changelogEnd(_ changelog: ChangelogID) throws(StreamsError) -> ChangelogPosition? {
        try inner.changelogEnd(changelog)
    }
    func commit(_ unit: CommitUnit) throws(StreamsError) -> [ChangelogID: ChangelogPosition] {
        try inner.commit(unit)
    }
    func abort() { inner.abort() }
    func committedStreamTimeMs(for task: TaskId) -> Int64? { inner.committedStreamTimeMs(for: task) }

    var committedValues: [String] {
        (inner.committedOutput["merged"] ?? []).map { String(decoding: $0.record.value, as: UTF8.self) }
    }
}

@Suite("StreamThread: the runtime's loop")
struct StreamThreadTests {
    static let a = TopicPartition(topic: "topic-a")
    static let b = TopicPartition(topic: "topic-b")

    static func thread(
        _ engine: TricklingEngine, maxTaskIdle: Duration = .zero, clock: ManualWallClock = ManualWallClock(startMs: 0)
    ) throws -> StreamThread {
        var topology = Topology()
        topology.addSource("a", topics: "topic-a")
        topology.addSource("b", topics: "topic-b")
        topology.addSink("out", topic: "merged", parents: "a", "b")
        var configuration = StreamsConfiguration(applicationId: "thread-test", commitInterval: .seconds(3600))
        configuration.maxTaskIdle = maxTaskIdle
        let logger = StreamsLogging.disabled(label: "test")
        let task = try StreamTask(
            id: TaskId(partition: 0), topology: topology, configuration: configuration, inputs: [a, b],
            collector: engine, changelogWriter: engine, clock: clock, logger: logger)
        let manager = TaskManager(
            engine: engine, tasks: [task], configuration: configuration, clock: clock, logger: logger)
        return StreamThread(taskManager: manager, configuration: configuration, clock: clock, logger: logger)
    }

    @Test(
        "records arriving a few at a time come out in timestamp order, as if all had been there at once",
        arguments: [1, 2, 3])
    func orderDoesNotDependOnReads(perPoll: Int) throws {
        let engine = TricklingEngine()
        engine.perPoll = perPoll
        let aRecords: [(String, Int64)] = [("a1", 1), ("a4", 4), ("a5", 5), ("a9", 9), ("a10", 10)]
        let bRecords: [(String, Int64)] = [("b2", 2), ("b3", 3), ("b5", 5), ("b6", 6), ("b7", 7), ("b8", 8)]
        engine.enqueue(aRecords, to: Self.a)
        engine.enqueue(bRecords, to: Self.b)
        engine.complete = [Self.a, Self.b]
        let completion = try Self.thread(engine).run()
        #expect(completion == .inputsEnded)
        // The merge of the two partitions by timestamp, ties to the partition listed first.
        let merged = (aRecords.map { ($0.0, $0.1, 0) } + bRecords.map { ($0.0, $0.1, 1) })
            .sorted { ($0.1, $0.2) < ($1.1, $1.2) }.map(\.0)
        #expect(engine.committedValues == merged)
    }

    @Test("a failed partition: the records before its failure are committed, then the thread throws its error")
    func failedPartition() throws {
        let engine = TricklingEngine()
        engine.enqueue([("a1", 1), ("a2", 2), ("a8", 8)], to: Self.a)
        engine.enqueue([("b3", 3), ("b4", 4)], to: Self.b)
        engine.complete = [Self.a]
        engine.failing = (Self.b, StreamsError(.deserialization, "line 3 of b is not JSON"))
        let thread = try Self.thread(engine)
        let error = #expect(throws: StreamsError.self) { try thread.run() }
        #expect(error?.message == "line 3 of b is not JSON")
        // b's failure is at its third record: nothing later than b4 may be processed before it.
        #expect(engine.committedValues == ["a1", "a2", "b3", "b4"])
        #expect(engine.inner.committedOffsets[Self.a] == 1)
    }

    @Test("an active partition with nothing buffered holds the task back; a caught-up one for maxTaskIdle")
    func idlePartitions() throws {
        let clock = ManualWallClock(startMs: 0)
        let engine = TricklingEngine()
        engine.enqueue([("a1", 1), ("a2", 2)], to: Self.a)
        engine.complete = [Self.a]
        let thread = try Self.thread(engine, maxTaskIdle: .seconds(1), clock: clock)
        try thread.taskManager.start()
        // b is caught up (nothing now, more may come): a's records wait for at most a second.
        #expect(try thread.runOnce().processed == 0)
        #expect(try thread.runOnce().processed == 0)
        clock.advance(by: .milliseconds(999))
        #expect(try thread.runOnce().processed == 0)
        clock.advance(by: .milliseconds(1))
        #expect(try thread.runOnce().processed == 1)  // a1 and a2 were read one per poll
        #expect(try thread.runOnce().processed == 1)
        // b delivers now: a record older than stream time is still processed, in arrival order.
        engine.enqueue([("b0", 0)], to: Self.b)
        #expect(try thread.runOnce().processed == 1)
        try thread.taskManager.close()
        #expect(engine.committedValues == ["a1", "a2", "b0"])
    }

    @Test("a stop request commits what was processed and returns; unprocessed records stay uncommitted")
    func stop() throws {
        let engine = TricklingEngine()
        engine.enqueue((0..<100).map { ("a\($0)", Int64($0)) }, to: Self.a)
        engine.complete = [Self.a, Self.b]
        let thread = try Self.thread(engine)
        var iterations = 0
        let completion = try thread.run(shouldStop: { iterations >= 10 }) { _ in iterations += 1 }
        #expect(completion == .stopped)
        #expect(engine.committedValues.count == 10)
        #expect(engine.inner.committedOffsets[Self.a] == 9)
        #expect(engine.pausedPartitions.isEmpty || engine.pausedPartitions == [Self.a])
    }
}

/// Stores every record's value in the "seen" window store.
final class Remember: Processor {
    let store: any WindowStore

    init(context: ProcessorContext) throws {
        guard let store = try context.stateStore(named: "seen") as? any WindowStore else {
            throw StreamsError(.unknownStore, "no window store named seen")
        }
        self.store = store
    }

    func process(_ record: Record) throws {
        try store.put(key: Array(record.value), timestampMs: record.timestampMs, value: [])
    }
}

@Suite("StreamThread: restoring a batch per iteration")
struct IncrementalRestoreTests {
    static func thread(_ engine: TricklingEngine, restoreBatchSize: Int) throws -> StreamThread {
        var topology = Topology()
        topology.addSource("a", topics: "topic-a")
        topology.addStateStore("seen") { _ in
            try InMemoryWindowStore(configuration: WindowStoreConfiguration(name: "seen", retention: .seconds(3600)))
        }
        topology.addProcessor("remember", parents: "a", stores: ["seen"]) { try Remember(context: $0) }
        let configuration = StreamsConfiguration(
            applicationId: "restore-test", commitInterval: .seconds(3600), restoreBatchSize: restoreBatchSize)
        let clock = ManualWallClock(startMs: 0)
        let logger = StreamsLogging.disabled(label: "test")
        let task = try StreamTask(
            id: TaskId(partition: 0), topology: topology, configuration: configuration,
            inputs: [StreamThreadTests.a], collector: engine, changelogWriter: engine, clock: clock, logger: logger)
        let manager = TaskManager(
            engine: engine, tasks: [task], configuration: configuration, clock: clock, logger: logger)
        return StreamThread(taskManager: manager, configuration: configuration, clock: clock, logger: logger)
    }

    @Test("a long restore goes a batch per iteration while polling goes on; the task's partitions stay paused")
    func restoreInterleavesWithPolling() throws {
        let engine = TricklingEngine()
        engine.perPoll = 10
        engine.enqueue((0..<10).map { ("k\($0)", Int64($0)) }, to: StreamThreadTests.a)
        let first = try Self.thread(engine, restoreBatchSize: 1_000)
        try first.processAvailable()
        try first.taskManager.close()
        #expect(engine.inner.committedChangelogs.values.first?.count == 10)

        // A new process: its store starts empty and restores 10 entries, 3 per iteration.
        engine.enqueue([("k10", 10)], to: StreamThreadTests.a)
        let second = try Self.thread(engine, restoreBatchSize: 3)
        let task = second.taskManager.tasks[0]
        let pollsBefore = engine.polls
        for iteration in 1...4 {
            try second.runOnce()
            #expect(task.state == .restoring, "iteration \(iteration)")
            #expect(engine.pausedPartitions.contains(StreamThreadTests.a))
        }
        #expect(engine.polls - pollsBefore == 4, "polling goes on during the restore")
        try second.runOnce()  // the empty batch: caught up, the task starts
        #expect(task.state == .running)
        let store = try #require(task.store(named: "seen") as? any WindowStore)
        #expect(try store.firstTimestamp(key: Array("k9".utf8), from: .min, to: .max) == 9)
        try second.runOnce()
        #expect(try store.firstTimestamp(key: Array("k10".utf8), from: .min, to: .max) == 10)
    }

    @Test("an empty changelog read before the end the engine reported does not end the restore")
    func emptyReadBeforeTheEnd() throws {
        let engine = TricklingEngine()
        engine.perPoll = 10
        engine.enqueue((0..<5).map { ("k\($0)", Int64($0)) }, to: StreamThreadTests.a)
        let first = try Self.thread(engine, restoreBatchSize: 1_000)
        try first.processAvailable()
        try first.taskManager.close()

        engine.emptyChangelogReads = 3  // reads that time out before the entries arrive
        let second = try Self.thread(engine, restoreBatchSize: 1_000)
        let task = second.taskManager.tasks[0]
        for _ in 0..<3 { try second.runOnce() }
        #expect(task.state == .restoring, "an empty read ended the restore before the changelog's end")
        try second.runOnce()  // the entries
        try second.runOnce()  // at the end
        #expect(task.state == .running)
        let store = try #require(task.store(named: "seen") as? any WindowStore)
        #expect(try store.firstTimestamp(key: Array("k4".utf8), from: .min, to: .max) == 4)
    }
}
