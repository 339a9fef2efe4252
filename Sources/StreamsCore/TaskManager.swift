internal import Foundation
public import Logging
internal import StreamsState

/// Drives a set of ``StreamTask``s through a ``StreamsEngine``: restore, then the synchronous loop
/// poll → process → punctuate → commit, and the exactly-once commit across all tasks.
///
/// A ``StreamThread`` owns one task manager and runs the loop (engines and the test kit's
/// `TopologyTestDriver` run through it); with a topology, the manager creates and removes tasks
/// as the engine assigns, revokes and loses partitions.
///
/// A failure closes every task dirty (processors closed, store writes rolled back), aborts the
/// engine's open transaction and is rethrown; the application then restarts from the last commit.
/// Errors with a per-task code (``StreamsError/Code/taskMigrated``, ``StreamsError/Code/fenced``,
/// ``StreamsError/Code/taskCorrupted``) close only the task they name.
///
/// Kafka Streams counterpart: the loop of `StreamThread` with `TaskManager.commit`.
///
/// - Important: Not `Sendable`; use it from the thread that runs the loop.
public final class TaskManager {
    /// The engine.
    public let engine: any StreamsEngine
    /// The tasks, in the order they were given or assigned.
    public private(set) var tasks: [StreamTask]
    /// Whether a failure closed the tasks; the manager is then unusable.
    public private(set) var isFailed = false

    private let configuration: StreamsConfiguration
    private let clock: any WallClock
    private let logger: Logger
    private var taskForInput: [TopicPartition: TaskId] = [:]
    private var lastCommitMs: Int64
    /// How to create a task for an assignment (the topology the tasks run).
    private let topology: Topology?

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
        self.topology = nil
        for task in tasks {
            for input in task.inputs {
                precondition(
                    taskForInput.updateValue(task.id, forKey: input) == nil, "input \(input) belongs to two tasks")
            }
            offerExtractions(of: task)
        }
    }

    /// Offers the engine each input's source extraction (``RecordPoller/adoptExtraction(_:for:)``).
    private func offerExtractions(of task: StreamTask) {
        for input in task.inputs {
            if let extraction = task.extraction(for: input) { engine.adoptExtraction(extraction, for: input) }
        }
    }

    /// Creates a manager without tasks, which creates them from `topology` as the engine assigns
    /// input partitions (``assign(_:)``) and removes them as it revokes (``revoke(_:)``) or
    /// loses (``lose(_:)``) them, as Kafka Streams' `TaskManager` does on a rebalance.
    ///
    /// A task is one partition number of one sub-topology: the partitions with number `p` of
    /// every topic the sub-topology's sources read (co-partitioned inputs) form task
    /// `<subtopology>_<p>`.
    ///
    /// - Parameters:
    ///   - engine: The engine; tasks are created with it as collector and changelog writer.
    ///   - topology: The topology every task runs.
    ///   - configuration: The commit interval, batch sizes and error policies.
    ///   - clock: The wall clock.
    ///   - logger: The logger.
    public init(
        engine: any StreamsEngine,
        topology: Topology,
        configuration: StreamsConfiguration,
        clock: any WallClock,
        logger: Logger
    ) {
        self.engine = engine
        self.tasks = []
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.lastCommitMs = clock.nowMs
        self.topology = topology
    }

    // MARK: Assignment

    /// The task that owns `partition`, if any.
    public func task(owning partition: TopicPartition) -> StreamTask? {
        taskForInput[partition].flatMap { id in tasks.first { $0.id == id } }
    }

    /// Creates the tasks for newly assigned input partitions (state CREATED: the stream thread
    /// restores and starts them). Partitions already owned are ignored.
    ///
    /// - Throws: ``StreamsError``: ``StreamsError/Code/invalidConfiguration`` for a partition of
    ///   a topic no source reads, or when the manager was made with fixed tasks; errors creating
    ///   a task (its stores) close the tasks created by this call again.
    public func assign(_ partitions: [TopicPartition]) throws(StreamsError) {
        guard let topology else {
            throw StreamsError(.invalidConfiguration, "this task manager runs fixed tasks; create it with a topology")
        }
        let description = topology.describe()
        var groups: [TaskId: [TopicPartition]] = [:]
        for partition in partitions where taskForInput[partition] == nil {
            guard let subtopology = description.subtopology(readingTopic: partition.topic) else {
                throw StreamsError(
                    .invalidConfiguration,
                    "assigned partition \(partition) is of a topic no source of the topology reads")
            }
            groups[TaskId(subtopology: subtopology, partition: partition.partition), default: []].append(partition)
        }
        var created: [StreamTask] = []
        for id in groups.keys.sorted() {
            // The task's partitions in source declaration order (the tie-break order).
            let topics = description.sourceTopics(ofSubtopology: id.subtopology)
            let inputs = topics.map { TopicPartition(topic: $0, partition: id.partition) }
            do throws(StreamsError) {
                let task = try StreamTask(
                    id: id, topology: topology, configuration: configuration, inputs: inputs, collector: engine,
                    changelogWriter: engine, clock: clock, logger: logger)
                created.append(task)
            } catch {
                for task in created { task.closeDirty() }
                throw error
            }
        }
        for task in created {
            tasks.append(task)
            for input in task.inputs { taskForInput[input] = task.id }
            offerExtractions(of: task)
        }
    }

    /// Commits the tasks owning any of `partitions` and closes them cleanly (their processors and
    /// stores), then forgets them: a revocation in a rebalance, where the partitions move to
    /// another instance that will restore from what was committed here.
    ///
    /// - Throws: ``StreamsError`` from the commit; the affected tasks are then closed dirty.
    public func revoke(_ partitions: [TopicPartition]) throws(StreamsError) {
        let affected = tasksOwning(partitions)
        guard !affected.isEmpty else { return }
        let running = affected.filter { $0.state == .running || $0.state == .suspended }
        do {
            if !running.isEmpty { try commit(running, commitStores: true) }
        } catch {
            for task in affected { closeDirty(task) }
            remove(affected)
            throw error
        }
        var firstError: StreamsError?
        for task in affected where task.state != .closed {
            if task.state == .running { task.suspend() }
            do { try task.close() } catch { firstError = firstError ?? error }
        }
        remove(affected)
        if let firstError { throw firstError }
    }

    /// Closes the tasks owning any of `partitions` dirty, without committing, and forgets them:
    /// the partitions were lost (another instance may already process them), so nothing of their
    /// uncommitted work may become visible.
    public func lose(_ partitions: [TopicPartition]) {
        let affected = tasksOwning(partitions)
        for task in affected { closeDirty(task) }
        remove(affected)
    }

    private func tasksOwning(_ partitions: [TopicPartition]) -> [StreamTask] {
        let ids = Set(partitions.compactMap { taskForInput[$0] })
        return tasks.filter { ids.contains($0.id) }
    }

    private func closeDirty(_ task: StreamTask) {
        engine.abort(task: task.id)
        task.closeDirty()
    }

    private func remove(_ removed: [StreamTask]) {
        let ids = Set(removed.map(\.id))
        tasks.removeAll { ids.contains($0.id) }
        for (input, id) in taskForInput where ids.contains(id) { taskForInput[input] = nil }
    }

    /// Closes the task a task-scoped error names (``StreamsError/Code/taskMigrated``,
    /// ``StreamsError/Code/fenced``: dirty, and forgotten; ``StreamsError/Code/taskCorrupted``:
    /// dirty, its state directory wiped, then created again so that it restores its stores from
    /// their changelogs from the beginning). The other tasks go on.
    ///
    /// Kafka Streams counterpart: `TaskManager.handleCorruption` (close dirty, wipe, revive).
    private func handleTaskError(_ error: StreamsError) {
        guard let id = error.taskId, let task = tasks.first(where: { $0.id == id }) else { return }
        logger.warning("closing task \(id) dirty: \(error)")
        let inputs = task.inputs
        closeDirty(task)
        remove([task])
        if error.code == .taskCorrupted {
            wipeStateDirectory(of: id)
            if topology != nil {
                do { try assign(inputs) } catch { logger.error("cannot create task \(id) again: \(error)") }
            }
        }
    }

    /// Deletes `<stateDirectory>/<applicationId>/<task>`, where the task's stores keep their files
    /// (``StoreContext/directory``): a corrupted task's stores are rebuilt from their changelogs,
    /// never restored on top of what they held.
    private func wipeStateDirectory(of id: TaskId) {
        let path = "\(configuration.stateDirectory)/\(configuration.applicationId)/\(id)"
        guard FileManager.default.fileExists(atPath: path) else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
            logger.warning("wiped the state of task \(id) (\(path)); its stores restore from their changelogs")
        } catch {
            logger.error("cannot wipe the state of task \(id) in \(path): \(error)")
        }
    }

    /// Restores every task's stores from their changelogs and starts the processors
    /// (CREATED → RESTORING → RUNNING).
    ///
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    public func start() throws(StreamsError) {
        try failing { () throws(StreamsError) in
            for task in tasks where task.state == .created {
                task.initializeStateStores(committedStreamTimeMs: engine.committedStreamTimeMs(for: task.id))
                try task.restore(from: engine)
                try task.completeRestoration()
            }
            lastCommitMs = clock.nowMs
        }
    }

    /// Polls the engine and hands the batches to the tasks owning their partitions.
    ///
    /// - Returns: The number of records polled.
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    @discardableResult
    public func pollAndRoute(maxRecords: Int, timeout: Duration) throws(StreamsError) -> Int {
        try failing { () throws(StreamsError) in
            let batches = try engine.poll(maxRecords: maxRecords, timeout: timeout)
            var polled = 0
            for batch in batches { polled += batch.records.count }
            route(batches)
            return polled
        }
    }

    /// Processes at most `maxRecords` of `task`'s buffered records, with stream-time punctuation.
    ///
    /// - Returns: The number of records processed.
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    public func process(_ task: StreamTask, maxRecords: Int) throws(StreamsError) -> Int {
        try failing { () throws(StreamsError) in try task.process(maxRecords: maxRecords) }
    }

    /// Whether a task still has to be restored (created or restoring).
    public var hasTasksToRestore: Bool { tasks.contains { $0.state == .created || $0.state == .restoring } }

    /// One step of restoration, for the stream thread to interleave with polling: starts the
    /// restore of created tasks (CREATED → RESTORING), applies at most one changelog batch, and
    /// starts the tasks whose stores caught up (→ RUNNING).
    ///
    /// Tasks are taken in order: each one with nothing (more) to restore starts, up to the first
    /// that reads a batch, or waits for one. So the tasks of a new assignment whose changelogs are
    /// empty or already applied all start in one step, and their partitions are never paused for
    /// them (on Kafka a pause throws away what the consumer fetched for the partition).
    ///
    /// - Returns: The changelog entries applied.
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    @discardableResult
    public func restoreStep() throws(StreamsError) -> Int {
        try failing { () throws(StreamsError) in
            for task in tasks where task.state == .created {
                task.initializeStateStores(committedStreamTimeMs: engine.committedStreamTimeMs(for: task.id))
            }
            for task in tasks where task.state == .restoring {
                let step = try task.restoreBatch(from: engine)
                guard step.done else { return step.entries }
                try task.completeRestoration()
                lastCommitMs = clock.nowMs
            }
            return 0
        }
    }

    /// Hands polled batches to the tasks that own their partitions.
    ///
    /// A batch of a partition no task owns (polled just before its task was revoked or lost) is
    /// dropped: its records were not processed, so their offsets were not committed here.
    public func route(_ batches: consuming [InputBatch]) {
        for i in batches.indices {
            let partition = batches[i].partition
            guard let task = task(owning: partition), task.state != .closed else {
                logger.debug("dropping \(batches[i].records.count) records of \(partition): no task owns it now")
                continue
            }
            // Moved, not copied: the task then owns the only reference to the batch's array and
            // can set keys and timestamps in place (a shared array would be copied, record by
            // record, with a retain and a release of every field).
            var batch = InputBatch(partition: partition, records: [])
            swap(&batch, &batches[i])
            task.addBatch(batch)
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
            for task in tasks where task.state == .running { processed += try task.process() }
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
            for task in tasks where task.state == .running { processed += try task.process(maxRecords: maxRecords) }
            return processed
        }
    }

    /// Runs every task's due wall-clock punctuators.
    ///
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    public func punctuateWallClock() throws(StreamsError) {
        try failing { () throws(StreamsError) in
            for task in tasks where task.state == .running { try task.punctuateWallClock() }
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
    /// the changelog position it reflects, when due (``StreamsConfiguration/storeCommitInterval``;
    /// always before tasks close or are revoked).
    ///
    /// - Throws: ``StreamsError``; the engine's transaction is aborted and every task closed dirty.
    public func commit() throws(StreamsError) {
        try commit(tasks.filter { $0.state == .running || $0.state == .suspended })
    }

    /// Commits `active` as one unit (see ``commit()``); with no task to commit (all still
    /// restoring) there is nothing to make durable, and the engine is not asked.
    private func commit(_ active: [StreamTask], commitStores: Bool = false) throws(StreamsError) {
        guard !active.isEmpty else {
            lastCommitMs = clock.nowMs
            return
        }
        try failing { () throws(StreamsError) in
            var commits: [TaskCommit] = []
            for task in active { commits.append(try task.prepareCommit()) }
            let unit = CommitUnit(tasks: commits)
            let positions = try engine.commit(unit)
            for task in active {
                try task.postCommit(changelogPositions: positions, commitStores: commitStores)
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
        try commit(tasks.filter { $0.state == .running || $0.state == .suspended }, commitStores: true)
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
        guard !isFailed else {
            throw StreamsError(
                .illegalState, "the tasks were closed after an earlier failure; create new tasks to go on")
        }
        do {
            return try body()
        } catch  where error.isTaskScoped {
            // One task's partitions moved, its producer was fenced, or its state is corrupt:
            // only that task closes; the caller (the stream thread) goes on with the others.
            handleTaskError(error)
            throw error
        } catch {
            // The caller gets the error; logging it here too would report it twice.
            logger.debug("closing tasks after failure: \(error)")
            isFailed = true
            closeDirty()
            throw error
        }
    }
}

extension TaskManager: RebalanceListener {
    /// ``assign(_:)``.
    public func partitionsAssigned(_ partitions: [TopicPartition]) throws(StreamsError) { try assign(partitions) }
    /// ``revoke(_:)``.
    public func partitionsRevoked(_ partitions: [TopicPartition]) throws(StreamsError) { try revoke(partitions) }
    /// ``lose(_:)``.
    public func partitionsLost(_ partitions: [TopicPartition]) { lose(partitions) }
}
