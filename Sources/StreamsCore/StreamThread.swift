public import Logging
internal import StreamsState

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The processing loop: poll the engine, choose which buffered records may be processed,
/// process them, punctuate, commit on the interval, and stop gracefully. Every engine runs its
/// tasks through it (the embedded engine's `dedup run`, the test kit's driver, the Kafka engine
/// to come), so the record order is decided in one place.
///
/// One iteration (``runOnce()``):
/// 1. Partitions whose task still has records buffered are paused and the others resumed
///    (``RecordPoller/pause(_:)``), so that a poll reads only partitions that ran empty.
/// 2. ``RecordPoller/poll(maxRecords:timeout:)``; the batches go to the tasks owning them.
/// 3. Each running task processes as many records as it can without the order depending on the
///    read batches: as many as the fewest buffered in any partition that may still deliver an
///    earlier record (``InputPartitionStatus``: active and failed partitions, and partitions the
///    task stopped at an invalid record (``StreamTask/inputFailure(for:)``) count, ended ones
///    never, caught-up ones only for ``StreamsConfiguration/maxTaskIdle``), at most
///    ``StreamsConfiguration/maxRecordsPerIteration``. Within them the task takes the smallest
///    head timestamp first, ties to the partition listed first.
/// 4. Due wall-clock punctuators run; the tasks commit if the commit interval passed.
///
/// ``run(shouldStop:onIteration:)`` repeats this until every partition ended and every buffered
/// record was processed (bounded inputs), a partition failed and its buffer was used up (then it
/// commits and throws the partition's error), or `shouldStop` returns true (then it commits what
/// was processed; records read but not processed are not committed, so the next run reads them
/// again).
///
/// Kafka Streams counterpart: `StreamThread.runOnce()` with `PartitionGroup`'s record choice and
/// `max.task.idle.ms`.
///
/// - Important: Not `Sendable`; runs on one thread, the one that created the tasks' stores.
public final class StreamThread {
    /// What one iteration did.
    public struct Iteration: Sendable, Hashable {
        /// Records the poll returned.
        public var polled: Int
        /// Records the tasks processed.
        public var processed: Int
        /// Whether a commit ran.
        public var committed: Bool
        /// Changelog entries restored.
        public var restored: Int = 0
    }

    /// Why ``run(shouldStop:onIteration:)`` returned.
    public enum Completion: Sendable, Hashable {
        /// Every partition ended and every record was processed.
        case inputsEnded
        /// `shouldStop` returned true.
        case stopped
    }

    /// The task manager whose tasks this thread runs.
    public let taskManager: TaskManager
    private let engine: any StreamsEngine
    private let configuration: StreamsConfiguration
    private let clock: any WallClock
    private let logger: Logger
    private var paused: Set<TopicPartition> = []
    /// When each caught-up partition was first seen caught up with an empty buffer.
    private var caughtUpSinceMs: [TopicPartition: Int64] = [:]

    /// Creates a thread for the manager's tasks (started or not: ``run(shouldStop:onIteration:)``
    /// starts them).
    ///
    /// - Parameters:
    ///   - taskManager: The tasks and their engine.
    ///   - configuration: Batch sizes, the commit interval and ``StreamsConfiguration/maxTaskIdle``.
    ///   - clock: The wall clock (the tasks' clock).
    ///   - logger: The logger.
    public init(taskManager: TaskManager, configuration: StreamsConfiguration, clock: any WallClock, logger: Logger) {
        self.taskManager = taskManager
        self.engine = taskManager.engine
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        engine.setRebalanceListener(taskManager)
    }

    /// Runs the loop until the inputs end, a partition fails or `shouldStop` returns true, then
    /// commits and closes the tasks.
    ///
    /// - Parameters:
    ///   - shouldStop: Polled once per iteration; true stops the loop gracefully.
    ///   - onIteration: Called after each iteration (progress reporting); idle iterations
    ///     (nothing polled or processed) are followed by a short sleep when the engine's poll
    ///     does not wait itself.
    /// - Returns: Why the loop ended.
    /// - Throws: ``StreamsError``: a failed partition's error once the records before it are
    ///   committed, or a processing, store or engine failure (every task is then closed dirty
    ///   and nothing of the uncommitted batch stays).
    public func run(
        shouldStop: () -> Bool = { false },
        onIteration: (Iteration) -> Void = { _ in }
    ) throws(StreamsError) -> Completion {
        while true {
            if shouldStop() {
                try taskManager.close()
                return .stopped
            }
            let iteration = try runOnce()
            onIteration(iteration)
            switch try finished() {
            case .some(.success):
                try taskManager.close()
                return .inputsEnded
            case .some(.failure(let error)):
                try taskManager.close()
                throw error
            case nil:
                break
            }
            if iteration.polled == 0 && iteration.processed == 0 && !taskManager.hasTasksToRestore {
                idleWait()
            }
        }
    }

    /// One iteration: pause/resume, poll, process what may be processed, punctuate, maybe commit.
    ///
    /// - Returns: What it did.
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    @discardableResult
    public func runOnce() throws(StreamsError) -> Iteration {
        do {
            return try iterate()
        } catch  where error.isTaskScoped {
            // The task manager closed that task; the others go on.
            return Iteration(polled: 0, processed: 0, committed: false)
        }
    }

    private func iterate() throws(StreamsError) -> Iteration {
        // Tasks still restoring get one changelog batch per iteration, so that polling (and a
        // stop request) is never held up by a long restore; their partitions stay paused.
        var restored = 0
        if taskManager.hasTasksToRestore { restored = try taskManager.restoreStep() }
        updatePaused()
        let polled = try taskManager.pollAndRoute(maxRecords: configuration.maxRecordsPerIteration, timeout: .zero)
        var processed = 0
        let nowMs = clock.nowMs
        for task in taskManager.tasks where task.state == .running {
            let processable = processableCount(task, nowMs: nowMs)
            if processable > 0 {
                processed += try taskManager.process(task, maxRecords: processable)
            }
        }
        try taskManager.punctuateWallClock()
        let committed = try taskManager.maybeCommit()
        return Iteration(polled: polled, processed: processed, committed: committed, restored: restored)
    }

    /// Polls and processes until nothing more can be processed now (every buffered record that
    /// may be processed was, and a poll brings nothing), without committing: for drivers that
    /// decide when to commit (the test kit). A partition stopped at an invalid record
    /// (``StreamTask/inputFailure(for:)``) then throws its error; the task stays open.
    ///
    /// - Returns: The number of records processed.
    /// - Throws: ``StreamsError``; every task is then closed dirty.
    @discardableResult
    public func processAvailable() throws(StreamsError) -> Int {
        var total = 0
        while true {
            // Every task restores fully first: this driver has no reason to interleave.
            var restored = false
            while taskManager.hasTasksToRestore {
                try taskManager.restoreStep()
                restored = true
            }
            updatePaused()
            let polled = try taskManager.pollAndRoute(
                maxRecords: configuration.maxRecordsPerIteration, timeout: .zero)
            var processed = 0
            let nowMs = clock.nowMs
            for task in taskManager.tasks where task.state == .running {
                let processable = processableCount(task, nowMs: nowMs)
                if processable > 0 { processed += try taskManager.process(task, maxRecords: processable) }
            }
            total += processed
            // Records polled, processed, or tasks started (a rebalance may assign more): go on.
            if polled == 0 && processed == 0 && !restored && !taskManager.hasTasksToRestore {
                // A partition stopped at an invalid record, with everything before it processed.
                for task in taskManager.tasks where task.state == .running {
                    for partition in task.inputs {
                        if let error = task.inputFailure(for: partition), task.bufferedRecordCount(for: partition) == 0
                        {
                            throw error
                        }
                    }
                }
                return total
            }
        }
    }

    /// The number of `task`'s buffered records that may be processed now (see the type's
    /// documentation), capped at ``StreamsConfiguration/maxRecordsPerIteration``.
    func processableCount(_ task: StreamTask, nowMs: Int64) -> Int {
        var processable = Int.max
        for partition in task.inputs {
            let buffered = task.bufferedRecordCount(for: partition)
            if task.inputFailure(for: partition) != nil {
                processable = min(processable, buffered)
                continue
            }
            switch engine.status(of: partition) {
            case .active, .failed:
                caughtUpSinceMs[partition] = nil
                processable = min(processable, buffered)
            case .ended:
                caughtUpSinceMs[partition] = nil
            case .caughtUp:
                guard buffered == 0 else {
                    caughtUpSinceMs[partition] = nil
                    processable = min(processable, buffered)
                    continue
                }
                let since = caughtUpSinceMs[partition] ?? nowMs
                caughtUpSinceMs[partition] = since
                if nowMs - since < configuration.maxTaskIdle.milliseconds { processable = 0 }
            }
        }
        if processable == .max { processable = task.bufferedRecordCount }
        return min(processable, configuration.maxRecordsPerIteration)
    }

    /// `.success` when every partition ended and nothing is buffered; `.failure` when a failed
    /// partition's buffer is used up; `nil` to go on.
    private func finished() throws(StreamsError) -> Result<Void, StreamsError>? {
        guard !taskManager.tasks.isEmpty else { return nil }  // waiting for an assignment
        guard !taskManager.hasTasksToRestore else { return nil }
        var allEnded = true
        for task in taskManager.tasks where task.state == .running {
            for partition in task.inputs {
                if let error = task.inputFailure(for: partition) {
                    if task.bufferedRecordCount(for: partition) == 0 { return .failure(error) }
                    allEnded = false
                    continue
                }
                switch engine.status(of: partition) {
                case .failed(let error):
                    if task.bufferedRecordCount(for: partition) == 0 { return .failure(error) }
                    allEnded = false
                case .ended:
                    continue
                case .active, .caughtUp:
                    allEnded = false
                }
            }
            if task.bufferedRecordCount > 0 { allEnded = false }
        }
        return allEnded ? .success(()) : nil
    }

    /// Pauses the partitions that have records buffered and resumes the others.
    private func updatePaused() {
        var pause: [TopicPartition] = []
        var resume: [TopicPartition] = []
        for task in taskManager.tasks where task.state != .closed {
            for partition in task.inputs {
                // A task not running yet (restoring) reads nothing: its partitions stay paused.
                // So does a partition stopped at an invalid record (``StreamTask/inputFailure(for:)``).
                let hasBuffered =
                    task.state != .running || task.bufferedRecordCount(for: partition) > 0
                    || task.inputFailure(for: partition) != nil
                if hasBuffered && !paused.contains(partition) {
                    pause.append(partition)
                    paused.insert(partition)
                } else if !hasBuffered && paused.contains(partition) {
                    resume.append(partition)
                    paused.remove(partition)
                }
            }
        }
        if !pause.isEmpty { engine.pause(pause) }
        if !resume.isEmpty { engine.resume(resume) }
    }

    /// Waits a little when an iteration found nothing to do (a followed file not growing).
    private func idleWait() {
        usleep(20_000)
    }
}
