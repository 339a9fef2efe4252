public import StreamsCore
public import StreamsState

/// An engine under test, as the engine-contract suite (``EngineContract``) drives it: it feeds
/// input partitions, runs the runtime's ``StreamThread`` over them, reads what was committed, and
/// restarts on the committed state as a process would after a crash.
///
/// Every engine implements one (the in-memory engine: ``InMemoryContractHarness``; the
/// embedded and Kafka engines in their own test targets) and runs every scenario of
/// ``EngineContract`` against it.
public protocol EngineContractHarness: AnyObject {
    /// Creates the engine and a stream thread running `topology` over the input partitions given
    /// to ``append(_:to:)`` (or assigned with ``assign(_:)``).
    func start(_ topology: Topology, configuration: StreamsConfiguration) throws

    /// Appends records (value, timestamp) to an input partition.
    func append(_ records: [(value: String, timestampMs: Int64)], to partition: TopicPartition) throws

    /// The thread's engine's partitions change: `partitions` are assigned. Engines without
    /// rebalances throw ``EngineContractViolation/unsupported(_:)``.
    func assign(_ partitions: [TopicPartition]) throws

    /// `partitions` are revoked (clean hand-over).
    func revoke(_ partitions: [TopicPartition]) throws

    /// The thread running the topology.
    var thread: StreamThread { get }

    /// The values committed to `topic`, in commit order.
    func committedValues(topic: String) throws -> [String]

    /// Discards everything uncommitted and starts a new engine and thread on the committed state
    /// (stores restored from their changelogs, inputs resumed after the committed offsets), as a
    /// process restarted after a crash.
    func restart() throws

    /// The timestamp extractor the scenarios give their sources so that each record gets the
    /// timestamp ``append(_:to:)`` was given: ``RecordTimestampExtractor/record`` (the default)
    /// for engines that carry timestamps with records; engines that do not (lines of a file) give
    /// a ``RecordTimestampExtractor/custom(_:)`` that looks them up.
    var sourceTimestamps: RecordTimestampExtractor { get }
}

extension EngineContractHarness {
    /// ``RecordTimestampExtractor/record``: the engine's record carries the timestamp.
    public var sourceTimestamps: RecordTimestampExtractor { .record }
}

/// A broken promise of the engine contract: what was expected and what happened.
public enum EngineContractViolation: Error, CustomStringConvertible {
    /// The scenario's expectation failed.
    case expectation(String)
    /// The engine does not support what the scenario needs.
    case unsupported(String)

    /// The message.
    public var description: String {
        switch self {
        case .expectation(let text): return "engine contract violated: \(text)"
        case .unsupported(let text): return "not supported by this engine: \(text)"
        }
    }
}

/// The scenarios every engine must pass: record order, commit atomicity, abort, restore from the
/// changelog, revocation and assignment, a fenced task, and punctuation. Each builds its own
/// topology on the harness and throws ``EngineContractViolation`` when the engine breaks the
/// contract (docs/runtime.md).
public enum EngineContract {
    static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw EngineContractViolation.expectation(message()) }
    }

    static let a = TopicPartition(topic: "contract-a")
    static let b = TopicPartition(topic: "contract-b")

    /// source a + source b → merged (pass-through).
    static func mergeTopology(_ timestamps: RecordTimestampExtractor) -> Topology {
        var topology = Topology()
        topology.addSource("a", topics: ["contract-a"], timestamp: timestamps)
        topology.addSource("b", topics: ["contract-b"], timestamp: timestamps)
        topology.addSink("out", topic: "merged", parents: "a", "b")
        return topology
    }

    /// Records of two partitions are processed smallest timestamp first, ties to the partition
    /// declared first, however they were read.
    public static func ordering(_ harness: some EngineContractHarness) throws {
        try harness.start(
            mergeTopology(harness.sourceTimestamps),
            configuration: StreamsConfiguration(applicationId: "contract-order"))
        try harness.append([("a1", 1), ("a4", 4), ("a6", 6)], to: a)
        try harness.append([("b2", 2), ("b4", 4), ("b5", 5)], to: b)
        try harness.thread.processAvailable()
        try harness.thread.taskManager.commit()
        let merged = try harness.committedValues(topic: "merged")
        try expect(merged == ["a1", "b2", "a4", "b4", "b5", "a6"], "merge order, got \(merged)")
    }

    /// Output becomes visible only with a commit, all of it at once.
    public static func commitAtomicity(_ harness: some EngineContractHarness) throws {
        try harness.start(
            mergeTopology(harness.sourceTimestamps),
            configuration: StreamsConfiguration(applicationId: "contract-commit"))
        try harness.append([("a1", 1), ("a2", 2)], to: a)
        try harness.thread.processAvailable()
        try expect(try harness.committedValues(topic: "merged").isEmpty, "output visible before its commit")
        try harness.thread.taskManager.commit()
        try expect(try harness.committedValues(topic: "merged") == ["a1", "a2"], "output of the commit")
    }

    /// A crash after processing but before the commit loses nothing and repeats nothing: the
    /// restarted engine processes the uncommitted records again, once.
    public static func abortAndRestart(_ harness: some EngineContractHarness) throws {
        try harness.start(
            mergeTopology(harness.sourceTimestamps),
            configuration: StreamsConfiguration(applicationId: "contract-abort"))
        try harness.append([("a1", 1), ("a2", 2)], to: a)
        try harness.thread.processAvailable()
        try harness.thread.taskManager.commit()
        try harness.append([("a3", 3), ("a4", 4)], to: a)
        try harness.thread.processAvailable()  // processed, not committed: the "crash" comes now
        try harness.restart()
        try harness.thread.processAvailable()
        try harness.thread.taskManager.commit()
        let values = try harness.committedValues(topic: "merged")
        try expect(values == ["a1", "a2", "a3", "a4"], "exactly once across the restart, got \(values)")
    }

    /// A stateful task restores its store from the changelog after a restart: what was committed
    /// before decides what happens after.
    public static func restoreFromChangelog(_ harness: some EngineContractHarness) throws {
        var topology = Topology()
        topology.addSource("a", topics: ["contract-a"], timestamp: harness.sourceTimestamps)
        topology.addStateStore("seen", changelogged: true) { _ in
            try InMemoryWindowStore(configuration: WindowStoreConfiguration(name: "seen", retention: .seconds(3600)))
        }
        topology.addProcessor("first-only", parents: "a", stores: ["seen"]) { try FirstOnly(context: $0) }
        topology.addSink("out", topic: "firsts", parents: "first-only")
        try harness.start(topology, configuration: StreamsConfiguration(applicationId: "contract-restore"))
        try harness.append([("k1", 1), ("k2", 2), ("k1", 3)], to: a)
        try harness.thread.processAvailable()
        try harness.thread.taskManager.commit()
        try harness.restart()
        try harness.append([("k2", 4), ("k3", 5)], to: a)
        try harness.thread.processAvailable()
        try harness.thread.taskManager.commit()
        let values = try harness.committedValues(topic: "firsts")
        try expect(values == ["k1", "k2", "k3"], "the restored store remembered k1 and k2, got \(values)")
    }

    /// A revoked task commits and closes; assigned again, it resumes from its committed state.
    public static func revokeAndAssign(_ harness: some EngineContractHarness) throws {
        try harness.start(
            mergeTopology(harness.sourceTimestamps),
            configuration: StreamsConfiguration(applicationId: "contract-rebalance"))
        let a1 = TopicPartition(topic: "contract-a", partition: 1)
        try harness.assign([a, a1])
        try harness.append([("p0-1", 1)], to: a)
        try harness.append([("p1-1", 1)], to: a1)
        try harness.thread.processAvailable()
        try harness.revoke([a1])
        try harness.thread.processAvailable()
        let afterRevoke = try harness.committedValues(topic: "merged")
        try expect(afterRevoke == ["p1-1"], "the revocation commits the revoked task only, got \(afterRevoke)")
        try expect(
            harness.thread.taskManager.tasks.map(\.id) == [TaskId(partition: 0)], "the revoked task is closed")
        try harness.append([("p1-2", 2)], to: a1)
        try harness.assign([a1])
        try harness.thread.processAvailable()
        try harness.thread.taskManager.commit()
        let values = try harness.committedValues(topic: "merged")
        try expect(Set(values) == ["p1-1", "p0-1", "p1-2"] && values.count == 3, "after reassignment, got \(values)")
    }

    /// A task fenced by another instance closes dirty alone: none of its uncommitted output
    /// becomes visible, and the other task goes on.
    public static func fencedTaskClosesDirty(_ harness: some EngineContractHarness) throws {
        var topology = Topology()
        topology.addSource("a", topics: ["contract-a"], timestamp: harness.sourceTimestamps)
        topology.addProcessor("fence", parents: "a") { FenceOn(context: $0, value: "zombie") }
        topology.addSink("out", topic: "out", parents: "fence")
        try harness.start(topology, configuration: StreamsConfiguration(applicationId: "contract-fenced"))
        let a1 = TopicPartition(topic: "contract-a", partition: 1)
        try harness.assign([a, a1])
        try harness.append([("x0", 1)], to: a)
        try harness.append([("y0", 1), ("zombie", 2)], to: a1)
        for _ in 0..<4 { try harness.thread.runOnce() }
        try harness.thread.taskManager.commit()
        let values = try harness.committedValues(topic: "out")
        try expect(values == ["x0"], "only the healthy task's output is committed, got \(values)")
        try expect(!harness.thread.taskManager.isFailed, "a fenced task stopped the others")
    }

    /// Stream-time punctuation fires as records move stream time past each interval.
    public static func punctuation(_ harness: some EngineContractHarness) throws {
        var topology = Topology()
        topology.addSource("a", topics: ["contract-a"], timestamp: harness.sourceTimestamps)
        topology.addProcessor("tick", parents: "a") { try Ticker(context: $0) }
        topology.addSink("out", topic: "ticks", parents: "tick")
        try harness.start(topology, configuration: StreamsConfiguration(applicationId: "contract-punctuation"))
        try harness.append([("r", 0), ("r", 999), ("r", 1_000), ("r", 3_500)], to: a)
        try harness.thread.processAvailable()
        try harness.thread.taskManager.commit()
        let values = try harness.committedValues(topic: "ticks")
        try expect(values == ["tick@1000", "tick@3500"], "stream-time punctuation every 1 s, got \(values)")
    }

    /// The scenarios, for test targets that run them all (`@Test(arguments: Scenario.allCases)`).
    public enum Scenario: String, CaseIterable, Sendable, CustomStringConvertible {
        case ordering = "record order"
        case commitAtomicity = "commit atomicity"
        case abortAndRestart = "abort and restart"
        case restoreFromChangelog = "restore from the changelog"
        case revokeAndAssign = "revoke and assign"
        case fencedTaskClosesDirty = "a fenced task closes dirty"
        case punctuation = "punctuation"

        /// The scenario's name.
        public var description: String { rawValue }

        /// Runs the scenario on `harness`.
        ///
        /// - Throws: ``EngineContractViolation``, or the engine's error.
        public func run(_ harness: some EngineContractHarness) throws {
            switch self {
            case .ordering: try EngineContract.ordering(harness)
            case .commitAtomicity: try EngineContract.commitAtomicity(harness)
            case .abortAndRestart: try EngineContract.abortAndRestart(harness)
            case .restoreFromChangelog: try EngineContract.restoreFromChangelog(harness)
            case .revokeAndAssign: try EngineContract.revokeAndAssign(harness)
            case .fencedTaskClosesDirty: try EngineContract.fencedTaskClosesDirty(harness)
            case .punctuation: try EngineContract.punctuation(harness)
            }
        }
    }
}

/// Forwards a record only the first time its value is seen (in the "seen" window store).
final class FirstOnly: Processor {
    let context: ProcessorContext
    let store: any WindowStore

    init(context: ProcessorContext) throws {
        self.context = context
        guard let store = try context.stateStore(named: "seen") as? any WindowStore else {
            throw StreamsError(.unknownStore, "no window store named seen")
        }
        self.store = store
    }

    func process(_ record: Record) throws {
        let key = Array(record.value)
        guard try store.firstTimestamp(key: key, from: .min, to: .max) == nil else { return }
        try store.put(key: key, timestampMs: record.timestampMs, value: [])
        try context.forward(record)
    }
}

/// Throws ``StreamsError/Code/fenced`` for its task on one value.
final class FenceOn: Processor {
    let context: ProcessorContext
    let value: String

    init(context: ProcessorContext, value: String) {
        self.context = context
        self.value = value
    }

    func process(_ record: Record) throws {
        if String(decoding: record.value, as: UTF8.self) == value {
            throw StreamsError(.fenced, "fenced by another instance", taskId: context.taskId)
        }
        try context.forward(record)
    }
}

/// Forwards "tick@<stream time>" every second of stream time.
final class Ticker: Processor {
    let context: ProcessorContext

    init(context: ProcessorContext) throws {
        self.context = context
        try context.schedule(every: .seconds(1), .streamTime) { [context] timestampMs in
            try context.forward(Record(key: nil, value: Array("tick@\(timestampMs)".utf8), timestampMs: timestampMs))
        }
    }

    func process(_ record: Record) throws {}
}

/// The engine contract's harness for ``InMemoryEngine``: the reference the other engines are
/// held to.
public final class InMemoryContractHarness: EngineContractHarness {
    /// The engine; it outlives restarts (its committed state is the durable storage).
    public let engine = InMemoryEngine()
    /// The clock the tasks read.
    public let clock = ManualWallClock(startMs: 0)
    private var topology = Topology()
    private var configuration = StreamsConfiguration(applicationId: "contract")
    private var current: StreamThread?
    private var assignedExplicitly = false
    private var assigned: Set<TopicPartition> = []

    /// Creates a harness with a new engine.
    public init() {}

    public func start(_ topology: Topology, configuration: StreamsConfiguration) throws {
        self.topology = topology
        self.configuration = configuration
        current = makeThread()
    }

    private func makeThread() -> StreamThread {
        let logger = StreamsLogging.disabled(label: "contract")
        let manager = TaskManager(
            engine: engine, topology: topology, configuration: configuration, clock: clock, logger: logger)
        return StreamThread(taskManager: manager, configuration: configuration, clock: clock, logger: logger)
    }

    public var thread: StreamThread {
        guard let current else { preconditionFailure("call start(_:configuration:) first") }
        return current
    }

    public func append(_ records: [(value: String, timestampMs: Int64)], to partition: TopicPartition) throws {
        engine.enqueue(
            records.map { Record(key: nil, value: Array($0.value.utf8), timestampMs: $0.timestampMs) }, to: partition)
        // Scenarios without rebalances own every partition they write to.
        if !assignedExplicitly && !assigned.contains(partition) {
            assigned.insert(partition)
            engine.assign([partition])
        }
    }

    public func assign(_ partitions: [TopicPartition]) throws {
        assignedExplicitly = true
        assigned.formUnion(partitions)
        engine.assign(partitions)
    }

    public func revoke(_ partitions: [TopicPartition]) throws {
        assigned.subtract(partitions)
        engine.revoke(partitions)
    }

    public func committedValues(topic: String) throws -> [String] {
        (engine.committedOutput[topic] ?? []).map { String(decoding: $0.record.value, as: UTF8.self) }
    }

    public func restart() throws {
        thread.taskManager.closeDirty()
        engine.restartAfterCrash()
        current = makeThread()
        engine.assign(Array(assigned))
    }
}
