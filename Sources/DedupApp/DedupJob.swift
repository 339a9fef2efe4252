internal import StreamsEmbedded
public import Logging
internal import StreamsCore
internal import StreamsDedup
internal import StreamsState
internal import StreamsStateLMDB

#if canImport(Glibc)
    internal import Glibc
#endif

/// One `dedup run`: the ``Deduplicator`` topology, built from the public pieces (a source with
/// JSON key and time extractors, the deduplicator, sinks), run on the embedded engine
/// (``EmbeddedStreams``) until the inputs end (or, with `--follow`, until asked to stop). The
/// job adds what is the CLI's own: its settings file, its store location and messages that name
/// its flags.
public final class DedupJob {
    /// The settings.
    public let configuration: DedupJobConfiguration
    private let logger: Logger

    /// Checks the configuration: everything a run would refuse is refused here, before anything
    /// on disk is created or changed (see ``DedupJobConfiguration/preflight()``); nothing is
    /// opened until ``run(progress:shouldStop:)``.
    ///
    /// - Throws: ``DedupJobError``.
    public init(configuration: DedupJobConfiguration, logger: Logger) throws(DedupJobError) {
        try configuration.preflight()
        self.configuration = configuration
        self.logger = logger
    }

    static let storeName = DedupTopology.storeName

    /// The longest encoded key (the source's key) whose store key, as the deduplicator builds
    /// it, fits the LMDB store's key limit (16 MiB). A line with a longer one is invalid; reaching
    /// the store, it would fail the run at that line every time. The in-memory store gets the
    /// same limit, so that the output does not depend on the store.
    static let maxKeyBytes: Int = {
        let limit = LMDBWindowStore.Options().maxKeySize
        var bytes = limit
        while KeyExtractor.recordKeyStoredSize(bytes) > limit { bytes -= 1 }
        return bytes
    }()

    /// Runs to the end of the inputs (or until `shouldStop` returns true), committing as it goes.
    ///
    /// - Parameters:
    ///   - progress: Called at most every 250 ms with a snapshot, on the job's thread.
    ///   - shouldStop: Polled between batches; when it returns true the job commits and returns.
    /// - Returns: What the run did.
    /// - Throws: ``DedupJobError``; everything committed before the error stays committed.
    public func run(
        progress: ((DedupJobProgress) -> Void)? = nil,
        shouldStop: () -> Bool = { false }
    ) throws(DedupJobError) -> DedupJobSummary {
        let started = monotonicSeconds()
        let clock = SystemWallClock()
        var state: StateDirectory?
        if configuration.store == .lmdb {
            do { state = try StateDirectory(path: configuration.stateDirectory) } catch {
                // The engine's message names no flag; the CLI's names its own.
                var error = error
                if error.code == .locked { error.message += " (--state)" }
                throw DedupJobError(error)
            }
        }
        defer { state?.unlock() }
        // The job's settings are checked before the engine opens anything (it cuts outputs back).
        let settings = JobSettings(configuration)
        let settingsToSave = try state.flatMap { (state) throws(DedupJobError) in try settings.check(in: state) }

        let streams: EmbeddedStreams
        do {
            streams = try EmbeddedStreams(
                configuration: configuration.engineConfiguration, state: state, clock: clock, logger: logger)
        } catch {
            throw DedupJobError(error)
        }
        defer { streams.close() }
        let engine = streams.engine
        if let settingsToSave, let state { try settingsToSave.save(in: state) }
        warnIfStreamTimeAhead(engine.checkpoint?.streamTimeMs, state: state, nowMs: clock.nowMs)
        let statistics = DeduplicationStatisticsCollector()
        let streamsConfiguration = StreamsConfiguration(
            applicationId: "dedup",
            commitInterval: configuration.effectiveCommitInterval,
            // Process whatever the record order allows between two polls (about a read batch of
            // the input with the fewest buffered lines).
            maxRecordsPerIteration: 1 << 16,
            deserializationErrorPolicy: configuration.onInvalid == .fail
                ? .fail : configuration.invalidOutput == nil ? .skip : .deadLetter(sink: DedupTopology.invalidSinkName),
            stateDirectory: configuration.stateDirectory
        )
        if let progress {
            var lastRestoreProgress = 0.0
            engine.onRestoreProgress = { entries in
                let now = monotonicSeconds()
                guard now - lastRestoreProgress >= 0.25 else { return }
                lastRestoreProgress = now
                progress(
                    DedupJobProgress(
                        phase: .restoring(entries: entries), recordsRead: 0, duplicates: 0, recordsPerSecond: 0,
                        position: ""))
            }
        }
        // The runtime's loop (StreamThread) restores the store a batch per iteration, decides
        // which records may be processed (so that the order never depends on read batches) and
        // commits; a stop request ends it with a commit of what was processed. An invalid line
        // under `fail` ends it with that line's error once the records before it are committed.
        var lastProgress = started
        do throws(StreamsError) {
            try streams.run(
                topology(state: state, changelog: engine.changelog, statistics: statistics),
                configuration: streamsConfiguration,
                shouldStop: shouldStop
            ) { iteration in
                guard let progress else { return }
                let now = monotonicSeconds()
                guard now - lastProgress >= 0.25 else { return }
                lastProgress = now
                let idle = iteration.polled == 0 && iteration.processed == 0
                progress(
                    DedupJobProgress(
                        phase: idle ? .waiting : .running,
                        recordsRead: engine.recordsRead,
                        duplicates: statistics.snapshot.duplicates,
                        recordsPerSecond: Double(engine.recordsRead) / max(now - started, 0.001),
                        position: position(engine)
                    )
                )
            }
        } catch {
            logSkippedSummary(streams.task)
            if error.code == .deserialization || error.code == .invalidRecord {
                throw DedupJobError(
                    .invalidData,
                    "\(error.message); fix the line, or run with --on-invalid skip (and --invalid FILE to keep such lines)"
                )
            }
            throw DedupJobError(error)
        }
        logSkippedSummary(streams.task)
        let final = statistics.snapshot
        return DedupJobSummary(
            recordsRead: engine.recordsRead,
            emitted: final.emitted,
            duplicates: final.duplicates,
            invalid: streams.task?.invalidRecordCount ?? 0,
            liveKeys: final.storeEntries,
            restoredEntries: engine.restoredEntries,
            elapsedSeconds: monotonicSeconds() - started
        )
    }

    /// Logs how many invalid lines were skipped beyond those reported one by one.
    private func logSkippedSummary(_ task: StreamTask?) {
        guard let task else { return }
        let limit = StreamTask.recordErrorLogLimit
        let unreported = task.invalidRecordCount - limit
        guard unreported > 0 else { return }
        let kept = configuration.invalidOutput.map { "; all are in \($0)" } ?? ""
        logger.warning(
            "\(unreported) more invalid lines were skipped after the first \(limit) reported (\(task.invalidRecordCount) in all)\(kept)"
        )
    }

    /// Warns when the committed stream time is further ahead of the wall clock than the window:
    /// records with current times are then no longer deduplicated.
    private func warnIfStreamTimeAhead(_ streamTimeMs: Int64?, state: StateDirectory?, nowMs: Int64) {
        guard configuration.timeField != nil, let state, let streamTimeMs else { return }
        let (limit, overflow) = nowMs.addingReportingOverflow(configuration.window.milliseconds)
        guard !overflow, streamTimeMs > limit else { return }
        let ahead = TimeFormatting.duration(streamTimeMs &- nowMs, units: 2)
        logger.warning(
            "\(state.checkpointPath): the stream time \(TimeFormatting.timestamp(streamTimeMs)) is \(ahead) ahead of the wall clock, more than the window: records with times more than window + grace before it are not deduplicated. A wrong far-future event time moved it there; --max-future keeps such records out"
        )
    }

    private func position(_ engine: EmbeddedEngine) -> String {
        engine.inputs.map { "\($0.path):\($0.deliveredLineNumber)" }.joined(separator: " ")
    }

    /// input → dedup → output, with duplicates to `duplicates` and invalid records dead-lettered
    /// to `invalid` when those files are given (``DedupTopology``, shared with `dedup kafka`).
    private func topology(
        state: StateDirectory?, changelog: ChangelogFile?, statistics: DeduplicationStatisticsCollector
    ) -> Topology {
        typealias Job = DedupJobConfiguration
        let factory: WindowStoreFactory
        if let state {
            let logger = self.logger
            let storePath = state.storePath
            let committed = changelog.map { ($0.position, $0.header) }
            factory = WindowStoreFactory { storeConfiguration, _ in
                try Self.openStore(
                    at: storePath, configuration: storeConfiguration, changelog: committed, logger: logger)
            }
        } else {
            factory = .inMemory
        }
        let shape = DedupTopology(
            inputTopics: [Job.inputTopic], keyFields: configuration.keyFields, timeField: configuration.timeField,
            maxFuture: configuration.maxFuture, window: configuration.window, grace: configuration.grace,
            outputTopic: Job.outputTopic,
            duplicatesTopic: configuration.duplicatesOutput == nil ? nil : Job.duplicatesTopic,
            invalidTopic: configuration.invalidOutput == nil ? nil : Job.invalidTopic)
        return shape.make(maxKeyBytes: Self.maxKeyBytes, store: factory, statistics: statistics)
    }

    /// Opens the LMDB store; a damaged store, one that cannot be trusted after an OS restart, or
    /// one that the committed changelog cannot catch up (ahead of it, or of another generation:
    /// for example after an older checkpoint was put back) is deleted so that the task rebuilds it
    /// from the changelog. Restoring the changelog into such a store instead would mix its newer
    /// entries into the rebuilt state.
    static func openStore(
        at path: String,
        configuration: WindowStoreConfiguration,
        changelog: (position: ChangelogFilePosition, header: ChangelogHeader)?,
        logger: Logger
    ) throws(StateStoreError) -> LMDBWindowStore {
        let store: LMDBWindowStore
        do {
            store = try LMDBWindowStore(directory: path, configuration: configuration)
        } catch {
            guard error.code == .corrupt else { throw error }
            logger.warning("rebuilding the store in \(path) from the changelog: \(error.message)")
            try LMDBWindowStore.destroy(directory: path)
            return try LMDBWindowStore(directory: path, configuration: configuration)
        }
        if case .untrusted(let reason) = store.integrity {
            logger.warning("rebuilding the store in \(path) from the changelog: \(reason)")
            try store.close()
            try LMDBWindowStore.destroy(directory: path)
            return try LMDBWindowStore(directory: path, configuration: configuration)
        }
        if let changelog,
            let position = try store.metadata(forKey: ChangelogFilePosition.metadataKey).flatMap(
                ChangelogFilePosition.init(metadataBytes:)),
            case .rebuild(let reason) = ChangelogFile.recovery(
                forStoreAt: position, committed: changelog.position, header: changelog.header)
        {
            logger.warning("rebuilding the store in \(path) from the changelog: \(reason)")
            try store.close()
            try LMDBWindowStore.destroy(directory: path)
            return try LMDBWindowStore(directory: path, configuration: configuration)
        }
        return store
    }
}

/// Monotonic seconds, for rates and progress.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

extension DedupJobError {
    /// Sorts a runtime error into the exit-status classes.
    init(_ error: StreamsError) {
        switch error.code {
        case .deserialization, .invalidRecord: self.init(.invalidData, error.message)
        case .invalidConfiguration, .invalidTopology: self.init(.usage, error.message)
        case .engine, .stateStore: self.init(.io, error.message)
        default: self.init(.software, error.description)
        }
    }
}
