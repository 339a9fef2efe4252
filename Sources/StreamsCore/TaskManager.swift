public import Logging
internal import StreamsState

/// Drives a set of ``StreamTask``s through a ``StreamsEngine``: restore, then the synchronous loop
/// poll → process → punctuate → commit, and the exactly-once commit across all tasks.
///
/// Engines (and the test kit's `TopologyTestDriver`) own one task manager per processing thread
/// and call ``runOnce(pollTimeout:)`` in a loop on that thread.
///
/// Any failure closes every task dirty (processors closed, store writes rolled back), aborts the
/// engine's open transaction and is rethrown; the application then restarts from the last commit.
///
/// Kafka Streams counterpart: the loop of `StreamThread` with `TaskManager.commit`.
///
/// - Important: Not `Sendable`; use it from the thread that runs the loop.
public final class TaskManager {
    /// The engine.
    public let engine: any StreamsEngine
    /// The tasks, in the order given.
    public let tasks: [StreamTask]
    /// Whether a failure closed the tasks; the manager is then unusable.
    public private(set) var isFailed = false

    private let configuration: StreamsConfiguration
    private let clock: any WallClock
    private let logger: Logger
    private var taskForInput: [TopicPartition: Int] = [:]
    private var lastCommitMs: Int64

    /// Creates a manager for tasks that are in state CREATED.
    ///
    /// - Parameters:
    ///   - engine: The engine the tasks were created with.
    ///   - tasks: The tasks; no input partition may belong to two of them.
    ///   - configuration: The commit interval and batch sizes.
    ///   - clock: The clock for the commit interval (the tasks' clock).
    ///   - logger: The logger.
    public init(
        engine: any StreamsEngine,
        tasks: [StreamTask],
        configuration: StreamsConfiguration,
        clock: any WallClock,
        logger: Logger
    ) {
        self.engine = engine
        self.tasks = tasks
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.lastCommitMs = clock.nowMs
        for (i, task) in tasks.enumerated() {
            for input in task.inputs {
                precondition(taskForInput.updateValue(i, forKey: input) == nil, "input \(input) belongs to two tasks")
            }
        }
    }

    /// Restores every task's stores from their changelogs and starts the processors
    /// (CREATED → RESTORING → RUNNING).
    ///
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    public func start() throws(StreamsError) {
        try failing { () throws(StreamsError) in
            for task in tasks {
                task.initializeStateStores(committedStreamTimeMs: engine.committedStreamTimeMs(for: task.id))
                try task.restore(from: engine)
                try task.completeRestoration()
            }
            lastCommitMs = clock.nowMs
        }
    }

    /// Polls the engine and hands the batches to the tasks owning their partitions.
    ///
    /// - Returns: The batches polled.
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    @discardableResult
    public func pollAndRoute(maxRecords: Int, timeout: Duration) throws(StreamsError) -> [InputBatch] {
        try failing { () throws(StreamsError) in
            let batches = try engine.poll(maxRecords: maxRecords, timeout: timeout)
            route(batches)
            return batches
        }
    }

    /// Processes at most `maxRecords` of `task`'s buffered records, with stream-time punctuation.
    ///
    /// - Returns: The number of records processed.
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    public func process(_ task: StreamTask, maxRecords: Int) throws(StreamsError) -> Int {
        try failing { () throws(StreamsError) in try task.process(maxRecords: maxRecords) }
    }

    /// Hands polled batches to the tasks that own their partitions.
    public func route(_ batches: [InputBatch]) {
        for batch in batches {
            guard let i = taskForInput[batch.partition] else {
                preconditionFailure("no task owns input \(batch.partition)")
            }
            tasks[i].addRecords(batch.records, for: batch.partition)
        }
    }

    /// One round of the loop: poll, process up to ``StreamsConfiguration/maxRecordsPerIteration``
    /// records per task, run due wall-clock punctuators, and commit if the commit interval has
    /// passed or a processor asked for it.
    ///
    /// - Returns: The number of records processed.
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    @discardableResult
    public func runOnce(pollTimeout: Duration) throws(StreamsError) -> Int {
        try failing { () throws(StreamsError) in
            route(try engine.poll(maxRecords: configuration.maxRecordsPerIteration, timeout: pollTimeout))
            var processed = 0
            for task in tasks {
                processed += try task.process(maxRecords: configuration.maxRecordsPerIteration)
                try task.punctuateWallClock()
            }
            try maybeCommit()
            return processed
        }
    }

    /// Processes every buffered record of every task (no polling), with stream-time punctuation.
    ///
    /// - Returns: The number of records processed.
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    @discardableResult
    public func processBuffered() throws(StreamsError) -> Int {
        try failing { () throws(StreamsError) in
            var processed = 0
            for task in tasks { processed += try task.process() }
            return processed
        }
    }

    /// Processes at most `maxRecords` buffered records of every task (no polling), with
    /// stream-time punctuation.
    ///
    /// - Returns: The number of records processed.
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    @discardableResult
    public func processBuffered(maxRecords: Int) throws(StreamsError) -> Int {
        try failing { () throws(StreamsError) in
            var processed = 0
            for task in tasks { processed += try task.process(maxRecords: maxRecords) }
            return processed
        }
    }

    /// Runs every task's due wall-clock punctuators.
    ///
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    public func punctuateWallClock() throws(StreamsError) {
        try failing { () throws(StreamsError) in
            for task in tasks { try task.punctuateWallClock() }
        }
    }

    /// Commits if the commit interval has passed since the last commit or a processor asked for it.
    ///
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    /// - Returns: Whether it committed.
    @discardableResult
    public func maybeCommit() throws(StreamsError) -> Bool {
        let now = clock.nowMs
        if now - lastCommitMs >= configuration.commitInterval.milliseconds || tasks.contains(where: \.commitRequested) {
            try commit()
            return true
        }
        return false
    }

    /// Commits all tasks as one unit, in the exactly-once order: the engine makes output, changelog
    /// entries and input positions durable first; then each store commits its own transaction with
    /// the changelog position it reflects.
    ///
    /// - Throws: ``StreamsError``; the engine's transaction is aborted and every task closed dirty.
    public func commit() throws(StreamsError) {
        try failing { () throws(StreamsError) in
            let active = tasks.filter { $0.state == .running || $0.state == .suspended }
            var commits: [TaskCommit] = []
            for task in active { commits.append(try task.prepareCommit()) }
            let unit = CommitUnit(tasks: commits)
            let positions = try engine.commit(unit)
            for task in active {
                try task.postCommit(changelogPositions: positions)
            }
            try engine.didCommit(active)
            lastCommitMs = clock.nowMs
        }
    }

    /// Commits, suspends and closes every task.
    ///
    /// - Throws: ``StreamsError`` from the final commit (every task is then closed dirty) or from
    ///   closing a store.
    public func close() throws(StreamsError) {
        guard !isFailed else { return }
        try commit()
        var firstError: StreamsError?
        for task in tasks where task.state != .closed {
            if task.state != .suspended { task.suspend() }
            do { try task.close() } catch { firstError = firstError ?? error }
        }
        if let firstError { throw firstError }
    }

    /// Closes every task dirty and aborts the engine's open transaction.
    public func closeDirty() {
        engine.abort()
        for task in tasks { task.closeDirty() }
    }

    private func failing<R>(_ body: () throws(StreamsError) -> R) throws(StreamsError) -> R {
        precondition(!isFailed, "the task manager failed before; create new tasks")
        do {
            return try body()
        } catch {
            // The caller gets the error; logging it here too would report it twice.
            logger.debug("closing tasks after failure: \(error)")
            isFailed = true
            closeDirty()
            throw error
        }
    }
}
