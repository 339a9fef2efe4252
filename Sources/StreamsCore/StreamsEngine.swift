public import StreamsState

/// Everything a runtime needs from the world outside the topology: input, output, changelogs and
/// an atomic commit. A ``TaskManager`` drives ``StreamTask``s through it.
///
/// The seam has five roles, each its own protocol so that tests can fake one at a time:
/// ``RecordPoller`` (pull input batches with positions), ``RecordCollector`` (collect output per
/// sink), ``ChangelogWriter`` (a buffering ``ChangelogSink`` per store), ``ChangelogReader`` (read
/// a changelog from a position, for restore) and ``CommitCoordinator`` (make {output, changelog
/// entries, input positions, stream time} durable as one unit).
///
/// ## The commit protocol (exactly-once)
/// 1. Each task's ``StreamTask/prepareCommit()`` reports the offsets of the last records it
///    processed and its stream time. Output and changelog entries already sit in the engine's
///    buffers (sent through ``RecordCollector`` and the stores' ``ChangelogSink``s).
/// 2. ``CommitCoordinator/commit(_:)`` makes all of it durable atomically and returns, per
///    changelog, the position now durable (just past its last entry).
/// 3. Only then each task's ``StreamTask/postCommit(changelogPositions:commitStores:)`` commits
///    its stores' own transactions with metadata `["changelog.position": position]`, when due
///    (``StreamsConfiguration/storeCommitInterval``; always before a task closes); in between
///    the stores keep their writes in their open transactions, behind their changelogs.
///
/// A crash between 2 and 3 leaves a store *behind* its changelog, never ahead; on restart the task
/// (state RESTORING) reads the store's recorded position, asks ``ChangelogReader`` for the entries
/// after it and replays them with ``WindowStore/restore(from:)`` before processing resumes from
/// the committed input positions. A failed commit is followed by ``CommitCoordinator/abort()`` and
/// the tasks closing dirty: nothing of the batch is visible, and the batch is processed again.
///
/// ## How the two engines implement it
/// - **Embedded engine (JSON Lines files).** `poll` reads lines from the input files into one
///   buffer per batch; a record's offset is the byte offset just after its line, so a restart
///   resumes at the committed offset itself. `send` buffers output lines per output file; changelog sinks buffer entries
///   per store. `commit` appends the output buffers to the output files and fsyncs them, then writes
///   the checkpoint atomically (temp file, fsync, rename, fsync directory): per input the committed
///   offset, per output the committed file length, the stream times, and the changelog entries
///   (appended to a per-store changelog file fsynced before the rename, whose length the checkpoint
///   records). The checkpoint rename is the commit point: on restart outputs are truncated to the
///   checkpointed lengths and changelog files to theirs, discarding anything of an uncommitted
///   batch. A changelog position packs the changelog file's generation and the byte offset
///   after its last entry (`generation << 40 | offset`). `abort` drops the buffers.
/// - **Kafka engine (librdkafka, `exactly_once_v2`).** `poll` consumes with
///   `isolation.level=read_committed`; offsets are Kafka offsets and restart resumes at
///   `offset + 1`. A transaction is begun at the first `send` after a commit; `send` produces to the
///   sink's topic and changelog sinks produce to `<applicationId>-<store>-changelog` (partition =
///   task partition), both inside the transaction. `commit` calls `send_offsets_to_transaction`
///   with `offset + 1` per input partition (stream time encoded in the offset metadata, as Kafka
///   Streams does) and `commit_transaction`; the changelog position returned is the offset after
///   the last changelog record produced, taken from the delivery reports. `abort` calls
///   `abort_transaction`. `ChangelogReader` is a separate `read_committed` consumer assigned to
///   the changelog partition.
public typealias StreamsEngine = RecordPoller & RecordCollector & ChangelogWriter & ChangelogReader & CommitCoordinator

/// Pulls batches of input records with their positions (role 1 of ``StreamsEngine``).
///
/// Kafka Streams counterpart: the main consumer's `poll`.
public protocol RecordPoller: AnyObject {
    /// Returns the records available now, at most `maxRecords` in all, waiting at most `timeout`
    /// for the first; an empty array when there are none.
    ///
    /// Each record's ``Record/origin`` must be set; within a partition offsets increase. Key and
    /// value should be slices of one buffer per batch.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/engine``.
    func poll(maxRecords: Int, timeout: Duration) throws(StreamsError) -> [InputBatch]

    /// Where `partition` stands after the last ``poll(maxRecords:timeout:)``: whether more
    /// records may come, none are there now, the input ended, or its next record cannot be read.
    /// The ``StreamThread`` decides from it which buffered records may be processed (see
    /// ``InputPartitionStatus``).
    func status(of partition: TopicPartition) -> InputPartitionStatus

    /// Stops fetching `partitions` until ``resume(_:)``: the stream thread pauses the partitions
    /// that still have records buffered in their task, so that a poll reads only the others
    /// (Kafka Streams pauses a partition whose buffer is full). Pausing twice is harmless.
    func pause(_ partitions: [TopicPartition])

    /// Fetches `partitions` again after ``pause(_:)``.
    func resume(_ partitions: [TopicPartition])

    /// Tells the engine whom to call when its input partitions change (a consumer group's
    /// rebalance): the stream thread passes its task manager. Engines with a fixed set of
    /// partitions ignore it (the default). Engines hold the listener weakly, and call it from
    /// inside ``poll(maxRecords:timeout:)``, on the stream thread: a revocation commits and closes
    /// the affected tasks before the call returns, as Kafka's eager rebalance protocol requires.
    func setRebalanceListener(_ listener: (any RebalanceListener)?)

    /// Offers the engine the source extraction of `partition` (keys and event times from the
    /// records' bytes), once, when the task owning the partition is created: an engine that reads
    /// on a thread of its own can run it there, so that batch N+1 is read and extracted while
    /// the stream thread processes batch N. Such an engine calls
    /// ``RecordExtraction/extract(_:nowMs:)`` on every batch of the partition before returning it
    /// from ``poll(maxRecords:timeout:)``; a batch not marked extracted is extracted by its task.
    /// The default ignores the offer (the task extracts on the stream thread).
    func adoptExtraction(_ extraction: RecordExtraction, for partition: TopicPartition)
}

/// Receives an engine's partition assignment changes (``RecordPoller/setRebalanceListener(_:)``);
/// ``TaskManager`` implements it by creating, committing and closing tasks.
///
/// Kafka Streams counterpart: `StreamsRebalanceListener` over the consumer's
/// `ConsumerRebalanceListener`.
public protocol RebalanceListener: AnyObject {
    /// New partitions: the tasks owning them are created (then restored and started by the
    /// stream thread).
    ///
    /// - Throws: ``StreamsError`` when a task cannot be created.
    func partitionsAssigned(_ partitions: [TopicPartition]) throws(StreamsError)
    /// Partitions leaving cleanly: their tasks commit and close before this returns.
    ///
    /// - Throws: ``StreamsError`` from the commit; the tasks are then closed dirty.
    func partitionsRevoked(_ partitions: [TopicPartition]) throws(StreamsError)
    /// Partitions already owned by another instance: their tasks close dirty, committing nothing.
    func partitionsLost(_ partitions: [TopicPartition])
}

extension RecordPoller {
    /// Ignores the listener: the engine's partitions never change.
    public func setRebalanceListener(_ listener: (any RebalanceListener)?) {}

    /// Ignores the offer: the task extracts keys and timestamps itself.
    public func adoptExtraction(_ extraction: RecordExtraction, for partition: TopicPartition) {}
}

/// Where an input partition stands, as its engine reports it
/// (``RecordPoller/status(of:)``).
///
/// The stream thread processes a task's buffered records only while every partition that may
/// still deliver an earlier record has one buffered, so that the smallest-timestamp-first choice
/// does not depend on how reads were batched: ``active`` and ``failed`` partitions hold
/// processing back when their buffer is empty; ``ended`` ones never do; ``caughtUp`` ones do for
/// at most ``StreamsConfiguration/maxTaskIdle`` (Kafka Streams' `max.task.idle.ms`).
public enum InputPartitionStatus: Sendable {
    /// More records may be read now.
    case active
    /// No record is there now, but more may come (a followed file at its end; a Kafka partition
    /// at its end offset).
    case caughtUp
    /// The input ended: every record was read (a file without following).
    case ended
    /// The next record cannot be read (an invalid line under the `fail` policy): once the
    /// partition's buffered records are processed, the thread commits and stops with this error.
    case failed(StreamsError)
}

/// Records read from one input partition, in offset order.
public struct InputBatch: Sendable {
    /// The partition they were read from.
    public var partition: TopicPartition
    /// The records, in offset order, with ``Record/origin`` set.
    public var records: [Record]
    /// Whether the partition's ``RecordExtraction`` already gave the records their keys and
    /// timestamps (an engine that adopted it; ``RecordPoller/adoptExtraction(_:for:)``).
    public internal(set) var isExtracted = false
    /// The invalid records the extraction found: index in ``records`` and error, in order.
    var invalidRecords: [(index: Int, error: StreamsError)] = []
    /// The first record the extraction found beyond its `warnAhead`, with the warning.
    var aheadWarning: (origin: RecordOrigin?, message: String)?

    /// Creates a batch.
    public init(partition: TopicPartition, records: [Record]) {
        self.partition = partition
        self.records = records
    }
}

/// Collects the records sinks write (role 2 of ``StreamsEngine``); they become visible at commit.
///
/// Kafka Streams counterpart: `RecordCollector`.
public protocol RecordCollector: AnyObject {
    /// Resolves a sink of `task` once, when the task is created: the handle then identifies the
    /// sink's topic (an output file, a Kafka topic and its producer) in every ``send(_:to:)``, so
    /// that sending a record needs no lookup by topic name.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/engine`` (or
    ///   ``StreamsError/Code/invalidConfiguration`` for a topic the engine cannot write).
    func sinkHandle(topic: String, sink: String, task: TaskId) throws(StreamsError) -> SinkHandle

    /// Buffers or sends `record` to the sink `handle` resolved; it must become durable with the
    /// next commit and be discarded by ``CommitCoordinator/abort()``. The engine picks the
    /// partition (a file has one; Kafka hashes the key, as Kafka Streams' default partitioner).
    ///
    /// - Parameters:
    ///   - record: The record; its slices may be kept (they keep their buffer alive).
    ///   - handle: The sink, from ``sinkHandle(topic:sink:task:)``.
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/engine``.
    func send(_ record: Record, to handle: SinkHandle) throws(StreamsError)

    /// Where `origin` is, for people: `orders.jsonl:42` for a line of a file,
    /// `orders-2@1187` for a Kafka record. The runtime puts it in front of the message of an
    /// invalid record. Default: ``RecordOrigin/description``.
    func describe(_ origin: RecordOrigin) -> String
}

extension RecordCollector {
    /// ``RecordOrigin/description``: `<topic>-<partition>@<offset>`.
    public func describe(_ origin: RecordOrigin) -> String { origin.description }
}

/// A sink resolved by its engine (``RecordCollector/sinkHandle(topic:sink:task:)``): an index
/// into the engine's own table of outputs.
public struct SinkHandle: Sendable, Hashable {
    /// The engine's index for the sink.
    public var index: Int

    /// Creates a handle; engines number their sinks.
    public init(_ index: Int) { self.index = index }
}

/// Gives each changelogged store of each task a changelog sink that buffers until commit
/// (role 3 of ``StreamsEngine``).
public protocol ChangelogWriter: AnyObject {
    /// The sink for `changelog`; the task attaches it with ``StateStore/loggingChanges(to:)``.
    /// Entries appended become durable with the next commit and are discarded by
    /// ``CommitCoordinator/abort()``.
    func changelogSink(for changelog: ChangelogID) -> any ChangelogSink
}

/// Reads committed changelog entries, for restoring stores (role 5 of ``StreamsEngine``).
///
/// Kafka Streams counterpart: the restore consumer of `StoreChangelogReader`.
public protocol ChangelogReader: AnyObject {
    /// Up to `maxEntries` committed entries of `changelog` from `position` on, in order, and the
    /// position after the last one returned. An empty batch at the end means the store is
    /// caught up; an engine whose reads can time out also reports ``changelogEnd(_:)``, so that
    /// an empty batch before the end is not taken for the end.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/engine``, or
    ///   ``StreamsError/Code/taskCorrupted`` (with the task's id) when `position` is out of the
    ///   changelog's range (deleted by retention): the store must be rebuilt from the beginning.
    func readChangelog(
        _ changelog: ChangelogID,
        from position: ChangelogPosition,
        maxEntries: Int
    ) throws(StreamsError) -> ChangelogBatch

    /// The position just past the last committed entry of `changelog`, which the restore of a
    /// store reads up to; the task asks once, when its restore starts. `nil` when the engine
    /// cannot tell (then an empty batch ends the restore). A Kafka end offset counts transaction
    /// markers: the restore compares positions, never "last offset + 1". Default: `nil`.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/engine``.
    func changelogEnd(_ changelog: ChangelogID) throws(StreamsError) -> ChangelogPosition?

    /// Where `changelog` is, for people: `orders-dedup-store-changelog[2]` for a Kafka topic's
    /// partition. The runtime names it in restore errors. Default: ``ChangelogID/description``.
    func describe(_ changelog: ChangelogID) -> String
}

extension ChangelogReader {
    /// `nil`: the engine cannot tell; an empty batch ends a restore.
    public func changelogEnd(_ changelog: ChangelogID) throws(StreamsError) -> ChangelogPosition? { nil }

    /// ``ChangelogID/description``.
    public func describe(_ changelog: ChangelogID) -> String { changelog.description }
}

/// Makes the buffered output, changelog entries and input positions of a batch durable as one
/// unit (role 4 of ``StreamsEngine``).
///
/// Kafka Streams counterpart: `StreamsProducer.commitTransaction(offsets, groupMetadata)`.
public protocol CommitCoordinator: AnyObject {
    /// Atomically makes durable everything sent and appended since the last commit, together with
    /// the input positions and stream times of `unit`.
    ///
    /// - Returns: For each changelog named in `unit`, the position just past its last durable entry.
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/engine``; then nothing of the unit
    ///   may become visible, and the caller calls ``abort()``.
    func commit(_ unit: CommitUnit) throws(StreamsError) -> [ChangelogID: ChangelogPosition]

    /// Discards everything sent and appended since the last commit.
    func abort()

    /// Discards what `task` sent and appended since the last commit (its transaction), for a
    /// task closed dirty while the others go on. Default: ``abort()`` (engines with one
    /// transaction for all tasks).
    func abort(task: TaskId)

    /// Called after a commit, once every task's stores committed their own transactions: the
    /// place for upkeep that needs stores and changelog in agreement (the embedded engine
    /// rewrites an oversized changelog from the store's live entries here). Default: nothing.
    ///
    /// - Throws: ``StreamsError``; the stream thread stops (the commit itself stands).
    func didCommit(_ tasks: [StreamTask]) throws(StreamsError)

    /// The stream time committed for `task`, or `nil` if it never committed; a restarted task
    /// starts from it so that stream time never goes back.
    func committedStreamTimeMs(for task: TaskId) -> Int64?
}

extension CommitCoordinator {
    /// Does nothing.
    public func didCommit(_ tasks: [StreamTask]) throws(StreamsError) {}

    /// Aborts everything (``abort()``).
    public func abort(task: TaskId) { abort() }
}

/// Identifies one store's changelog: the task it belongs to and the store's name.
///
/// Kafka counterpart: the changelog topic `<applicationId>-<store>-changelog`, partition = task's.
public struct ChangelogID: Sendable, Hashable, CustomStringConvertible {
    /// The task owning the store.
    public var taskId: TaskId
    /// The store's name.
    public var storeName: String

    /// Creates an id.
    public init(taskId: TaskId, storeName: String) {
        self.taskId = taskId
        self.storeName = storeName
    }

    /// `"<storeName>-changelog-<taskId>"`.
    public var description: String { "\(storeName)-changelog-\(taskId)" }
}

/// A position in a changelog: the engine's offset of the *next* entry (so a store that recorded
/// position `p` has applied every entry before `p`).
public struct ChangelogPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The metadata key under which a store records the changelog position it reflects.
    public static let metadataKey = "changelog.position"
    /// The start of every changelog.
    public static let beginning = ChangelogPosition(0)

    /// The engine-defined offset: a Kafka offset; for the embedded engine the changelog file's
    /// generation and byte offset packed as `generation << 40 | offset`; for the in-memory
    /// engine an entry count.
    public var offset: Int64

    /// Creates a position.
    public init(_ offset: Int64) { self.offset = offset }

    /// Decodes the 8-byte big-endian form stored in store metadata; `nil` for other lengths.
    public init?(metadata bytes: [UInt8]) {
        guard bytes.count == 8 else { return nil }
        offset = bytes.reduce(0) { ($0 << 8) | Int64($1) }
    }

    /// The 8-byte big-endian form stored in store metadata.
    public var metadata: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: offset >> (56 - 8 * $0)) }
    }

    /// The offset.
    public var description: String { "\(offset)" }

    /// Orders by offset.
    public static func < (lhs: ChangelogPosition, rhs: ChangelogPosition) -> Bool { lhs.offset < rhs.offset }
}

/// Committed changelog entries read for restore.
public struct ChangelogBatch: Sendable {
    /// The entries, in changelog order; empty when the reader is caught up.
    public var entries: [ChangelogEntry]
    /// The position after the last entry returned. When `entries` is empty: the `from` position,
    /// or a later one when the reader moved past records that are not entries (Kafka transaction
    /// markers); the restore goes on from it.
    public var nextPosition: ChangelogPosition

    /// Creates a batch.
    public init(entries: [ChangelogEntry], nextPosition: ChangelogPosition) {
        self.entries = entries
        self.nextPosition = nextPosition
    }
}

/// Everything that must become durable in one commit.
public struct CommitUnit: Sendable {
    /// One entry per task taking part.
    public var tasks: [TaskCommit]

    /// Creates a unit.
    public init(tasks: [TaskCommit]) { self.tasks = tasks }
}

/// One task's part of a ``CommitUnit``.
public struct TaskCommit: Sendable, Hashable {
    /// The task.
    public var taskId: TaskId
    /// Per input partition, the offset of the last record the task processed (consumed, including
    /// skipped and dead-lettered records). Restart resumes after it. Partitions without any
    /// processed record are absent.
    public var consumedOffsets: [TopicPartition: Int64]
    /// The task's stream time (`Int64.min` before any record).
    public var streamTimeMs: Int64
    /// The changelogs of the task's changelogged stores; the commit returns a position for each.
    public var changelogs: [ChangelogID]

    /// Creates a task commit.
    public init(
        taskId: TaskId, consumedOffsets: [TopicPartition: Int64], streamTimeMs: Int64, changelogs: [ChangelogID]
    ) {
        self.taskId = taskId
        self.consumedOffsets = consumedOffsets
        self.streamTimeMs = streamTimeMs
        self.changelogs = changelogs
    }
}
