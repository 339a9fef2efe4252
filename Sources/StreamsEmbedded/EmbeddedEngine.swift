package import Logging
package import StreamsCore
package import StreamsState
internal import StreamsJSON

/// The embedded engine: JSON Lines files in, JSON Lines files out, a local changelog, and an
/// atomically replaced checkpoint file as the commit point. It implements the runtime's engine
/// seam (``StreamsEngine``) for one task whose input partitions are the input files.
///
/// The commit (exactly-once): append the buffered output lines to the output files and fsync
/// them; append the buffered changelog records and fsync; then replace `checkpoint.json`
/// (temporary file, fsync, rename, fsync of the directory) with the input positions after the
/// last processed lines, the output and changelog lengths and the stream time. The rename is the
/// commit point; only after it does the LMDB store commit its own transaction (the task manager's
/// post-commit). On restart outputs and the changelog are cut back to the checkpoint's lengths.
///
/// Records: the value is the input line (without its newline), the key the canonical business
/// key (see StreamsJSON), the timestamp the event time (or the wall clock when reading, for
/// processing time), and the origin offset the byte offset *after* the line, so that a committed
/// offset is where reading resumes. A line without a usable key or time, with a key longer than
/// the store accepts, or (with `--max-future`) an event time too far ahead of the wall clock is
/// invalid (``InvalidLine``): under the `skip` policy it becomes a record without key (and with
/// timestamp `Int64.min`), which the deduplicator dead-letters to the `invalid` sink in order, and
/// the engine reports the first few such lines, each with file, line and reason, and counts the
/// rest (``logSkippedSummary()``); under the `fail` policy the input stops before it instead
/// (see ``stalled``).
///
/// - Important: Not `Sendable`; used from the job's thread only.
package final class EmbeddedEngine: StreamsEngine {
    package static let inputTopic = "input"
    package static let outputTopic = "output"
    package static let duplicatesTopic = "duplicates"
    package static let invalidTopic = "invalid"

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
        var pending: [(endOffset: Int64, line: Int64)] = []
        var pendingHead = 0
        /// The committed position: resume offset and the number of the last line before it.
        var committed: Checkpoint.Input
        /// The offset `committed.fingerprint` was computed for (-1: not yet).
        var fingerprintOffset: Int64 = -1

        init(path: String, partition: TopicPartition, reader: LineReader, committed: Checkpoint.Input) {
            self.path = path
            self.partition = partition
            self.reader = reader
            self.committed = committed
        }

        /// Brings `committed.fingerprint` up to `committed.byteOffset` (at a commit: reads at most
        /// 8 KiB, and only when the position moved).
        func updateFingerprint() throws(EmbeddedError) {
            guard fingerprintOffset != committed.byteOffset else { return }
            committed.fingerprint = try reader.fingerprint(before: committed.byteOffset)
            fingerprintOffset = committed.byteOffset
        }
    }

    package let configuration: EmbeddedEngineConfiguration
    package let state: StateDirectory?
    package let inputs: [Input]
    private var outputs: [String: OutputFile] = [:]
    /// The output file of each sink handle (``sinkHandle(topic:sink:task:)``), `nil` to drop.
    private var sinkOutputs: [OutputFile?] = []
    /// Outputs of the checkpoint that this run does not write, carried into its checkpoints.
    private var carriedOutputs: [Checkpoint.Output] = []
    package private(set) var changelog: ChangelogFile?
    private let changelogForwarder = ChangelogForwarder()
    package private(set) var checkpoint: Checkpoint?
    // Hot per-record state, used from the job's thread only: no dynamic exclusivity checks.
    @exclusivity(unchecked) private var extractor: JSONFieldExtractor
    private let keyFieldCount: Int
    private let clock: any WallClock
    @exclusivity(unchecked) private var keyScratch: [UInt8] = []
    private let logger: Logger
    /// Whether times come from the time field (else from the wall clock).
    private let usesEventTime: Bool
    /// The longest encoded key whose store key fits the store's limit; a longer one makes its
    /// line invalid rather than fail the store (which would stop every run at that line).
    private let maxKeyBytes: Int
    /// An event time above this takes the slow path (``checkFarFuture(_:nowMs:input:lineNumber:)``):
    /// it is beyond `--max-future`, or it is the first more than the window ahead of the wall
    /// clock. Set for each batch from the wall clock; `Int64.max` with processing time.
    @exclusivity(unchecked) private var futureCheckMs: Int64 = .max
    /// Event times above this are invalid (`--max-future`); set for each batch.
    private var maxFutureMs: Int64 = .max
    /// Whether the warning about a stream time far ahead of the wall clock was given.
    private var warnedFarFuture = false
    /// Invalid lines skipped in this run (under the `skip` policy).
    package private(set) var invalidLinesSkipped = 0
    /// How many skipped lines are reported one by one as warnings; the rest only at debug level,
    /// and counted in ``logSkippedSummary()``.
    package static let invalidWarningLimit = 10
    /// Inputs the stream thread paused (their task still has records buffered).
    private var paused: Set<Int> = []
    /// Lines read in this run, valid or not.
    @exclusivity(unchecked) package private(set) var recordsRead = 0
    /// Changelog entries handed to a restoring store in this run.
    package private(set) var restoredEntries = 0
    /// The first invalid line met under the `fail` policy: the input stops before it.
    package private(set) var stalled: (input: Int, error: EngineFailure)?

    private var isExactlyOnce: Bool { configuration.exactlyOnce && configuration.durable }

    /// Opens the state, the outputs (cut back to the last commit) and the inputs (at it).
    ///
    /// - Parameters:
    ///   - maxKeyBytes: The longest encoded key the topology's store accepts (the application computes it from its store);
    ///     a line with a longer one is invalid.
    ///   - logger: Where invalid lines and a far-future stream time are reported.
    package init(
        configuration: EmbeddedEngineConfiguration,
        state: StateDirectory?,
        clock: any WallClock,
        maxKeyBytes: Int = .max,
        logger: Logger = StreamsLogging.disabled(label: "dedup")
    ) throws(EngineFailure) {
        self.configuration = configuration
        self.state = state
        self.clock = clock
        self.maxKeyBytes = maxKeyBytes
        self.logger = logger
        usesEventTime = configuration.timeField != nil
        var paths: [JSONFieldPath] = []
        do {
            for field in configuration.keyFields { paths.append(try JSONFieldPath(field)) }
            if let timeField = configuration.timeField { paths.append(try JSONFieldPath(timeField)) }
        } catch {
            throw EngineFailure(.usage, "bad field path: \(error.message)")
        }
        extractor = JSONFieldExtractor(paths: paths)
        keyFieldCount = configuration.keyFields.count

        let checkpoint = try Self.wrap { () throws(EmbeddedError) in try state?.loadCheckpoint() }
        self.checkpoint = checkpoint
        if usesEventTime, let state, let streamTimeMs = checkpoint?.streamTimeMs {
            let nowMs = clock.nowMs
            if streamTimeMs > nowMs.addingSaturated(configuration.farFutureWarningAfter.milliseconds) {
                warnedFarFuture = true
                logger.warning(
                    "\(state.checkpointPath): the stream time \(formatTimestamp(streamTimeMs)) is \(InvalidLine.describe(approximately: streamTimeMs.subtractingSaturated(nowMs))) ahead of the wall clock, more than the window: records with times more than window + grace before it are not deduplicated. A wrong far-future event time moved it there; --max-future keeps such records out"
                )
            }
        }
        if let checkpoint, checkpoint.inputs.map(\.path) != configuration.inputs {
            throw EngineFailure(
                .usage,
                "the state directory \(configuration.stateDirectory) belongs to a run over \(checkpoint.inputs.map(\.path)); give the same inputs in the same order, or use a new --state"
            )
        }

        var inputs: [Input] = []
        for (i, path) in configuration.inputs.enumerated() {
            let committed = checkpoint?.inputs[i] ?? Checkpoint.Input(path: path, byteOffset: 0, lineNumber: 0)
            let reader = try Self.wrap { () throws(EmbeddedError) in
                try LineReader(
                    path: path,
                    offset: committed.byteOffset,
                    lineNumber: committed.lineNumber,
                    follow: configuration.follow
                )
            }
            let input = Input(
                path: path, partition: TopicPartition(topic: Self.inputTopic, partition: Int32(i)), reader: reader,
                committed: committed)
            // The committed prefix must still be what was read: an input replaced by other
            // content of the same or a greater length would otherwise be resumed mid-stream.
            if let expected = committed.fingerprint {
                let actual = try Self.wrap { () throws(EmbeddedError) in
                    try reader.fingerprint(before: committed.byteOffset)
                }
                guard actual == expected else {
                    throw EngineFailure(
                        .usage,
                        "the input \(path) no longer holds what the state directory \(configuration.stateDirectory) committed from it: its bytes up to the committed byte \(committed.byteOffset) (line \(committed.lineNumber)) changed, so it was replaced or edited since the last run; give the original file (appending to it is fine), or use a new --state to start over"
                    )
                }
                input.fingerprintOffset = committed.byteOffset
            }
            inputs.append(input)
        }
        self.inputs = inputs

        // Outputs: exactly-once cuts them back to the committed length; at-least-once keeps what
        // was written after the last commit (those records may then appear twice).
        let outputFiles: [(String, String?)] = [
            (Self.outputTopic, configuration.output),
            (Self.duplicatesTopic, configuration.duplicatesOutput),
            (Self.invalidTopic, configuration.invalidOutput),
        ]
        var carried = checkpoint?.outputs ?? []
        for (topic, path) in outputFiles {
            guard let path else { continue }
            // The same file (job.json refuses other outputs), however this run spells its path.
            let identity = FileIdentity(of: path)
            let index = carried.firstIndex { $0.path == path || FileIdentity(of: $0.path) == identity }
            let committed = index.map { carried[$0].committedLength }
            if let index { carried.remove(at: index) }
            let mode: OutputFile.OpenMode
            if let committed {
                mode = isExactlyOnce ? .resume(committedLength: committed) : .append
            } else {
                mode = .truncate
            }
            outputs[topic] = try Self.wrap { () throws(EmbeddedError) in try OutputFile(path: path, mode: mode) }
        }

        // An output this run leaves out (no --duplicates this time) keeps its committed length in
        // every checkpoint, so that a later run naming it again resumes it instead of emptying it.
        carriedOutputs = carried

        if configuration.durable, let state {
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

    /// Reads one batch of input `i` as records (see the type's documentation); empty at the end
    /// of the input, when no data is there yet, or once the input stalled on an invalid line.
    package func readBatch(_ i: Int) throws(EngineFailure) -> [Record] {
        let input = inputs[i]
        guard !input.exhausted, stalled?.input != i else { return [] }
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
            input.idle = false
        }
        var values: [UInt8] = []
        var keys: [UInt8] = []
        var spans: [(value: Range<Int>, key: Range<Int>?, timestampMs: Int64, endOffset: Int64)] = []
        // The wall clock once per batch: the time of every record under processing time, and
        // the reference for --max-future and the far-future warning under event time.
        let nowMs = clock.nowMs
        if usesEventTime {
            maxFutureMs = configuration.maxFuture.map { nowMs.addingSaturated($0.milliseconds) } ?? .max
            futureCheckMs =
                warnedFarFuture
                ? maxFutureMs
                : min(maxFutureMs, nowMs.addingSaturated(configuration.farFutureWarningAfter.milliseconds))
        }
        var stop: EngineFailure?
        input.reader.forEachLine { line in
            guard stop == nil else { return }
            let valueStart = values.count
            values.appendBytes(line.bytes)
            let valueRange = valueStart..<values.count
            do throws(InvalidLine) {
                let timestamp = try keyAndTime(of: line, nowMs: nowMs, input: input)
                let keyStart = keys.count
                keys.append(contentsOf: keyScratch)
                spans.append((valueRange, keyStart..<keys.count, timestamp, line.endOffset))
            } catch {
                if let error = reject(error, input: input, lineNumber: line.number) {
                    values.removeSubrange(valueRange)
                    stop = error
                    return
                }
                spans.append((valueRange, nil, .min, line.endOffset))
            }
            input.pending.append((line.endOffset, line.number))
        }
        if let stop {
            stalled = (i, stop)
        }
        recordsRead += spans.count
        var records: [Record] = []
        records.reserveCapacity(spans.count)
        for span in spans {
            records.append(
                Record(
                    key: span.key.map { keys[$0] },
                    value: values[span.value],
                    timestampMs: span.timestampMs,
                    origin: RecordOrigin(partition: input.partition, offset: span.endOffset)
                )
            )
        }
        return records
    }

    /// Encodes `line`'s key into `keyScratch` and returns its time; throws why the line is invalid.
    @inline(__always)
    private func keyAndTime(of line: Line, nowMs: Int64, input: Input) throws(InvalidLine) -> Int64 {
        do throws(JSONFieldError) {
            try extractor.extract(from: line.bytes)
        } catch {
            throw .json(error)
        }
        do throws(JSONFieldError) {
            try extractor.encodeKey(fields: 0..<keyFieldCount, of: line.bytes, into: &keyScratch)
        } catch {
            throw .key(error)
        }
        if keyScratch.count > maxKeyBytes { throw .keyTooLarge(bytes: keyScratch.count, limit: maxKeyBytes) }
        guard usesEventTime else { return nowMs }
        let timestamp: Int64
        do throws(JSONFieldError) {
            timestamp = try JSONTimestamp.epochMilliseconds(of: extractor[keyFieldCount], in: line.bytes)
        } catch {
            throw .time(error, field: configuration.timeField ?? "")
        }
        if timestamp > futureCheckMs {
            try checkFarFuture(timestamp, nowMs: nowMs, input: input, lineNumber: line.number)
        }
        return timestamp
    }

    /// The slow path of an event time above ``futureCheckMs``: invalid beyond `--max-future`;
    /// otherwise it is the first more than the window ahead of the wall clock, which moves the
    /// stream time so far that later records with current times are no longer deduplicated: the
    /// contract, but never what a user wants, so it is warned about once.
    @inline(never)
    private func checkFarFuture(_ timestampMs: Int64, nowMs: Int64, input: Input, lineNumber: Int64)
        throws(InvalidLine)
    {
        if timestampMs > maxFutureMs, let maxFuture = configuration.maxFuture {
            throw .tooFarAhead(timestampMs: timestampMs, wallClockMs: nowMs, maxFuture: maxFuture)
        }
        warnedFarFuture = true
        futureCheckMs = maxFutureMs
        let ahead = InvalidLine.describe(approximately: timestampMs.subtractingSaturated(nowMs))
        let window = InvalidLine.describe(milliseconds: configuration.farFutureWarningAfter.milliseconds)
        logger.warning(
            "\(input.path):\(lineNumber): the event time \(formatTimestamp(timestampMs)) is \(ahead) ahead of the wall clock, more than the window (\(window)): the stream time moves there, and records with times more than window + grace before it are no longer deduplicated. If such times are wrong, give --max-future DURATION to judge them invalid"
        )
    }

    /// Applies the invalid-record policy to an invalid line: returns the error that stops the
    /// input under `fail`; under `skip` counts the line, reports it (as a warning for the first
    /// ``invalidWarningLimit``, at debug level after that) and returns `nil`.
    @inline(never)
    private func reject(_ invalid: InvalidLine, input: Input, lineNumber: Int64) -> EngineFailure? {
        if configuration.failOnInvalid {
            return EngineFailure(
                .invalidData,
                "\(input.path):\(lineNumber): \(invalid.reason); \(invalid.fix)"
            )
        }
        invalidLinesSkipped += 1
        if invalidLinesSkipped <= Self.invalidWarningLimit {
            let last =
                invalidLinesSkipped == Self.invalidWarningLimit
                ? " (further invalid lines are counted, and the count is reported at the end)" : ""
            logger.warning("\(input.path):\(lineNumber): skipped an invalid line: \(invalid.reason)\(last)")
        } else {
            logger.debug("\(input.path):\(lineNumber): skipped an invalid line: \(invalid.reason)")
        }
        return nil
    }

    /// Logs how many invalid lines were skipped beyond those reported one by one (nothing when
    /// all were reported); call once at the end of a run.
    package func logSkippedSummary() {
        let unreported = invalidLinesSkipped - Self.invalidWarningLimit
        guard unreported > 0 else { return }
        let kept = configuration.invalidOutput.map { "; all are in \($0)" } ?? ""
        logger.warning(
            "\(unreported) more invalid lines were skipped after the first \(Self.invalidWarningLimit) reported (\(invalidLinesSkipped) in all)\(kept)"
        )
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
            var batches: [InputBatch] = []
            for i in inputs.indices where !paused.contains(i) {
                let records = try readBatch(i)
                if !records.isEmpty { batches.append(InputBatch(partition: inputs[i].partition, records: records)) }
            }
            return batches
        } catch {
            throw StreamsError(.engine, error.message, underlying: error)
        }
    }

    /// ``InputPartitionStatus/failed(_:)`` once the input stalled on an invalid line (the `fail`
    /// policy), ``InputPartitionStatus/ended`` at its end, ``InputPartitionStatus/caughtUp``
    /// when a followed input has no new line, ``InputPartitionStatus/active`` otherwise.
    package func status(of partition: TopicPartition) -> InputPartitionStatus {
        guard let i = inputIndex(partition) else { return .ended }
        if let stalled, stalled.input == i {
            return .failed(StreamsError(.deserialization, stalled.error.message, underlying: stalled.error))
        }
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
        guard partition.topic == Self.inputTopic, partition.partition >= 0, Int(partition.partition) < inputs.count
        else { return nil }
        return Int(partition.partition)
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

    /// The output file of `topic` (`output`, `duplicates`, `invalid`); a topic without a file
    /// (no `--duplicates`) gets a handle whose records are dropped.
    package func sinkHandle(topic: String, sink: String, task: TaskId) throws(StreamsError) -> SinkHandle {
        sinkOutputs.append(outputs[topic])
        return SinkHandle(sinkOutputs.count - 1)
    }

    package func send(_ record: Record, to handle: SinkHandle) throws(StreamsError) {
        guard let output = sinkOutputs[handle.index] else { return }
        let error: EmbeddedError? = record.value.withUnsafeBytes { bytes in
            do throws(EmbeddedError) {
                try output.appendLine(bytes)
                return nil
            } catch {
                return error
            }
        }
        if let error { throw StreamsError(.engine, EngineFailure(error).message, underlying: error) }
    }

    package func changelogSink(for changelog: ChangelogID) -> any ChangelogSink {
        changelogForwarder
    }

    package func readChangelog(
        _ changelog: ChangelogID,
        from position: ChangelogPosition,
        maxEntries: Int
    ) throws(StreamsError) -> ChangelogBatch {
        guard let file = self.changelog else { return ChangelogBatch(entries: [], nextPosition: position) }
        do throws(EmbeddedError) {
            let start = Self.filePosition(position)
            if restoreReader == nil {
                let offset: Int64?
                switch file.recovery(forStoreAt: start) {
                case .upToDate: return ChangelogBatch(entries: [], nextPosition: position)
                case .replay(let from): offset = from
                case .rebuild: offset = nil
                }
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

    /// Closes the files (after the final commit).
    package func close() {
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
