public import StreamsCore
internal import Foundation
public import StreamsState

/// Runs a topology in memory, deterministically, for unit tests: pipe records into named inputs,
/// advance the wall clock, read what each sink wrote, and look at stores.
///
/// The driver runs one real ``StreamTask`` (task `0_0`, partition 0 of every source topic, in
/// source declaration order) through the runtime's ``StreamThread`` and an ``InMemoryEngine``, so
/// records go through the same polling, selection, punctuation, error policies and exactly-once
/// commit path as in production. Each pipe call (or ``batch(_:)``) is processed and then committed; outputs are
/// read from committed output only.
///
/// ```swift
/// let driver = try TopologyTestDriver(topology)
/// let orders = try driver.inputTopic("orders")
/// let unique = try driver.outputTopic("unique-orders")
/// try orders.pipeInput(#"{"id":1}"#, timestampMs: 1_000)
/// #expect(unique.readValuesToList() == [#"{"id":1}"#])
/// ```
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.TopologyTestDriver`.
public final class TopologyTestDriver {
    /// The engine underneath: committed output, changelogs and positions, fault injection.
    public let engine: InMemoryEngine
    /// The wall clock the task reads; move it with ``advanceWallClockTime(by:)``.
    public let clock: ManualWallClock
    /// The task running the topology.
    public let task: StreamTask
    private let manager: TaskManager
    private let thread: StreamThread
    private var batchDepth = 0
    private var batchPartitions: Set<TopicPartition> = []
    private var readPositions: [String: Int] = [:]
    private var closed = false

    /// Creates the driver, opens and restores the stores and starts the processors.
    ///
    /// - Parameters:
    ///   - topology: The topology; validated first.
    ///   - configuration: Error policies and the state directory. With the default state
    ///     directory the driver uses a fresh temporary directory of its own, removed when it
    ///     closes, so that drivers running in parallel (as Swift Testing runs tests) never share
    ///     a store's files. The commit interval is ignored: the driver commits after every pipe
    ///     call.
    ///   - wallClockStartMs: The initial wall-clock time.
    ///   - engine: An engine to reuse, for example to restart on the committed state of an earlier
    ///     driver (restore tests); by default a new one.
    /// - Throws: ``StreamsError`` (invalid topology, store or processor creation failures).
    public init(
        _ topology: Topology,
        configuration: StreamsConfiguration = StreamsConfiguration(applicationId: "test-driver"),
        wallClockStartMs: Int64 = 0,
        engine: InMemoryEngine = InMemoryEngine()
    ) throws(StreamsError) {
        self.engine = engine
        clock = ManualWallClock(startMs: wallClockStartMs)
        var configuration = configuration
        if configuration.stateDirectory == StreamsConfiguration.defaultStateDirectory {
            let directory = try Self.makeTemporaryDirectory()
            configuration.stateDirectory = directory
            ownedStateDirectory = directory
        } else {
            ownedStateDirectory = nil
        }
        sinkTopics = Set(
            topology.describe().subtopologies.flatMap { $0 }.filter { $0.kind == "Sink" }.flatMap(\.topics))
        let inputs = topology.describe().subtopologies.flatMap { $0 }
            .filter { $0.kind == "Source" }
            .flatMap(\.topics)
            .map { TopicPartition(topic: $0) }
        let logger = StreamsLogging.disabled(label: "TopologyTestDriver")
        task = try StreamTask(
            id: TaskId(partition: 0),
            topology: topology,
            configuration: configuration,
            inputs: inputs,
            collector: engine,
            changelogWriter: engine,
            clock: clock,
            logger: logger
        )
        manager = TaskManager(engine: engine, tasks: [task], configuration: configuration, clock: clock, logger: logger)
        thread = StreamThread(taskManager: manager, configuration: configuration, clock: clock, logger: logger)
        do {
            try manager.start()
        } catch {
            removeOwnedStateDirectory()
            throw error
        }
    }

    deinit {
        if !closed && !manager.isFailed { manager.closeDirty() }
        removeOwnedStateDirectory()
    }

    /// A handle to pipe records into `topic`, which a source of the topology reads.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/invalidConfiguration`` when no
    ///   source reads `topic` (naming the topics they read).
    public func inputTopic(_ topic: String) throws(StreamsError) -> TestInputTopic {
        guard task.inputs.contains(TopicPartition(topic: topic)) else {
            throw StreamsError(
                .invalidConfiguration,
                "no source reads topic '\(topic)'; the sources read \(task.inputs.map(\.topic).sorted())")
        }
        return TestInputTopic(topic: topic, driver: self)
    }

    /// A handle to read what sinks wrote to `topic`.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/invalidConfiguration`` when no
    ///   sink writes `topic` (a typo would otherwise read as "nothing written").
    public func outputTopic(_ topic: String) throws(StreamsError) -> TestOutputTopic {
        guard sinkTopics.contains(topic) else {
            throw StreamsError(
                .invalidConfiguration, "no sink writes topic '\(topic)'; the sinks write \(sinkTopics.sorted())")
        }
        return TestOutputTopic(topic: topic, driver: self)
    }

    /// The state directory the driver made for itself (see ``init(_:configuration:wallClockStartMs:engine:)``),
    /// if any.
    public let ownedStateDirectory: String?
    private let sinkTopics: Set<String>

    private static func makeTemporaryDirectory() throws(StreamsError) -> String {
        let base = StreamsConfiguration.defaultStateDirectory
        try? FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        var template = Array("\(base)/test-driver-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw StreamsError(.invalidConfiguration, "cannot create a temporary state directory in \(base)")
        }
        return String(cString: made)
    }

    private func removeOwnedStateDirectory() {
        if let ownedStateDirectory { try? FileManager.default.removeItem(atPath: ownedStateDirectory) }
    }

    /// The task's stream time.
    public var streamTimeMs: Int64 { task.streamTimeMs }

    /// The store named `name`, or `nil` (also after the driver closed).
    public func stateStore(named name: String) -> (any StateStore)? { task.store(named: name) }

    /// The window store named `name`, or `nil`.
    public func windowStore(named name: String) -> (any WindowStore)? { task.store(named: name) as? any WindowStore }

    /// Runs `body`, in which pipe calls only enqueue; then processes everything enqueued in the
    /// task's record-selection order (smallest head timestamp across inputs, ties to the input
    /// declared first) and commits once.
    ///
    /// - Throws: What `body` throws, or ``StreamsError`` from processing.
    public func batch(_ body: () throws -> Void) throws {
        batchDepth += 1
        do {
            try body()
        } catch {
            batchDepth -= 1
            throw error
        }
        batchDepth -= 1
        if batchDepth == 0 { try flush() }
    }

    /// Moves the wall clock forward, runs the wall-clock punctuators that are due and commits.
    ///
    /// - Throws: ``StreamsError`` when a punctuator fails under the `fail` policy.
    public func advanceWallClockTime(by duration: Duration) throws(StreamsError) {
        clock.advance(by: duration)
        try manager.punctuateWallClock()
        try manager.commit()
    }

    /// Commits now (pipe calls and clock advances already commit).
    ///
    /// - Throws: ``StreamsError`` from the engine or a store.
    public func commit() throws(StreamsError) {
        try manager.commit()
    }

    /// Commits and closes the task cleanly (processors and stores). Closing twice is harmless.
    ///
    /// - Throws: ``StreamsError`` from the final commit or a store.
    public func close() throws(StreamsError) {
        guard !closed else { return }
        closed = true
        defer { removeOwnedStateDirectory() }
        if !manager.isFailed { try manager.close() }
    }

    func pipe(_ records: [Record], to partition: TopicPartition) throws(StreamsError) {
        guard !closed else {
            throw StreamsError(.illegalState, "the driver is closed; create a new one to pipe more records")
        }
        engine.enqueue(records, to: partition)
        if batchDepth == 0 { try flush() }
    }

    private func flush() throws(StreamsError) {
        // Every enqueued record is there at once: the thread polls them all, and a drained
        // partition is caught up, which holds no task back (maxTaskIdle 0), so everything is
        // processed in the task's record order.
        do {
            try thread.processAvailable()
        } catch {
            // A partition stopped at an invalid record (the `fail` policy): the records before
            // it are committed, as the stream thread does, and the error is thrown.
            if !manager.isFailed { try manager.commit() }
            throw error
        }
        try manager.commit()
    }

    func read(topic: String, max: Int) -> [TestRecord] {
        let records = engine.committedOutput[topic] ?? []
        let start = readPositions[topic, default: 0]
        let end = min(records.count, start + Swift.min(max, records.count))
        readPositions[topic] = end
        return records[start..<end].map { TestRecord($0.record) }
    }

    func unreadCount(topic: String) -> Int {
        (engine.committedOutput[topic]?.count ?? 0) - readPositions[topic, default: 0]
    }
}
