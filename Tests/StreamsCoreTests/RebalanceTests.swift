import StreamsCore
import Foundation
import StreamsState
import StreamsStateLMDB
import StreamsTestKit
import Testing

/// Fails with a per-task error on chosen values, to act out a fenced or corrupted task.
final class TaskErrorProcessor: Processor {
    let context: ProcessorContext
    let failOn: [String: StreamsError.Code]
    /// Whether the error comes out of a store, as the Kafka engine's does when a changelog write
    /// finds the task's producer fenced: a ``StateStoreError`` with the engine's error underneath.
    let throughStore: Bool

    init(context: ProcessorContext, failOn: [String: StreamsError.Code], throughStore: Bool = false) {
        self.context = context
        self.failOn = failOn
        self.throughStore = throughStore
    }

    func process(_ record: Record) throws {
        let value = String(decoding: record.value, as: UTF8.self)
        if let code = failOn[value] {
            let error = StreamsError(code, "task-scoped failure on \(value)", taskId: context.taskId)
            if throughStore {
                throw StateStoreError(.storage, "cannot write the changelog: \(error)", underlying: error)
            }
            throw error
        }
        try context.forward(record)
    }
}

@Suite("TaskManager: tasks from assignments, revocation, loss and task-scoped errors")
struct RebalanceTests {
    static func partition(_ p: Int32) -> TopicPartition { TopicPartition(topic: "orders", partition: p) }

    struct Setup {
        let engine = InMemoryEngine()
        let manager: TaskManager
        let thread: StreamThread

        init(failOn: [String: StreamsError.Code] = [:], throughStore: Bool = false) {
            var topology = Topology()
            topology.addSource("in", topics: "orders")
            topology.addProcessor("p", parents: "in") {
                TaskErrorProcessor(context: $0, failOn: failOn, throughStore: throughStore)
            }
            topology.addSink("out", topic: "out", parents: "p")
            let configuration = StreamsConfiguration(applicationId: "rebalance", commitInterval: .seconds(3600))
            let clock = ManualWallClock(startMs: 0)
            let logger = StreamsLogging.disabled(label: "test")
            manager = TaskManager(
                engine: engine, topology: topology, configuration: configuration, clock: clock, logger: logger)
            thread = StreamThread(taskManager: manager, configuration: configuration, clock: clock, logger: logger)
        }

        func enqueue(_ values: [String], to p: Int32) {
            engine.enqueue(
                values.enumerated().map { Record(key: nil, value: Array($1.utf8), timestampMs: Int64($0)) },
                to: RebalanceTests.partition(p))
        }

        var committed: [String] {
            (engine.committedOutput["out"] ?? []).map { String(decoding: $0.record.value, as: UTF8.self) }
        }
    }

    @Test("assigned partitions become tasks <subtopology>_<partition>; a revoked task commits and closes clean")
    func assignAndRevoke() throws {
        let setup = Setup()
        setup.engine.assign([Self.partition(0), Self.partition(1)])
        setup.enqueue(["a0", "a1"], to: 0)
        setup.enqueue(["b0", "b1"], to: 1)
        try setup.thread.processAvailable()
        #expect(setup.manager.tasks.map(\.id).sorted() == [TaskId(partition: 0), TaskId(partition: 1)])
        #expect(setup.committed.isEmpty)

        setup.engine.revoke([Self.partition(1)])
        setup.enqueue(["b2"], to: 1)  // polled in the same poll as the revocation: dropped, not processed
        try setup.thread.processAvailable()
        #expect(setup.manager.tasks.map(\.id) == [TaskId(partition: 0)])
        #expect(setup.committed == ["b0", "b1"], "the revocation committed the revoked task's processed records")
        #expect(setup.engine.committedOffsets[Self.partition(1)] == 1)
        try setup.manager.commit()
        #expect(setup.committed == ["b0", "b1", "a0", "a1"])
    }

    @Test("a lost task closes dirty: none of its uncommitted output becomes visible, the other task's does")
    func lose() throws {
        let setup = Setup()
        setup.engine.assign([Self.partition(0), Self.partition(1)])
        setup.enqueue(["a0"], to: 0)
        setup.enqueue(["b0"], to: 1)
        try setup.thread.processAvailable()
        setup.engine.lose([Self.partition(1)])
        try setup.thread.processAvailable()
        try setup.manager.commit()
        #expect(setup.committed == ["a0"])
        #expect(setup.engine.committedOffsets[Self.partition(1)] == nil)
        #expect(setup.manager.tasks.map(\.id) == [TaskId(partition: 0)])
    }

    @Test(
        "a fenced task closes dirty alone, also when its error comes out of a store (its changelog write); the thread and the other tasks go on",
        arguments: [false, true])
    func fenced(throughStore: Bool) throws {
        let setup = Setup(failOn: ["zombie": .fenced, "broken": .engine], throughStore: throughStore)
        setup.engine.assign([Self.partition(0), Self.partition(1)])
        setup.enqueue(["a0", "a1"], to: 0)
        setup.enqueue(["b0", "zombie", "b2"], to: 1)
        for _ in 0..<5 { try setup.thread.runOnce() }
        #expect(!setup.manager.isFailed)
        #expect(setup.manager.tasks.map(\.id) == [TaskId(partition: 0)])
        try setup.manager.commit()
        #expect(setup.committed == ["a0", "a1"], "b0 was uncommitted output of the fenced task")
        guard throughStore else { return }

        // The engine's own error underneath a store (a task that cannot commit stopping the Kafka
        // engine) stops every task, and reaches the caller as the engine wrote it.
        setup.enqueue(["broken"], to: 0)
        let error = #expect(throws: StreamsError.self) { try setup.thread.processAvailable() }
        #expect(error?.code == .engine)
        #expect(error?.message == "task-scoped failure on broken", "\(String(describing: error))")
        #expect(setup.manager.isFailed)
    }

    @Test("any other failure still stops every task")
    func otherFailure() throws {
        let setup = Setup(failOn: ["boom": .engine])
        setup.engine.assign([Self.partition(0), Self.partition(1)])
        setup.enqueue(["a0"], to: 0)
        setup.enqueue(["boom"], to: 1)
        #expect(throws: StreamsError.self) { try setup.thread.processAvailable() }
        #expect(setup.manager.isFailed)
    }

    /// Stores every value it sees in the "seen" LMDB store; fails with `taskCorrupted` on "corrupt".
    final class Remember: Processor {
        let context: ProcessorContext
        let store: any WindowStore

        init(context: ProcessorContext) throws {
            self.context = context
            store = try context.windowStore(named: "seen")
        }

        func process(_ record: Record) throws {
            if String(decoding: record.value, as: UTF8.self) == "corrupt" {
                throw StreamsError(.taskCorrupted, "the store is out of range", taskId: context.taskId)
            }
            try store.put(key: Array(record.value), timestampMs: record.timestampMs, value: [1])
        }
    }

    /// orders → `remember`, which puts each value in the LMDB window store `seen` (changelogged).
    static func rememberTopology() -> Topology {
        var topology = Topology()
        topology.addSource("in", topics: "orders")
        topology.addStateStore("seen", connectedTo: ["remember"]) { context in
            try LMDBWindowStore(
                directory: context.directory,
                configuration: WindowStoreConfiguration(name: "seen", retention: .seconds(3600)))
        }
        topology.addProcessor("remember", parents: "in", stores: ["seen"]) { try Remember(context: $0) }
        return topology
    }

    @Test("a corrupted task closes dirty, its state directory is wiped, and it is rebuilt from its changelog")
    func corruptedTaskIsWipedAndRestored() throws {
        let stateDirectory = makeTemporaryDirectory()
        defer { removeDirectory(stateDirectory) }
        let topology = Self.rememberTopology()
        let configuration = StreamsConfiguration(
            applicationId: "corrupt", commitInterval: .seconds(3600), stateDirectory: stateDirectory)
        let engine = InMemoryEngine()
        let clock = ManualWallClock(startMs: 0)
        let logger = StreamsLogging.disabled(label: "test")
        let manager = TaskManager(
            engine: engine, topology: topology, configuration: configuration, clock: clock, logger: logger)
        let thread = StreamThread(taskManager: manager, configuration: configuration, clock: clock, logger: logger)
        func values(_ list: [String], from start: Int64) -> [Record] {
            list.enumerated().map { Record(key: nil, value: Array($1.utf8), timestampMs: start + Int64($0)) }
        }

        engine.assign([Self.partition(0)])
        engine.enqueue(values(["k1", "k2"], from: 1), to: Self.partition(0))
        try thread.processAvailable()
        try manager.commit()
        // A file the wipe must take with it: the task's directory holds only its stores' files.
        let taskDirectory = "\(stateDirectory)/corrupt/0_0"
        let marker = taskDirectory + "/seen/left-behind"
        #expect(FileManager.default.createFile(atPath: marker, contents: Data([1])))

        engine.enqueue(values(["k3", "corrupt"], from: 3), to: Self.partition(0))
        for _ in 0..<6 { try thread.runOnce() }
        #expect(!manager.isFailed)
        #expect(!FileManager.default.fileExists(atPath: marker), "the corrupted task's directory was not wiped")
        let task = try #require(manager.tasks.first { $0.id == TaskId(partition: 0) }, "the task was not created again")
        #expect(task.state == .running)
        let store = try #require(task.store(named: "seen") as? any WindowStore)
        // Rebuilt from the changelog: the committed k1 and k2, not k3 (processed, never committed).
        #expect(try store.fetch(key: Array("k1".utf8), from: .min, to: .max).count == 1)
        #expect(try store.fetch(key: Array("k2".utf8), from: .min, to: .max).count == 1)
        #expect(try store.fetch(key: Array("k3".utf8), from: .min, to: .max).isEmpty)
        manager.closeDirty()
    }

    @Test(
        "tasks with nothing to restore start together in one restore step; a task with changelog entries to read takes one batch per step"
    )
    func restoreStepStartsCaughtUpTasksTogether() throws {
        let firstDirectory = makeTemporaryDirectory()
        let secondDirectory = makeTemporaryDirectory()
        defer {
            removeDirectory(firstDirectory)
            removeDirectory(secondDirectory)
        }
        let topology = Self.rememberTopology()
        let clock = ManualWallClock(startMs: 0)
        let logger = StreamsLogging.disabled(label: "test")
        func manager(_ engine: InMemoryEngine, state: String) -> TaskManager {
            TaskManager(
                engine: engine, topology: topology,
                configuration: StreamsConfiguration(
                    applicationId: "steps", commitInterval: .seconds(3600), restoreBatchSize: 2, stateDirectory: state),
                clock: clock, logger: logger)
        }
        let engine = InMemoryEngine()
        let partitions = [Self.partition(0), Self.partition(1), Self.partition(2)]
        // Three changelog entries on task 0_2's changelog, none on the others'.
        do {
            let first = manager(engine, state: firstDirectory)
            engine.assign(partitions)
            engine.enqueue(
                ["k1", "k2", "k3"].enumerated().map { Record(key: nil, value: Array($1.utf8), timestampMs: Int64($0)) },
                to: Self.partition(2))
            try StreamThread(
                taskManager: first, configuration: StreamsConfiguration(applicationId: "steps"), clock: clock,
                logger: logger
            ).processAvailable()
            try first.close()
        }
        let changelog = ChangelogID(taskId: TaskId(partition: 2), storeName: "seen")
        #expect(engine.committedChangelogs[changelog]?.count == 3)

        // A new state directory: every task restores from its changelog.
        let second = manager(engine, state: secondDirectory)
        // Made for its effect: the thread makes its task manager the engine's rebalance listener.
        _ = StreamThread(
            taskManager: second, configuration: StreamsConfiguration(applicationId: "steps"), clock: clock,
            logger: logger)
        engine.assign(partitions)
        try second.pollAndRoute(maxRecords: 100, timeout: .zero)
        func states() -> [StreamTask.State] { second.tasks.sorted { $0.id < $1.id }.map(\.state) }
        #expect(states() == [.created, .created, .created])
        #expect(try second.restoreStep() == 2)
        #expect(states() == [.running, .running, .restoring], "0_0 and 0_1 had nothing to restore")
        #expect(try second.restoreStep() == 1)
        #expect(states() == [.running, .running, .restoring])
        #expect(try second.restoreStep() == 0)
        #expect(states() == [.running, .running, .running])
        let store = try #require(
            second.tasks.first { $0.id == TaskId(partition: 2) }?.store(named: "seen") as? any WindowStore)
        #expect(try store.fetch(key: Array("k3".utf8), from: .min, to: .max).count == 1)
        second.closeDirty()
    }

    @Test(
        "a store past the end of its changelog (another cluster's, or the topic recreated) is wiped and rebuilt, not restored on top of"
    )
    func storePastChangelogEndIsRebuilt() throws {
        let stateDirectory = makeTemporaryDirectory()
        defer { removeDirectory(stateDirectory) }
        let topology = Self.rememberTopology()
        let configuration = StreamsConfiguration(
            applicationId: "ahead", commitInterval: .seconds(3600), stateDirectory: stateDirectory)
        let clock = ManualWallClock(startMs: 0)
        let logger = StreamsLogging.disabled(label: "test")
        func run(_ engine: InMemoryEngine) -> (TaskManager, StreamThread) {
            let manager = TaskManager(
                engine: engine, topology: topology, configuration: configuration, clock: clock, logger: logger)
            return (
                manager, StreamThread(taskManager: manager, configuration: configuration, clock: clock, logger: logger)
            )
        }
        func values(_ list: [String], from start: Int64) -> [Record] {
            list.enumerated().map { Record(key: nil, value: Array($1.utf8), timestampMs: start + Int64($0)) }
        }

        // Against one engine: k1 and k2 committed, the store closed at changelog position 2.
        let first = InMemoryEngine()
        do {
            let (manager, thread) = run(first)
            first.assign([Self.partition(0)])
            first.enqueue(values(["k1", "k2"], from: 1), to: Self.partition(0))
            try thread.processAvailable()
            try manager.close()
        }
        #expect(first.committedChangelogs[ChangelogID(taskId: TaskId(partition: 0), storeName: "seen")]?.count == 2)

        // The same state directory against an engine whose changelog is empty (end 0).
        let second = InMemoryEngine()
        let (manager, thread) = run(second)
        second.assign([Self.partition(0)])
        try manager.pollAndRoute(maxRecords: 100, timeout: .zero)
        let error = try #require(throws: StreamsError.self) { try manager.restoreStep() }
        #expect(error.code == .taskCorrupted)
        #expect(error.taskId == TaskId(partition: 0))
        #expect(
            error.message.hasPrefix(
                "store 'seen' of task 0_0 is at changelog position 2, past the end 0 of its changelog seen-changelog-0_0"
            ),
            "\(error.message)")
        #expect(!manager.isFailed)
        second.enqueue(values(["k3"], from: 3), to: Self.partition(0))
        try thread.processAvailable()
        let task = try #require(manager.tasks.first { $0.id == TaskId(partition: 0) }, "the task was not created again")
        #expect(task.state == .running)
        let store = try #require(task.store(named: "seen") as? any WindowStore)
        // Rebuilt from the (empty) changelog: nothing of the first engine's k1 and k2 is left.
        #expect(try store.fetch(key: Array("k1".utf8), from: .min, to: .max).isEmpty)
        #expect(try store.fetch(key: Array("k2".utf8), from: .min, to: .max).isEmpty)
        #expect(try store.fetch(key: Array("k3".utf8), from: .min, to: .max).count == 1)
        try manager.close()
    }
}
