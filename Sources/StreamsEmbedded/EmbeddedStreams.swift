public import Logging
public import StreamsCore

/// Runs a topology on JSON Lines files, exactly once: the public face of the embedded engine.
///
/// Each source topic reads its files (file `i` is partition `i`), each sink topic writes its file,
/// and changelogged stores are restored from a changelog in the state directory. All input files
/// are the partitions of one task (task `0_0`), so a store sees every record, whatever file it
/// came from; records are taken smallest timestamp first across the files, ties to the file
/// listed first, independently of read batches, so a restarted run produces exactly the output of
/// an uninterrupted one.
///
/// ```swift
/// var topology = Topology()
/// topology.addSource("orders", topics: ["orders"], key: .jsonField("order.id"), timestamp: .jsonField("ts"))
/// topology.addDeduplicator("dedup", parents: "orders", configuration: dedup, store: .lmdb())
/// topology.addSink("out", topic: "unique-orders", parents: "dedup")
///
/// let streams = try EmbeddedStreams(configuration: EmbeddedConfiguration(
///     inputs: [.init(topic: "orders", files: ["a.jsonl", "b.jsonl"])],
///     outputs: [.init(topic: "unique-orders", file: "unique.jsonl")],
///     stateDirectory: "state"))
/// try streams.run(topology, configuration: StreamsConfiguration(applicationId: "orders"))
/// ```
///
/// The guarantee: a commit (every ``StreamsConfiguration/commitInterval``) makes the outputs,
/// the changelog and the input positions durable together, with an atomically replaced
/// checkpoint as the commit point; a run killed at any moment and started again with the same
/// state directory produces byte-identical outputs. Stores keep their files under
/// `<stateDirectory>/<applicationId>/0_0/<store>` (a ``StoreContext``'s directory).
///
/// Limits: one sub-topology (every source feeds one connected graph) and at most one
/// changelogged store (the state directory keeps one changelog); other topologies are refused
/// before anything runs.
///
/// Kafka Streams counterpart: `KafkaStreams` (`new KafkaStreams(topology, props).start()`).
///
/// - Important: Not `Sendable`: create and run it on one thread (stores are bound to it).
public final class EmbeddedStreams {
    /// The files and the guarantee.
    public let configuration: EmbeddedConfiguration
    package let engine: EmbeddedEngine
    package let state: StateDirectory?
    private let clock: any WallClock
    private let logger: Logger
    /// The task of the last ``run(_:configuration:shouldStop:onIteration:)``.
    public private(set) var task: StreamTask?
    private var closed = false
    /// Whether a topology was given to the engine (its changelog then belongs to it).
    private var started = false

    /// Locks the state directory and opens the checkpoint, the changelog, the outputs (cut back to
    /// the last commit under exactly-once) and the inputs (at the last commit).
    ///
    /// - Parameters:
    ///   - configuration: The files, the state directory and the guarantee.
    ///   - clock: The wall clock; the default is the system's.
    ///   - logger: Where the engine and the runtime report.
    /// - Throws: ``StreamsError``: ``StreamsError/Code/invalidConfiguration`` when the state
    ///   directory does not fit the inputs (other files, a changed file);
    ///   ``StreamsError/Code/engine`` when it is in use by another process (naming its pid) or a
    ///   file cannot be read or written; each message names the file and the fix.
    public convenience init(
        configuration: EmbeddedConfiguration,
        clock: any WallClock = SystemWallClock(),
        logger: Logger = StreamsLogging.disabled(label: "embedded")
    ) throws(StreamsError) {
        // Before the state directory is created: nothing on disk changes for a refused configuration.
        do { try configuration.checkFiles() } catch { throw error.streamsError }
        var state: StateDirectory?
        if let path = configuration.stateDirectory {
            do { state = try StateDirectory(path: path) } catch {
                throw StreamsError(.engine, error.message, underlying: error)
            }
        }
        try self.init(configuration: configuration, state: state, clock: clock, logger: logger)
    }

    /// The same as the public initializer, with the state directory already locked (by an
    /// application that checks its own settings in it first).
    package init(
        configuration: EmbeddedConfiguration,
        state: StateDirectory?,
        clock: any WallClock,
        logger: Logger
    ) throws(StreamsError) {
        self.configuration = configuration
        self.state = state
        self.clock = clock
        self.logger = logger
        do {
            try configuration.checkFiles()
            engine = try EmbeddedEngine(configuration: configuration, state: state, clock: clock, logger: logger)
        } catch {
            throw error.streamsError
        }
    }

    deinit {
        close()
    }

    /// Runs `topology` until every input ends (or, following, until `shouldStop` returns true),
    /// committing every ``StreamsConfiguration/commitInterval`` and once more at the end.
    ///
    /// - Parameters:
    ///   - topology: The topology; its source topics must be the configuration's input topics
    ///     and every sink topic needs an output file.
    ///   - configuration: The application id, commit interval and error policies;
    ///     ``StreamsConfiguration/stateDirectory`` is replaced by the state directory.
    ///   - shouldStop: Polled once per iteration; true commits what was processed and returns.
    ///   - onIteration: Called after each iteration (progress reporting).
    /// - Returns: Why the run ended.
    /// - Throws: ``StreamsError``: ``StreamsError/Code/illegalState`` when this object was closed or
    ///   has run a topology already (one run per object); the topology does not fit (``StreamsError/Code/invalidTopology``,
    ///   ``StreamsError/Code/invalidConfiguration``), an invalid record under the `fail` policy
    ///   (named by file and line, after the records before it were committed), or a processing,
    ///   store or file failure. Everything committed before the error stays committed.
    @discardableResult
    public func run(
        _ topology: Topology,
        configuration: StreamsConfiguration,
        shouldStop: () -> Bool = { false },
        onIteration: (StreamThread.Iteration) -> Void = { _ in }
    ) throws(StreamsError) -> StreamThread.Completion {
        let thread = try makeThread(topology, configuration: configuration)
        return try thread.run(shouldStop: shouldStop, onIteration: onIteration)
    }

    /// The stream thread ``run(_:configuration:shouldStop:onIteration:)`` runs, for drivers that
    /// step it themselves (the engine-contract tests).
    package func makeThread(_ topology: Topology, configuration: StreamsConfiguration) throws(StreamsError)
        -> StreamThread
    {
        guard !closed else {
            throw StreamsError(.illegalState, "this EmbeddedStreams is closed; create a new one to run again")
        }
        guard !started else {
            throw StreamsError(
                .illegalState,
                "this EmbeddedStreams has run a topology already (its inputs are read and its changelog belongs to that topology); create a new one to run again"
            )
        }
        try check(topology)
        started = true
        var streams = configuration
        if let state { streams.stateDirectory = state.path }
        let task = try StreamTask(
            id: TaskId(partition: 0),
            topology: topology,
            configuration: streams,
            inputs: engine.partitions,
            collector: engine,
            changelogWriter: engine,
            clock: clock,
            logger: logger
        )
        self.task = task
        let manager = TaskManager(engine: engine, tasks: [task], configuration: streams, clock: clock, logger: logger)
        return StreamThread(taskManager: manager, configuration: streams, clock: clock, logger: logger)
    }

    /// The limits of the type's documentation, and sources that fit the inputs.
    private func check(_ topology: Topology) throws(StreamsError) {
        let description = topology.describe()
        var problems: [String] = []
        // A dead-letter sink has no parents: it is a sub-topology of its own, without a source.
        let withSources = description.subtopologies.filter { $0.contains { $0.kind == "Source" } }
        if withSources.count > 1 {
            problems.append(
                "the topology has \(withSources.count) sub-topologies with sources; the embedded engine runs one (connect every source to one graph)"
            )
        }
        let logged = topology.changeloggedStores
        if logged.count > 1 {
            problems.append(
                "the topology has \(logged.count) changelogged stores (\(logged.joined(separator: ", "))); the embedded engine keeps one changelog per state directory (add the others with changelogged: false)"
            )
        }
        let sourceTopics = Set(
            description.subtopologies.flatMap { $0.filter { $0.kind == "Source" }.flatMap(\.topics) })
        for input in configuration.inputs where !sourceTopics.contains(input.topic) {
            problems.append("input topic '\(input.topic)' is read by no source of the topology")
        }
        let given = Set(configuration.inputs.map(\.topic))
        for topic in sourceTopics.sorted() where !given.contains(topic) {
            problems.append("source topic '\(topic)' has no input files")
        }
        guard problems.isEmpty else {
            throw StreamsError(.invalidTopology, problems.joined(separator: "; "))
        }
    }

    /// Closes the files and releases the state directory (also done when the object goes away).
    public func close() {
        guard !closed else { return }
        closed = true
        engine.close()
        state?.unlock()
    }
}
