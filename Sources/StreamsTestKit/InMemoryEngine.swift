public import StreamsCore
public import StreamsState

/// An engine that keeps input, output, changelogs and committed positions in memory, with the same
/// commit semantics as the real engines: output and changelog entries become visible only when
/// committed, and ``abort()`` discards them.
///
/// The ``TopologyTestDriver`` runs on it; tests of engines' contracts and of restore can use it
/// directly, and inject a commit failure with ``failNextCommit``.
public final class InMemoryEngine: StreamsEngine {
    /// One record written by a sink.
    public struct OutputRecord: Sendable {
        /// The sink's topic.
        public var topic: String
        /// The sink node's name.
        public var sink: String
        /// The record.
        public var record: Record
    }

    private var pendingInput: [TopicPartition: [Record]] = [:]
    private var inputOrder: [TopicPartition] = []
    private var paused: Set<TopicPartition> = []
    /// Every record ever enqueued, per partition, for ``restartAfterCrash()``.
    private var inputLog: [TopicPartition: [Record]] = [:]
    private var nextOffsets: [TopicPartition: Int64] = [:]
    private var pendingOutput: [(task: TaskId, output: OutputRecord)] = []
    /// The sinks resolved by ``sinkHandle(topic:sink:task:)``, by handle index.
    private var sinkTable: [(topic: String, name: String, task: TaskId)] = []
    private var rebalanceEvents: [RebalanceEvent] = []
    private weak var rebalanceListener: (any RebalanceListener)?

    /// A partition assignment change waiting for the next poll.
    private enum RebalanceEvent {
        case assigned([TopicPartition])
        case revoked([TopicPartition])
        case lost([TopicPartition])
    }
    private var sinks: [ChangelogID: InMemoryChangelog] = [:]

    /// Committed output records per topic, in commit order.
    public private(set) var committedOutput: [String: [OutputRecord]] = [:]
    /// Committed changelog entries per changelog; a position is an index into this array.
    public private(set) var committedChangelogs: [ChangelogID: [ChangelogEntry]] = [:]
    /// The committed offset (of the last consumed record) per input partition.
    public private(set) var committedOffsets: [TopicPartition: Int64] = [:]
    /// The committed stream time per task.
    public private(set) var committedStreamTimes: [TaskId: Int64] = [:]
    /// How many commits succeeded.
    public private(set) var commitCount = 0
    /// When set, the next ``commit(_:)`` fails (with code ``StreamsError/Code/engine``) and the flag
    /// resets, to test that nothing of a failed commit becomes visible.
    public var failNextCommit = false
    /// When set, ``poll(maxRecords:timeout:)`` extracts keys and timestamps itself, reading this
    /// clock, with the extractions its tasks offered (``adoptExtraction(_:for:)``), as an engine
    /// reading on a thread of its own does, so that tests can check both paths give the same
    /// results. `nil` (the default): the tasks extract.
    public var extractionClock: (any WallClock)?
    /// How many batches ``poll(maxRecords:timeout:)`` returned extracted.
    public private(set) var extractedBatchCount = 0
    private var extractions: [TopicPartition: RecordExtraction] = [:]

    /// Creates an empty engine.
    public init() {}

    /// Appends records to an input partition, giving each the next offset (0, 1, 2, …).
    public func enqueue(_ records: some Sequence<Record>, to partition: TopicPartition) {
        if pendingInput[partition] == nil { inputOrder.append(partition) }
        var offset = nextOffsets[partition, default: 0]
        for var record in records {
            record.origin = RecordOrigin(partition: partition, offset: offset)
            offset += 1
            pendingInput[partition, default: []].append(record)
            inputLog[partition, default: []].append(record)
        }
        nextOffsets[partition] = offset
    }

    /// Acts out a crash and restart of the process: everything uncommitted (output, changelog
    /// entries, input polled but not committed) is gone, and every input partition is read again
    /// from just after its committed offset. Committed output, changelogs, offsets and stream
    /// times stay, as a durable engine keeps them. Create new tasks (and a new task manager) on
    /// the engine afterwards; their stores restore from the committed changelogs.
    public func restartAfterCrash() {
        abort()
        pendingInput.removeAll()
        for partition in inputOrder {
            let after = committedOffsets[partition] ?? -1
            pendingInput[partition] = (inputLog[partition] ?? []).filter { ($0.origin?.offset ?? 0) > after }
        }
        paused.removeAll()
        rebalanceEvents.removeAll()
    }

    /// Whether input records wait to be polled.
    public var hasPendingInput: Bool { pendingInput.values.contains { !$0.isEmpty } }

    /// Returns pending input of the partitions not paused, in the order they were first
    /// enqueued, at most `maxRecords` records in all; never waits.
    public func poll(maxRecords: Int, timeout: Duration) throws(StreamsError) -> [InputBatch] {
        // Rebalance callbacks run inside poll, as a Kafka consumer's do.
        let events = rebalanceEvents
        rebalanceEvents.removeAll()
        for event in events {
            switch event {
            case .assigned(let partitions): try rebalanceListener?.partitionsAssigned(partitions)
            case .revoked(let partitions): try rebalanceListener?.partitionsRevoked(partitions)
            case .lost(let partitions): rebalanceListener?.partitionsLost(partitions)
            }
        }
        var batches: [InputBatch] = []
        var budget = maxRecords
        for partition in inputOrder where budget > 0 && !paused.contains(partition) {
            guard var records = pendingInput[partition], !records.isEmpty else { continue }
            let taken = Array(records.prefix(budget))
            records.removeFirst(taken.count)
            pendingInput[partition] = records
            budget -= taken.count
            var batch = InputBatch(partition: partition, records: taken)
            if let extractionClock, var extraction = extractions[partition] {
                extraction.extract(&batch, nowMs: extractionClock.nowMs)
                extractions[partition] = extraction
                extractedBatchCount += 1
            }
            batches.append(batch)
        }
        return batches
    }

    /// Keeps the extraction of `partition`, used when ``extractionClock`` is set.
    public func adoptExtraction(_ extraction: RecordExtraction, for partition: TopicPartition) {
        extractions[partition] = extraction
    }

    /// ``InputPartitionStatus/active`` while `partition` has records to poll, otherwise
    /// ``InputPartitionStatus/caughtUp``: a test may always enqueue more.
    public func status(of partition: TopicPartition) -> InputPartitionStatus {
        pendingInput[partition]?.isEmpty == false ? .active : .caughtUp
    }

    /// Assigns `partitions` at the next poll (the rebalance listener creates their tasks).
    public func assign(_ partitions: [TopicPartition]) { rebalanceEvents.append(.assigned(partitions)) }

    /// Revokes `partitions` at the next poll (their tasks commit and close cleanly).
    public func revoke(_ partitions: [TopicPartition]) { rebalanceEvents.append(.revoked(partitions)) }

    /// Loses `partitions` at the next poll (their tasks close dirty, committing nothing).
    public func lose(_ partitions: [TopicPartition]) { rebalanceEvents.append(.lost(partitions)) }

    /// Holds `listener` weakly and calls it from ``poll(maxRecords:timeout:)``.
    public func setRebalanceListener(_ listener: (any RebalanceListener)?) { rebalanceListener = listener }

    /// Stops polling `partitions` until ``resume(_:)``.
    public func pause(_ partitions: [TopicPartition]) { paused.formUnion(partitions) }

    /// Polls `partitions` again.
    public func resume(_ partitions: [TopicPartition]) { paused.subtract(partitions) }

    /// Numbers the sink; every topic can be written.
    public func sinkHandle(topic: String, sink: String, task: TaskId) throws(StreamsError) -> SinkHandle {
        sinkTable.append((topic, sink, task))
        return SinkHandle(sinkTable.count - 1)
    }

    /// Buffers `record` until commit.
    public func send(_ record: Record, to handle: SinkHandle) throws(StreamsError) {
        let sink = sinkTable[handle.index]
        pendingOutput.append((sink.task, OutputRecord(topic: sink.topic, sink: sink.name, record: record)))
    }

    /// A buffering sink for `changelog`, emptied into ``committedChangelogs`` at commit.
    public func changelogSink(for changelog: ChangelogID) -> any ChangelogSink {
        if let sink = sinks[changelog] { return sink }
        let sink = InMemoryChangelog()
        sinks[changelog] = sink
        return sink
    }

    /// Committed entries of `changelog` from index `position.offset`.
    public func readChangelog(
        _ changelog: ChangelogID,
        from position: ChangelogPosition,
        maxEntries: Int
    ) throws(StreamsError) -> ChangelogBatch {
        let entries = committedChangelogs[changelog] ?? []
        let start = Int(clamping: max(0, position.offset))
        guard start < entries.count else { return ChangelogBatch(entries: [], nextPosition: position) }
        let end = min(entries.count, start + maxEntries)
        return ChangelogBatch(entries: Array(entries[start..<end]), nextPosition: ChangelogPosition(Int64(end)))
    }

    /// The number of committed entries of `changelog`: a restore reads up to there.
    public func changelogEnd(_ changelog: ChangelogID) throws(StreamsError) -> ChangelogPosition? {
        ChangelogPosition(Int64(committedChangelogs[changelog]?.count ?? 0))
    }

    /// Moves everything pending to the committed state at once and returns the changelogs' lengths.
    public func commit(_ unit: CommitUnit) throws(StreamsError) -> [ChangelogID: ChangelogPosition] {
        if failNextCommit {
            failNextCommit = false
            throw StreamsError(.engine, "injected commit failure")
        }
        let committing = Set(unit.tasks.map(\.taskId))
        for pending in pendingOutput where committing.contains(pending.task) {
            committedOutput[pending.output.topic, default: []].append(pending.output)
        }
        pendingOutput.removeAll { committing.contains($0.task) }
        var positions: [ChangelogID: ChangelogPosition] = [:]
        for task in unit.tasks {
            for (partition, offset) in task.consumedOffsets { committedOffsets[partition] = offset }
            committedStreamTimes[task.taskId] = task.streamTimeMs
            for changelog in task.changelogs {
                if let sink = sinks[changelog] {
                    committedChangelogs[changelog, default: []].append(contentsOf: sink.entries)
                    sink.removeAll()
                }
                positions[changelog] = ChangelogPosition(Int64(committedChangelogs[changelog]?.count ?? 0))
            }
        }
        commitCount += 1
        return positions
    }

    /// Discards pending output and changelog entries.
    public func abort() {
        pendingOutput.removeAll()
        for sink in sinks.values { sink.removeAll() }
    }

    /// Discards `task`'s pending output and changelog entries; the other tasks' stay.
    public func abort(task: TaskId) {
        pendingOutput.removeAll { $0.task == task }
        for (id, sink) in sinks where id.taskId == task { sink.removeAll() }
    }

    /// The committed stream time of `task`.
    public func committedStreamTimeMs(for task: TaskId) -> Int64? {
        committedStreamTimes[task]
    }

    /// Forgets the pending input (what a crashed process would not have read yet is still in
    /// the source; here tests re-enqueue what they want replayed).
    public func dropPendingInput() {
        pendingInput.removeAll()
        inputOrder.removeAll()
    }
}
