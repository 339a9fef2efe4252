internal import StreamsEmbedded
public import Logging
internal import StreamsCore
internal import StreamsDedup
internal import StreamsState
internal import StreamsStateLMDB

#if canImport(Glibc)
    internal import Glibc
#endif

/// One `dedup run`: the embedded engine, one stream task running the ``Deduplicator`` topology,
/// and the loop that reads, processes and commits until the inputs end (or, with `--follow`,
/// until asked to stop).
///
/// Record order is independent of batch boundaries: the loop only processes as many records as
/// the input with the fewest buffered records holds (inputs that ended do not count), then reads
/// more, so that the task's smallest-timestamp-first selection always sees every input's next
/// record. This is what makes a restarted run produce exactly the output of an uninterrupted one.
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

    static let storeName = "dedup-store"

    /// The longest encoded key (the engine's record key) whose store key, as the deduplicator
    /// builds it, fits the LMDB store's key limit (16 MiB). The engine judges a line with a
    /// longer key invalid; reaching the store, it would fail the run at that line every time.
    /// The in-memory store has no limit but gets the same one, so that the output does not
    /// depend on the store.
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
        let state: StateDirectory? =
            configuration.store == .lmdb
            ? try DedupJobError.wrap { () throws(EmbeddedError) in
                try StateDirectory(path: configuration.stateDirectory)
            } : nil
        defer { state?.unlock() }
        let settings = JobSettings(configuration)
        let settingsToSave = try state.flatMap { (state) throws(DedupJobError) in try settings.check(in: state) }

        let engine = try DedupJobError.wrap { () throws(EngineFailure) in
            try EmbeddedEngine(
                configuration: configuration.engineConfiguration, state: state, clock: clock,
                maxKeyBytes: Self.maxKeyBytes, logger: logger)
        }
        defer { engine.close() }
        defer { engine.logSkippedSummary() }
        if let settingsToSave, let state { try settingsToSave.save(in: state) }
        let statistics = DeduplicationStatisticsCollector()
        let streams = StreamsConfiguration(
            applicationId: "dedup",
            commitInterval: configuration.effectiveCommitInterval,
            // Process whatever the record order allows between two polls (about a read batch of
            // the input with the fewest buffered lines), as the loop did before it moved into
            // the runtime.
            maxRecordsPerIteration: 1 << 16,
            deserializationErrorPolicy: .deadLetter(sink: EmbeddedEngine.invalidTopic),
            stateDirectory: configuration.stateDirectory,
            // The engine reports each invalid line (file, line, reason; the first few) when it
            // reads it; the task's generic per-record message would only repeat it.
            recordErrorLogLevel: .debug
        )
        let task: StreamTask
        do {
            task = try StreamTask(
                id: TaskId(partition: 0),
                topology: topology(state: state, changelog: engine.changelog, statistics: statistics),
                configuration: streams,
                inputs: engine.partitions,
                collector: engine,
                changelogWriter: engine,
                clock: clock,
                logger: logger
            )
        } catch {
            throw DedupJobError(error)
        }
        let manager = TaskManager(engine: engine, tasks: [task], configuration: streams, clock: clock, logger: logger)
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
        // The thread restores the store from the changelog a batch per iteration before the
        // task processes anything (so a stop request is honoured during a long restore too).

        // The runtime's loop (StreamThread) decides which records may be processed, so that the
        // order never depends on read batches; a stop request ends it with a commit of what was
        // processed. An input that stalled on an invalid line (`fail`) ends it with that error
        // once the records before the line are committed.
        let thread = StreamThread(taskManager: manager, configuration: streams, clock: clock, logger: logger)
        var lastProgress = started
        do throws(StreamsError) {
            _ = try thread.run(shouldStop: shouldStop) { iteration in
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
            if error.code == .deserialization, let stalled = engine.stalled { throw DedupJobError(stalled.error) }
            throw DedupJobError(error)
        }
        let final = statistics.snapshot
        return DedupJobSummary(
            recordsRead: engine.recordsRead,
            emitted: final.emitted,
            duplicates: final.duplicates,
            invalid: final.invalid,
            liveKeys: final.storeEntries,
            restoredEntries: engine.restoredEntries,
            elapsedSeconds: monotonicSeconds() - started
        )
    }

    private func position(_ engine: EmbeddedEngine) -> String {
        engine.inputs.map { "\($0.path):\($0.reader.lineNumber)" }.joined(separator: " ")
    }

    /// input → dedup → output, with duplicates to `duplicates` and invalid records dead-lettered
    /// to `invalid`.
    private func topology(
        state: StateDirectory?, changelog: ChangelogFile?, statistics: DeduplicationStatisticsCollector
    ) -> Topology {
        var topology = Topology()
        topology.addSource("input", topics: EmbeddedEngine.inputTopic)
        let dedup = DeduplicatorConfiguration(
            key: .recordKey,
            time: .eventTime,
            window: configuration.window,
            grace: configuration.grace,
            storeName: Self.storeName,
            duplicatesChild: "duplicates",
            statistics: statistics
        )
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
        topology.addDeduplicator("dedup", parents: "input", configuration: dedup, store: factory)
        topology.addSink("output", topic: EmbeddedEngine.outputTopic, parents: "dedup")
        topology.addSink("duplicates", topic: EmbeddedEngine.duplicatesTopic, parents: "dedup")
        topology.addSink("invalid", topic: EmbeddedEngine.invalidTopic)
        return topology
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
