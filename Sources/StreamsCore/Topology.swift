public import StreamsState

/// The graph of a stream-processing application: named sources reading topics, processors, sinks
/// writing topics, and the state stores processors use.
///
/// Build it with a `var` and the `add…` methods, naming each node's parents as you add it (nodes
/// may be added in any order). Nothing is checked while building; ``validate()`` (and every task
/// created from the topology) reports every mistake at once, before anything runs.
///
/// ```swift
/// var topology = Topology()
/// topology.addSource("orders", topics: "orders")
/// topology.addProcessor("enrich", parents: "orders") { context in Enricher(context: context) }
/// topology.addSink("out", topic: "enriched-orders", parents: "enrich")
/// print(topology.describe())
/// ```
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.Topology`. A topology is a value: each
/// task instantiates its own processors and stores from the factories.
public struct Topology: Sendable {
    /// The kind of a node, with what only that kind has.
    enum NodeKind: Sendable {
        case source(topics: [String], key: RecordKeyExtractor, timestamp: RecordTimestampExtractor)
        case processor(ProcessorFactory)
        case sink(topic: String)
    }

    /// A node as the user declared it.
    struct NodeDefinition: Sendable {
        var name: String
        var kind: NodeKind
        var parents: [String]
    }

    /// A state store as the user declared it.
    struct StoreDefinition: Sendable {
        var name: String
        var changelogged: Bool
        var factory: StoreFactory
    }

    /// Nodes in the order they were added.
    var nodes: [NodeDefinition] = []
    /// Stores in the order they were added.
    var stores: [StoreDefinition] = []
    /// `(processor, store)` connections, in the order they were declared.
    var connections: [(processor: String, store: String)] = []
    /// Checks added with ``addValidation(ofNode:_:)``, in the order they were added.
    var nodeChecks: [(node: String, check: NodeCheck)] = []

    /// Creates an empty topology.
    public init() {}

    /// The names of the stores added with `changelogged: true`, in the order they were added;
    /// an engine that keeps changelogs its own way checks what it can hold.
    public var changeloggedStores: [String] { stores.filter(\.changelogged).map(\.name) }

    /// Adds a source node that reads records from one or more topics (or, for the embedded
    /// engine, input names).
    ///
    /// Kafka Streams counterpart: `Topology.addSource(name, topics...)`.
    ///
    /// - Parameters:
    ///   - name: The node's name, unique among nodes.
    ///   - topics: The topics it reads; at least one, and no topic read by two sources.
    public mutating func addSource(_ name: String, topics: String...) {
        addSource(name, topics: topics)
    }

    /// Adds a source node that reads records from the given topics, giving each record its key
    /// and timestamp with the extractors.
    ///
    /// ```swift
    /// topology.addSource("orders", topics: ["orders"], key: .jsonField("order.id"), timestamp: .jsonField("ts"))
    /// ```
    ///
    /// Kafka Streams counterpart: `Topology.addSource(name, keyDeserializer, valueDeserializer,
    /// topics...)` with a `TimestampExtractor`.
    ///
    /// - Parameters:
    ///   - name: The node's name, unique among nodes.
    ///   - topics: The topics it reads; at least one, and no topic read by two sources.
    ///   - key: How each record gets its key; default ``RecordKeyExtractor/recordKey`` (the engine's).
    ///   - timestamp: How each record gets its timestamp; default ``RecordTimestampExtractor/record``.
    public mutating func addSource(
        _ name: String,
        topics: [String],
        key: RecordKeyExtractor = .recordKey,
        timestamp: RecordTimestampExtractor = .record
    ) {
        nodes.append(
            NodeDefinition(name: name, kind: .source(topics: topics, key: key, timestamp: timestamp), parents: []))
    }

    /// Adds a processor node, its parents and the stores it uses.
    ///
    /// Each task calls `factory` once, after its stores are restored, to get its own processor.
    ///
    /// Kafka Streams counterpart: `Topology.addProcessor(name, supplier, parentNames...)` plus
    /// `connectProcessorAndStateStores`.
    ///
    /// - Parameters:
    ///   - name: The node's name, unique among nodes.
    ///   - parents: The sources or processors whose output this processor receives; at least one.
    ///   - stores: Names of stores (added with ``addStateStore(_:changelogged:connectedTo:_:)``) it may access.
    ///   - factory: Makes the processor for one task from that task's context.
    public mutating func addProcessor(
        _ name: String,
        parents: String...,
        stores: [String] = [],
        _ factory: @escaping ProcessorFactory
    ) {
        addProcessor(name, parents: parents, stores: stores, factory)
    }

    /// Adds a processor node; the same as the variadic form, with the parents as an array.
    ///
    /// - Parameters:
    ///   - name: The node's name, unique among nodes.
    ///   - parents: The sources or processors whose output this processor receives; at least one.
    ///   - stores: Names of stores it may access.
    ///   - factory: Makes the processor for one task from that task's context.
    public mutating func addProcessor(
        _ name: String,
        parents: [String],
        stores: [String] = [],
        _ factory: @escaping ProcessorFactory
    ) {
        nodes.append(NodeDefinition(name: name, kind: .processor(factory), parents: parents))
        for store in stores { connections.append((name, store)) }
    }

    /// Adds a sink node that writes every record it receives to `topic`.
    ///
    /// A sink without parents is allowed only as the dead-letter sink of
    /// ``DeserializationErrorPolicy/deadLetter(sink:)``.
    ///
    /// Kafka Streams counterpart: `Topology.addSink(name, topic, parentNames...)`.
    ///
    /// - Parameters:
    ///   - name: The node's name, unique among nodes.
    ///   - topic: The topic (or, for the embedded engine, output name) it writes.
    ///   - parents: The sources or processors whose output it writes.
    public mutating func addSink(_ name: String, topic: String, parents: String...) {
        nodes.append(NodeDefinition(name: name, kind: .sink(topic: topic), parents: parents))
    }

    /// Registers a state store and, optionally, the processors that use it.
    ///
    /// Each task calls `factory` once when it is created. The store must report `name` as its
    /// ``StateStore/name``. A changelogged store is wrapped with ``StateStore/loggingChanges(to:)``
    /// around the engine's ``ChangelogSink`` (processors and ``StreamTask/store(named:)`` see the
    /// wrapper; for a window store a ``ChangeLoggingWindowStore`` whose `inner` is the factory's
    /// store) and is restored from its changelog before processing starts.
    ///
    /// Kafka Streams counterpart: `Topology.addStateStore(storeBuilder, processorNames...)`.
    ///
    /// - Parameters:
    ///   - name: The store's name, unique among stores.
    ///   - changelogged: Whether mutations go to a changelog (needed for exactly-once restore);
    ///     default `true`.
    ///   - processors: Processors that use the store; more can be connected with
    ///     ``connectProcessorAndStateStores(_:stores:)`` or `addProcessor(…, stores:)`.
    ///   - factory: Opens the store for one task.
    public mutating func addStateStore(
        _ name: String,
        changelogged: Bool = true,
        connectedTo processors: [String] = [],
        _ factory: @escaping StoreFactory
    ) {
        stores.append(StoreDefinition(name: name, changelogged: changelogged, factory: factory))
        for processor in processors { connections.append((processor, name)) }
    }

    /// Lets `processor` access the named stores.
    ///
    /// Kafka Streams counterpart: `Topology.connectProcessorAndStateStores`.
    public mutating func connectProcessorAndStateStores(_ processor: String, stores: String...) {
        for store in stores { connections.append((processor, store)) }
    }

    /// Adds a check of node `name` that ``validate()`` (and so every task, before it opens a
    /// store) runs with the node as the finished topology has it: its children, parents and
    /// stores. A processor whose settings must fit the graph (the Deduplicator's duplicates child,
    /// for example) registers one, so a mistake fails validation instead of a record.
    ///
    /// No Kafka Streams counterpart.
    ///
    /// - Parameters:
    ///   - name: The node to check; a check of a node that is not in the topology is a problem.
    ///   - check: Returns the problems found, each naming the node and the fix; none if all is well.
    ///     Use code ``StreamsError/Code/invalidTopology`` for a problem of the graph and
    ///     ``StreamsError/Code/invalidConfiguration`` for a setting out of range.
    public mutating func addValidation(ofNode name: String, _ check: @escaping NodeCheck) {
        nodeChecks.append((name, check))
    }
}

/// A check of one node of a topology, added with ``Topology/addValidation(ofNode:_:)``: given the
/// node as resolved (``TopologyDescription/Node/successors`` are its children, in forwarding
/// order), returns the problems found.
public typealias NodeCheck = @Sendable (TopologyDescription.Node) -> [StreamsError]

/// Makes one task's instance of a processor from that task's context for the node.
public typealias ProcessorFactory = @Sendable (ProcessorContext) throws -> any Processor

/// Opens one task's instance of a state store.
public typealias StoreFactory = @Sendable (StoreContext) throws -> any StateStore

/// What a store factory knows about the task it opens a store for.
public struct StoreContext: Sendable {
    /// The task the store belongs to.
    public var taskId: TaskId
    /// The store's name.
    public var storeName: String
    /// The application's id.
    public var applicationId: String
    /// A directory reserved for this store: `<stateDirectory>/<applicationId>/<taskId>/<storeName>`.
    /// It may not exist yet; the factory creates it if it needs files.
    public var directory: String

    /// Creates a store context.
    public init(taskId: TaskId, storeName: String, applicationId: String, directory: String) {
        self.taskId = taskId
        self.storeName = storeName
        self.applicationId = applicationId
        self.directory = directory
    }
}
