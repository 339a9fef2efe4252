public import StreamsCore
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
/// let orders = driver.inputTopic("orders")
/// let unique = driver.outputTopic("unique-orders")
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
    ///   - configuration: Error policies and the state directory (LMDB stores should be given a
    ///     fresh temporary directory per test). The commit interval is ignored: the driver commits
    ///     after every pipe call.
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
        try manager.start()
    }

    deinit {
        if !closed && !manager.isFailed { manager.closeDirty() }
    }

    /// A handle to pipe records into `topic`, which a source of the topology reads.
    public func inputTopic(_ topic: String) -> TestInputTopic {
        precondition(task.inputs.contains(TopicPartition(topic: topic)), "no source reads topic '\(topic)'")
        return TestInputTopic(topic: topic, driver: self)
    }

    /// A handle to read what sinks wrote to `topic`.
    public func outputTopic(_ topic: String) -> TestOutputTopic {
        TestOutputTopic(topic: topic, driver: self)
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
        try manager.close()
    }

    func pipe(_ records: [Record], to partition: TopicPartition) throws(StreamsError) {
        precondition(!closed, "the driver is closed")
        engine.enqueue(records, to: partition)
        if batchDepth == 0 { try flush() }
    }

    private func flush() throws(StreamsError) {
        // Every enqueued record is there at once: the thread polls them all, and a drained
        // partition is caught up, which holds no task back (maxTaskIdle 0), so everything is
        // processed in the task's record order.
        try thread.processAvailable()
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
