package import Logging
package import StreamsCore
package import StreamsState
internal import StreamsJSON

/// The embedded engine: JSON Lines files in, JSON Lines files out, a local changelog, and an
/// atomically replaced checkpoint file as the commit point. It implements the runtime's engine
/// seam (``StreamsEngine``) for one task whose input partitions are the input files (see
/// ``EmbeddedStreams`` for the public way to run a topology on it).
///
/// The commit (exactly-once): append the buffered output lines to the output files and fsync
/// them; append the buffered changelog records and fsync; then replace `checkpoint.json`
/// (temporary file, fsync, rename, fsync of the directory) with the input positions after the
/// last processed lines, the output and changelog lengths and the stream time. The rename is the
/// commit point; only after it does the store commit its own transaction (the task's
/// post-commit). On restart outputs and the changelog are cut back to the checkpoint's lengths.
///
/// Records: the value is the input line (without its newline), no key, the timestamp the wall
/// clock when the line was read, and the origin offset the byte offset *after* the line, so that
/// a committed offset is where reading resumes. Keys and event times come from the source's
/// extractors, which the runtime applies (``RecordKeyExtractor``, ``RecordTimestampExtractor``);
/// ``describe(_:)`` names a record's file and line for their messages.
///
/// - Important: Not `Sendable`; used from the job's thread only.
package final class EmbeddedEngine: StreamsEngine {
    /// One input file.
    package final class Input {
        package let path: String
        let partition: TopicPartition
        package let reader: LineReader
        /// The end of input was reached (never in follow mode until stopped).
        var exhausted = false
        /// The input has no new data right now (follow mode).
        var idle = false
        /// `(end offset, line number)` of each record handed to the task and not yet committed.
        @exclusivity(unchecked) var pending: [(endOffset: Int64, line: Int64)] = []
        @exclusivity(unchecked) var pendingHead = 0
        /// The committed position: resume offset and the number of the last line before it.
        var committed: Checkpoint.Input
        /// The offset `committed.fingerprint` was computed for (-1: not yet).
        var fingerprintOffset: Int64 = -1
        /// The number of the last line handed to the task (or committed before this run).
        package private(set) var deliveredLineNumber: Int64
        /// The source's key and time extraction, run where the input is read ahead.
        var extraction: RecordExtraction?
        /// The read-ahead failure already thrown: thrown again by every later poll.
        var readFailure: EngineFailure?

        init(path: String, partition: TopicPartition, reader: LineReader, committed: Checkpoint.Input) {
            self.path = path
            self.partition = partition
            self.reader = reader
            self.committed = committed
            self.deliveredLineNumber = committed.lineNumber
        }

        /// Takes a batch read (here or ahead): its lines become pending until committed.
        func deliver(_ lines: [(endOffset: Int64, line: Int64)]) {
            idle = false
            pending.append(contentsOf: lines)
            if let last = lines.last { deliveredLineNumber = last.line }
        }

        /// Brings `committed.fingerprint` up to `committed.byteOffset` (at a commit: reads at most
        /// 8 KiB, and only when the position moved).
        func updateFingerprint() throws(EmbeddedError) {
            guard fingerprintOffset != committed.byteOffset else { return }
            committed.fingerprint = try reader.fingerprint(before: committed.byteOffset)
            fingerprintOffset = committed.byteOffset
        }

        /// The number of the line that ends at `endOffset`, if it was read and not committed.
        func lineNumber(endingAt endOffset: Int64) -> Int64? {
            if endOffset == committed.byteOffset { return committed.lineNumber }
            var low = pendingHead
            var high = pending.count
            while low < high {
                let mid = (low + high) / 2
                if pending[mid].endOffset < endOffset { low = mid + 1 } else { high = mid }
            }
            return low < pending.count && pending[low].endOffset == endOffset ? pending[low].line : nil
        }
    }

    package let configuration: EmbeddedConfiguration
    package let state: StateDirectory?
    package let inputs: [Input]
    /// The input of each partition.
    private let inputByPartition: [TopicPartition: Int]
    private var outputs: [String: OutputFile] = [:]
    /// The output file of each sink handle (``sinkHandle(topic:sink:task:)``).
    /// The output of each sink handle; unmanaged, so that sending a record does not retain and
    /// release it (`outputs` owns them, and holds every output until the engine goes).
    @exclusivity(unchecked) private var sinkOutputs: [Unmanaged<OutputFile>] = []
    /// Outputs of the checkpoint that this run does not write, carried into its checkpoints.
    private var carriedOutputs: [Checkpoint.Output] = []
    package private(set) var changelog: ChangelogFile?
    private let changelogForwarder = ChangelogForwarder()
    /// The changelog the forwarder serves: the embedded engine keeps one per state directory.
    private var changelogOwner: ChangelogID?
    package private(set) var checkpoint: Checkpoint?
    private let clock: any WallClock
    private let logger: Logger
    /// Inputs the stream thread paused (their task still has records buffered).
    private var paused: Set<Int> = []
    /// Lines read in this run.
    @exclusivity(unchecked) package private(set) var recordsRead = 0
    /// Changelog entries handed to a restoring store in this run.
    package private(set) var restoredEntries = 0

    deinit {
        readAhead?.stop()
    }

    private var isExactlyOnce: Bool { configuration.guarantee == .exactlyOnce && state != nil }

    /// The state directory's path, for messages.
    private var stateDirectoryName: String { state?.path ?? configuration.stateDirectory ?? "(none)" }

    /// Opens the state, the outputs (cut back to the last commit) and the inputs (at it).
    ///
    /// - Parameters:
    ///   - state: The locked state directory, or `nil` for no durability.
    ///   - logger: Where the engine reports what it does.
    package init(
        configuration: EmbeddedConfiguration,
        state: StateDirectory?,
        clock: any WallClock,
        logger: Logger = StreamsLogging.disabled(label: "embedded")
    ) throws(EngineFailure) {
        self.configuration = configuration
        self.state = state
        self.clock = clock
        self.logger = logger

        let checkpoint = try Self.wrap { () throws(EmbeddedError) in try state?.loadCheckpoint() }
        self.checkpoint = checkpoint
        let partitions = configuration.partitions
        let stateName = state?.path ?? "(none)"
        if let checkpoint, checkpoint.inputs.map(\.path) != partitions.map(\.path) {
            throw EngineFailure(
                .usage,
                "the state directory \(stateName) belongs to a run over \(checkpoint.inputs.map(\.path)); give the same inputs in the same order, or use another state directory"
            )
        }

        var inputs: [Input] = []
        var inputByPartition: [TopicPartition: Int] = [:]
        for (i, (path, partition)) in partitions.enumerated() {
            let committed = checkpoint?.inputs[i] ?? Checkpoint.Input(path: path, byteOffset: 0, lineNumber: 0)
            let reader = try Self.wrap { () throws(EmbeddedError) in
                try LineReader(
                    path: path,
                    offset: committed.byteOffset,
                    lineNumber: committed.lineNumber,
                    follow: configuration.follow
                )
            }
            let input = Input(path: path, partition: partition, reader: reader, committed: committed)
            // The committed prefix must still be what was read: an input replaced by other
            // content of the same or a greater length would otherwise be resumed mid-stream.
            if let expected = committed.fingerprint {
                let actual = try Self.wrap { () throws(EmbeddedError) in
                    try reader.fingerprint(before: committed.byteOffset)
                }
                guard actual == expected else {
                    throw EngineFailure(
                        .usage,
                        "the input \(path) no longer holds what the state directory \(stateName) committed from it: its bytes up to the committed byte \(committed.byteOffset) (line \(committed.lineNumber)) changed, so it was replaced or edited since the last run; give the original file (appending to it is fine), or use another state directory to start over"
                    )
                }
                input.fingerprintOffset = committed.byteOffset
            }
            inputByPartition[partition] = i
            inputs.append(input)
        }
        self.inputs = inputs
        self.inputByPartition = inputByPartition

        // Outputs: exactly-once cuts them back to the committed length; at-least-once keeps what
        // was written after the last commit (those records may then appear twice).
        let exactlyOnce = configuration.guarantee == .exactlyOnce && state != nil
        var carried = checkpoint?.outputs ?? []
        for output in configuration.outputs {
            let path = output.file
            // The same file, however this run spells its path.
            let identity = FileIdentity(of: path)
            let index = carried.firstIndex { $0.path == path || FileIdentity(of: $0.path) == identity }
            let committed = index.map { carried[$0].committedLength }
            if let index { carried.remove(at: index) }
            let mode: OutputFile.OpenMode
            if let committed {
                mode = exactlyOnce ? .resume(committedLength: committed) : .append
            } else {
                mode = .truncate
            }
            outputs[output.topic] = try Self.wrap { () throws(EmbeddedError) in try OutputFile(path: path, mode: mode) }
        }

        // An output this run leaves out keeps its committed length in every checkpoint, so that a
        // later run naming it again resumes it instead of emptying it.
        carriedOutputs = carried

        if let state {
            let file = try Self.wrap { () throws(EmbeddedError) in
                try state.openChangelog(committed: checkpoint?.changelog)
            }
            changelog = file
            changelogForwarder.target = file
        }
    }

    package static func wrap<R>(_ body: () throws(EmbeddedError) -> R) throws(EngineFailure) -> R {
        do { return try body() } catch { throw EngineFailure(error) }
    }

    /// The input partitions, in tie-break order.
    package var partitions: [TopicPartition] { inputs.map(\.partition) }

    // MARK: Reading

    /// Reads one batch of input `i` as records (see the type's documentation), on the calling
    /// thread; empty at the end of the input or when no data is there yet.
    package func readBatch(_ i: Int) throws(EngineFailure) -> [Record] {
        let input = inputs[i]
        guard !input.exhausted else { return [] }
        let status = try Self.wrap { () throws(EmbeddedError) in try input.reader.nextBatch() }
        switch status {
        case .endOfInput:
            input.exhausted = true
            input.idle = false
            return []
        case .noDataYet:
            input.idle = true
            return []
        case .lines:
            break
        }
        // The wall clock once per batch: the time of every record until a source's timestamp
        // extractor gives it another.
        let read = Self.records(of: input.reader, partition: input.partition, nowMs: clock.nowMs)
        input.deliver(read.lines)
        recordsRead += read.lines.count
        return read.batch.records
    }

    /// The lines of `reader`'s current batch as records: values copied into one buffer per batch,
    /// no key, timestamp `nowMs`, origin offset the byte offset after the line; with each line's
    /// end offset and number.
    static func records(
        of reader: LineReader, partition: TopicPartition, nowMs: Int64
    ) -> (batch: InputBatch, lines: [(endOffset: Int64, line: Int64)]) {
        var values: [UInt8] = []
        var spans: [(value: Range<Int>, endOffset: Int64)] = []
        var lines: [(endOffset: Int64, line: Int64)] = []
        reader.forEachLine { line in
            let valueStart = values.count
            values.appendBytes(line.bytes)
            spans.append((valueStart..<values.count, line.endOffset))
            lines.append((line.endOffset, line.number))
        }
        let records = spans.map { span in
            Record(
                key: nil,
                value: values[span.value],
                timestampMs: nowMs,
                origin: RecordOrigin(partition: partition, offset: span.endOffset)
            )
        }
        return (InputBatch(partition: partition, records: records), lines)
    }

    /// Takes input `i`'s next item from the read-ahead thread: a batch (already extracted when
    /// the input has an extraction), nothing when a followed input has no new data, the end, or
    /// the read's failure.
    private func takeReadAhead(_ i: Int, from readAhead: InputReadAhead) throws(EngineFailure) -> InputBatch? {
        let input = inputs[i]
        if let failure = input.readFailure { throw failure }
        guard !input.exhausted else { return nil }
        switch readAhead.take(i) {
        case nil:
            input.idle = true
            return nil
        case .endOfInput:
            input.exhausted = true
            input.idle = false
            return nil
        case .failure(let error):
            input.readFailure = EngineFailure(error)
            throw EngineFailure(error)
        case .batch(let batch, let lines):
            input.deliver(lines)
            recordsRead += lines.count
            return batch
        }
    }

    /// Starts reading ahead on a thread of its own at the first poll, when the clock is the
    /// system clock, which may be read from any thread (with a test's manual clock, reading
    /// stays on the stream thread).
    private func startReadAheadIfPossible() throws(EngineFailure) {
        guard !readAheadDecided else { return }
        readAheadDecided = true
        guard let clock = clock as? SystemWallClock else { return }
        let sources = inputs.map {
            InputReadAhead.Source(reader: $0.reader, partition: $0.partition, extraction: $0.extraction)
        }
        let readAhead = InputReadAhead(sources: sources, clock: clock)
        try Self.wrap { () throws(EmbeddedError) in try readAhead.start() }
        self.readAhead = readAhead
    }

    /// The read-ahead thread, once the first poll started it.
    private var readAhead: InputReadAhead?
    private var readAheadDecided = false

    package func adoptExtraction(_ extraction: RecordExtraction, for partition: TopicPartition) {
        // Only before reading starts; a batch read without it is extracted by its task.
        guard !readAheadDecided, let i = inputByPartition[partition] else { return }
        inputs[i].extraction = extraction
    }

    /// `<file>:<line>` for a record read and not yet committed (or the last committed one);
    /// `<file>, byte <offset>` otherwise.
    package func describe(_ origin: RecordOrigin) -> String {
        guard let i = inputByPartition[origin.partition] else { return origin.description }
        let input = inputs[i]
        if let line = input.lineNumber(endingAt: origin.offset) { return "\(input.path):\(line)" }
        return "\(input.path), line ending at byte \(origin.offset)"
    }

    // MARK: StreamsEngine

    /// Reads one batch from every input that is not paused and can deliver. `maxRecords` and
    /// `timeout` are not used: a batch is what one read of an input holds, and reading never
    /// blocks (the stream thread sleeps briefly when a followed input has nothing new). Before
    /// reading, the changelog is written ahead once its buffer passes 1 MiB (see
    /// ``ChangelogFile/writeAhead(threshold:)``): between batches, off the per-record path.
    package func poll(maxRecords: Int, timeout: Duration) throws(StreamsError) -> [InputBatch] {
        do {
            try writeAhead()
            try startReadAheadIfPossible()
            var batches: [InputBatch] = []
            for i in inputs.indices where !paused.contains(i) {
                if let readAhead {
                    if let batch = try takeReadAhead(i, from: readAhead) { batches.append(batch) }
                } else {
                    let records = try readBatch(i)
                    if !records.isEmpty {
                        batches.append(InputBatch(partition: inputs[i].partition, records: records))
                    }
                }
            }
            return batches
        } catch {
            throw StreamsError(.engine, error.message, underlying: error)
        }
    }

    /// ``InputPartitionStatus/ended`` at its end, ``InputPartitionStatus/caughtUp`` when a
    /// followed input has no new line, ``InputPartitionStatus/active`` otherwise.
    package func status(of partition: TopicPartition) -> InputPartitionStatus {
        guard let i = inputIndex(partition) else { return .ended }
        let input = inputs[i]
        if input.exhausted { return .ended }
        return input.idle ? .caughtUp : .active
    }

    package func pause(_ partitions: [TopicPartition]) {
        for partition in partitions { if let i = inputIndex(partition) { paused.insert(i) } }
    }

    package func resume(_ partitions: [TopicPartition]) {
        for partition in partitions { if let i = inputIndex(partition) { paused.remove(i) } }
    }

    private func inputIndex(_ partition: TopicPartition) -> Int? {
        inputByPartition[partition]
    }

    /// After each commit: rewrites the changelog from the store's live entries when it has grown
    /// past the threshold (see ``compactIfNeeded(store:)``); store and changelog agree now.
    package func didCommit(_ tasks: [StreamTask]) throws(StreamsError) {
        for task in tasks {
            for id in task.changelogIDs {
                guard let store = task.store(named: id.storeName) as? any WindowStore else { continue }
                do { _ = try compactIfNeeded(store: store) } catch {
                    throw StreamsError(.engine, error.message, underlying: error)
                }
            }
        }
    }

    /// The output file of `topic`; a sink topic without one is a configuration error.
    package func sinkHandle(topic: String, sink: String, task: TaskId) throws(StreamsError) -> SinkHandle {
        guard let output = outputs[topic] else {
            throw StreamsError(
                .invalidConfiguration,
                "sink '\(sink)' writes topic '\(topic)', which has no output file; outputs are given for \(configuration.outputs.map(\.topic))"
            )
        }
        sinkOutputs.append(Unmanaged.passUnretained(output))
        return SinkHandle(sinkOutputs.count - 1)
    }

    package func send(_ record: Record, to handle: SinkHandle) throws(StreamsError) {
        let error: EmbeddedError? = sinkOutputs[handle.index]._withUnsafeGuaranteedRef { output in
            record.value.withUnsafeBytes { bytes in
                do throws(EmbeddedError) {
                    try output.appendLine(bytes)
                    return nil
                } catch {
                    return error
                }
            }
        }
        if let error { throw StreamsError(.engine, EngineFailure(error).message, underlying: error) }
    }

    /// The one changelog of the state directory; ``EmbeddedStreams`` refuses a topology with
    /// more than one changelogged store before any task exists.
    package func changelogSink(for changelog: ChangelogID) -> any ChangelogSink {
        precondition(
            changelogOwner == nil || changelogOwner == changelog,
            "the embedded engine keeps one changelog; \(changelog) asked for a second")
        changelogOwner = changelog
        return changelogForwarder
    }

    package func readChangelog(
        _ changelog: ChangelogID,
        from position: ChangelogPosition,
        maxEntries: Int
    ) throws(StreamsError) -> ChangelogBatch {
        guard let file = self.changelog else { return ChangelogBatch(entries: [], nextPosition: position) }
        let start = Self.filePosition(position)
        var offset: Int64?
        if restoreReader == nil {
            switch file.recovery(forStoreAt: start) {
            case .upToDate: return ChangelogBatch(entries: [], nextPosition: position)
            case .replay(let from): offset = from
            case .rebuild(let reason):
                // A store that recorded a position the changelog cannot catch up holds entries
                // the changelog does not: replaying into it would mix them in.
                if start != nil {
                    throw StreamsError(
                        .stateStore,
                        "store '\(changelog.storeName)' of task \(changelog.taskId) cannot be caught up from the changelog in \(stateDirectoryName): \(reason); delete the store's files to rebuild it from the changelog"
                    )
                }
            }
        }
        do throws(EmbeddedError) {
            if restoreReader == nil {
                restoreReader = try file.reader(from: offset)
            }
            let entries = try restoreReader!.nextBatch(maxEntries: maxEntries)
            restoredEntries += entries.count
            onRestoreProgress?(restoredEntries)
            let next = ChangelogFilePosition(
                generation: file.header.generation, offset: restoreReader!.validLength)
            if entries.isEmpty { restoreReader = nil }
            return ChangelogBatch(entries: entries, nextPosition: Self.corePosition(next))
        } catch {
            throw StreamsError(.engine, EngineFailure(error).message, underlying: error)
        }
    }

    private var restoreReader: ChangelogFileReader?
    /// Called after each changelog batch handed to a restoring store, with the entries so far.
    package var onRestoreProgress: ((Int) -> Void)?

    package func commit(_ unit: CommitUnit) throws(StreamsError) -> [ChangelogID: ChangelogPosition] {
        do throws(EmbeddedError) {
            return try commitFiles(unit)
        } catch {
            throw StreamsError(.engine, "commit failed: \(EngineFailure(error).message)", underlying: error)
        }
    }

    private func commitFiles(_ unit: CommitUnit) throws(EmbeddedError) -> [ChangelogID: ChangelogPosition] {
        let task = unit.tasks.first
        for input in inputs {
            guard let offset = task?.consumedOffsets[input.partition] else { continue }
            while input.pendingHead < input.pending.count && input.pending[input.pendingHead].endOffset <= offset {
                input.committed.byteOffset = input.pending[input.pendingHead].endOffset
                input.committed.lineNumber = input.pending[input.pendingHead].line
                input.pendingHead += 1
            }
            if input.pendingHead > 4_096 && input.pendingHead * 2 > input.pending.count {
                input.pending.removeFirst(input.pendingHead)
                input.pendingHead = 0
            }
        }
        // Both guarantees make the outputs durable before the checkpoint that counts them as
        // written: otherwise an operating-system crash could lose lines whose input positions the
        // checkpoint has moved past. At-least-once only skips the cut back on restart. The
        // in-memory store has no durability, so its outputs are only flushed.
        for output in outputs.values {
            if state == nil { try output.flush() } else { try output.sync() }
        }
        guard let state else {
            // No durability (the in-memory store): nothing to record, positions are not used.
            return Dictionary(
                uniqueKeysWithValues: (task?.changelogs ?? []).map { ($0, ChangelogPosition.beginning) })
        }
        for input in inputs { try input.updateFingerprint() }
        // The changelog is synced under both guarantees: the store must never get ahead of it.
        try changelog?.sync()
        let position = changelog?.position ?? ChangelogFilePosition(generation: 0, offset: 0)
        let next = Checkpoint(
            generation: (checkpoint?.generation ?? 0) + 1,
            inputs: inputs.map(\.committed),
            outputs: outputs.values.map { Checkpoint.Output(path: $0.path, committedLength: $0.length) }
                + carriedOutputs,
            changelog: position,
            streamTimeMs: task?.streamTimeMs ?? checkpoint?.streamTimeMs
        )
        try state.save(next)
        checkpoint = next
        var positions: [ChangelogID: ChangelogPosition] = [:]
        for id in task?.changelogs ?? [] { positions[id] = Self.corePosition(position) }
        return positions
    }

    /// Writes the changelog's buffered records ahead of the commit once they pass 1 MiB (see
    /// ``ChangelogFile/writeAhead(threshold:)``); ``poll(maxRecords:timeout:)`` calls it between
    /// batches.
    package func writeAhead() throws(EngineFailure) {
        try Self.wrap { () throws(EmbeddedError) in try changelog?.writeAhead(threshold: 1 << 20) }
    }

    package func abort() {
        // Nothing of the batch may stay: cut outputs and the changelog back to the last commit.
        for output in outputs.values where !output.isStandardOutput {
            try? output.truncate(to: output.length)
        }
        try? changelog?.discardUncommitted()
    }

    package func committedStreamTimeMs(for task: TaskId) -> Int64? {
        checkpoint?.streamTimeMs
    }

    // MARK: Compaction

    /// Rewrites the changelog from the store's live entries when it has grown past the threshold;
    /// call right after a commit, when store and changelog agree (elsewhere it returns `false`
    /// when it can tell: records appended to the changelog since its last sync).
    package func compactIfNeeded(store: any WindowStore) throws(EngineFailure) -> Bool {
        guard let changelog, let state, var checkpoint, changelog.appendedPosition == changelog.position else {
            return false
        }
        let length = changelog.position.offset
        guard length > max(configuration.compactionThresholdBytes, 3 * changelog.header.baseLength) else {
            return false
        }
        do {
            let compacted = try changelog.compacted(from: store)
            checkpoint.changelog = compacted.position
            checkpoint.generation += 1
            try state.save(checkpoint)
            self.checkpoint = checkpoint
            try store.commit(metadata: [
                ChangelogPosition.metadataKey: Self.corePosition(compacted.position).metadata
            ])
            changelog.close()
            self.changelog = compacted
            changelogForwarder.target = compacted
            try compacted.removeOtherGenerations()
            return true
        } catch let error as EmbeddedError {
            throw EngineFailure(error)
        } catch {
            throw EngineFailure(.io, "compacting the changelog in \(state.changelogPath) failed: \(error)")
        }
    }

    // MARK: Positions

    /// The runtime's position for a file position (see ``ChangelogFilePosition/packed``).
    package static func corePosition(_ position: ChangelogFilePosition) -> ChangelogPosition {
        ChangelogPosition(position.packed)
    }

    /// The inverse of ``corePosition(_:)``; `nil` for the beginning (a store that never committed).
    package static func filePosition(_ position: ChangelogPosition) -> ChangelogFilePosition? {
        ChangelogFilePosition(packed: position.offset)
    }

    /// Closes the files (after the final commit), once the read-ahead thread has stopped.
    package func close() {
        readAhead?.stop()
        for output in outputs.values { try? output.close() }
        changelog?.close()
    }
}

/// The changelog sink the store keeps: forwards to the current changelog file, which compaction
/// replaces.
final class ChangelogForwarder: ChangelogSink {
    /// Not retained: the engine owns the file (``EmbeddedEngine/changelog``) and sets this beside
    /// it, and the store appends only while the engine is open. A strong reference here cost a
    /// retain and a release per stored record.
    unowned(unsafe) var target: ChangelogFile?

    @inline(__always)
    package func append(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer?) {
        target?.append(key: key, timestampMs: timestampMs, value: value)
    }
}
