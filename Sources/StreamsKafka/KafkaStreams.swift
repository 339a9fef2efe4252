public import Logging
public import StreamsCore

/// Runs a topology on Kafka topics, exactly once, as a member of a consumer group: the public
/// face of the Kafka engine.
///
/// Every instance started with the same ``KafkaStreamsConfiguration/applicationId`` joins one
/// consumer group; the group spreads the source topics' partitions over the instances, and each
/// partition number `p` becomes task `<subtopology>_<p>` (co-partitioned inputs share a task).
/// A task's stores keep their files under `<stateDirectory>/<applicationId>/<taskId>` and are
/// restored from their changelog topics (`<applicationId>-<store>-changelog`) when the task
/// starts here, also after its state directory was lost.
///
/// ```swift
/// var topology = Topology()
/// topology.addSource("orders", topics: ["orders"], key: .jsonField("id"), timestamp: .jsonField("ts"))
/// topology.addDeduplicator(
///     "dedup", parents: "orders", configuration: DeduplicatorConfiguration(key: .recordKey, window: .seconds(600)),
///     store: .lmdb())
/// topology.addSink("unique", topic: "unique-orders", parents: "dedup")
///
/// let streams = KafkaStreams(configuration: KafkaStreamsConfiguration(
///     bootstrapServers: "127.0.0.1:9092", applicationId: "orders-dedup"))
/// try streams.run(topology, configuration: StreamsConfiguration(applicationId: "orders-dedup",
///                                                              stateDirectory: "state"),
///                 shouldStop: { stopRequested.load(ordering: .relaxed) })
/// ```
///
/// The guarantee (``KafkaStreamsConfiguration/Guarantee/exactlyOnce``, the default): each
/// task's output, changelog records and input offsets commit in one Kafka transaction every
/// ``StreamsConfiguration/commitInterval``; consumers reading the output with
/// `isolation.level=read_committed` see every input record's effect exactly once, across restarts
/// and rebalances (see docs/kafka.md for what the test broker could and could not show).
///
/// Kafka Streams counterpart: `KafkaStreams` (`new KafkaStreams(topology, props).start()`).
///
/// - Important: Not `Sendable`: ``run(_:configuration:shouldStop:onIteration:)`` runs the stream
///   thread on the calling thread (stores and librdkafka's callbacks are bound to it).
public final class KafkaStreams {
    /// The cluster, application id, properties and guarantee.
    public let configuration: KafkaStreamsConfiguration
    private let clock: any WallClock
    private let logger: Logger

    /// Creates the application; nothing connects before ``run(_:configuration:shouldStop:onIteration:)``.
    ///
    /// - Parameters:
    ///   - configuration: The cluster, application id, librdkafka properties and guarantee.
    ///   - clock: The wall clock; the default is the system's.
    ///   - logger: Where the engine and the runtime report.
    public init(
        configuration: KafkaStreamsConfiguration,
        clock: any WallClock = SystemWallClock(),
        logger: Logger = StreamsLogging.disabled(label: "kafka")
    ) {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    /// Joins the group and runs `topology` until `shouldStop` returns true, then commits, closes
    /// the tasks and leaves the group (its partitions move to the other instances).
    ///
    /// - Parameters:
    ///   - topology: The topology; its sources read Kafka topics, its sinks write them.
    ///   - configuration: The commit interval, state directory and error policies;
    ///     ``StreamsConfiguration/applicationId`` is replaced by the Kafka configuration's.
    ///   - shouldStop: Polled once per iteration (at least every
    ///     ``KafkaStreamsConfiguration/pollTimeout`` or so); true commits and returns.
    ///   - onIteration: Called after each iteration (progress reporting).
    /// - Returns: ``StreamThread/Completion/stopped`` (Kafka inputs do not end).
    /// - Throws: ``StreamsError``: an invalid topology or configuration, an invalid record under
    ///   the `fail` policy (after the records before it were committed), or a processing, store or
    ///   Kafka failure that is not one task's (every task is then closed dirty; what was committed
    ///   stays committed).
    @discardableResult
    public func run(
        _ topology: Topology,
        configuration: StreamsConfiguration,
        shouldStop: () -> Bool,
        onIteration: (StreamThread.Iteration) -> Void = { _ in }
    ) throws(StreamsError) -> StreamThread.Completion {
        let (engine, thread) = try makeThread(topology, configuration: configuration)
        defer { engine.close() }
        return try thread.run(shouldStop: shouldStop, onIteration: onIteration)
    }

    /// The engine and the stream thread ``run(_:configuration:shouldStop:onIteration:)`` runs, for
    /// drivers that step it themselves (the engine-contract tests). Close the engine after the thread.
    package func makeThread(_ topology: Topology, configuration: StreamsConfiguration) throws(StreamsError)
        -> (KafkaEngine, StreamThread)
    {
        var streams = configuration
        streams.applicationId = self.configuration.applicationId
        // Fails early on a topology that cannot run, before joining the group.
        try topology.validate(for: streams)
        let engine = try KafkaEngine(settings: self.configuration, topology: topology, logger: logger)
        let manager = TaskManager(
            engine: engine, topology: topology, configuration: streams, clock: clock, logger: logger)
        return (engine, StreamThread(taskManager: manager, configuration: streams, clock: clock, logger: logger))
    }
}
