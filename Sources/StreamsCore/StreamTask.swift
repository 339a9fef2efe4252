public import Logging
public import StreamsState

/// Runs one instance of a topology for one input partition (or group of input partitions): owns
/// its processors and stores, picks the next record across its inputs, tracks stream time, runs
/// punctuators, and takes part in commits.
///
/// States follow Kafka Streams: CREATED → RESTORING → RUNNING → SUSPENDED → CLOSED (also
/// CREATED → SUSPENDED/CLOSED, RESTORING → SUSPENDED, SUSPENDED → RESTORING). Calling a method in
/// a state that does not allow it is a programmer error and traps.
///
/// Record selection: among inputs with buffered records, the one whose first record has the
/// smallest timestamp, ties going to the input listed first. Only buffered records are compared;
/// an engine that wants strict time order across inputs keeps every input's queue non-empty
/// before calling ``process(maxRecords:)`` (Kafka Streams' `max.task.idle.ms`).
///
/// Normally a ``TaskManager`` drives tasks; use one directly only to write an engine or a test.
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.processor.internals.StreamTask`.
///
/// - Important: A task and everything it owns is used from one thread; it is not `Sendable`.
public final class StreamTask {
    /// The lifecycle state of a task.
    public enum State: Sendable, Hashable, CustomStringConvertible {
        /// Stores are open; nothing restored or processed yet.
        case created
        /// Stores are being caught up with their changelogs; processors do not exist yet.
        case restoring
        /// Processors exist and records are processed.
        case running
        /// Processors are closed; stores still open (ready to commit, resume or close).
        case suspended
        /// Everything is closed.
        case closed

        /// The state's name in upper case, as Kafka Streams logs it.
        public var description: String {
            switch self {
            case .created: "CREATED"
            case .restoring: "RESTORING"
            case .running: "RUNNING"
            case .suspended: "SUSPENDED"
            case .closed: "CLOSED"
            }
        }

        /// Whether Kafka Streams' state machine allows going from `self` to `next`.
        func canTransition(to next: State) -> Bool {
            switch (self, next) {
            case (.created, .restoring), (.created, .suspended), (.created, .closed),
                (.restoring, .running), (.restoring, .suspended),
                (.running, .suspended),
                (.suspended, .restoring), (.suspended, .closed):
                true
            default:
                false
            }
        }
    }

    /// A node at run time.
    struct Node {
        enum Kind {
            case source
            case processor(ProcessorFactory)
            case sink(topic: String, handle: SinkHandle)
        }

        var name: String
        var kind: Kind
        var children: [Int]
        var stores: [String]
    }

    /// The task's id.
    public let id: TaskId
    /// The input partitions, in tie-break order.
    public let inputs: [TopicPartition]
    /// The task's state.
    public private(set) var state: State = .created
    // Hot per-record state: a task runs on one thread and these are never accessed re-entrantly,
    // so Swift's dynamic exclusivity checks (a measurable share of a record) are switched off.
    /// The largest timestamp of the records processed so far (`Int64.min` before any). Never goes back.
    @exclusivity(unchecked) public private(set) var streamTimeMs: Int64 = .min
    /// Whether a processor called ``ProcessorContext/requestCommit()`` since the last commit.
    @exclusivity(unchecked) public internal(set) var commitRequested = false
    /// How many records were consumed without output because of ``DeserializationErrorPolicy/skip``
    /// or ``ProcessingErrorPolicy/skip``.
    @exclusivity(unchecked) public private(set) var skippedRecordCount = 0
    /// How many records were sent to the dead-letter sink.
    @exclusivity(unchecked) public private(set) var deadLetterRecordCount = 0
    /// How many invalid records (``StreamsError/Code/deserialization`` or
    /// ``StreamsError/Code/invalidRecord``: from a source's extractors or a processor) were skipped
    /// or dead-lettered.
    @exclusivity(unchecked) public private(set) var invalidRecordCount = 0
    /// The first ``recordErrorLogLimit`` invalid records are logged at
    /// ``StreamsConfiguration/recordErrorLogLevel``, the rest at debug level only (count them
    /// with ``invalidRecordCount``), so that a bad input does not flood the log.
    public static let recordErrorLogLimit = 10

    let configuration: StreamsConfiguration
    let clock: any WallClock
    let collector: any RecordCollector
    let logger: Logger
    @exclusivity(unchecked) var nodes: [Node]
    @exclusivity(unchecked) private var processors: [(any Processor)?]
    private var contexts: [ProcessorContext?]
    /// Per input: the source node that reads it.
    private let inputSources: [Int]
    @exclusivity(unchecked) private var queues: [RecordQueue]
    /// Per input: its source's key and time extraction, `nil` when both keep the engine's.
    @exclusivity(unchecked) private var extractions: [RecordExtraction?]
    /// Per input: the invalid record it stopped at under ``DeserializationErrorPolicy/fail``.
    private var inputFailures: [StreamsError?]
    /// Per input: the offset of the last record consumed.
    @exclusivity(unchecked) private var consumedOffsets: [Int64?]
    private let inputIndex: [TopicPartition: Int]
    /// Stores by name, in declaration order in ``storeNames``.
    var stores: [String: any StateStore] = [:]
    private var storeNames: [String] = []
    private var changelogs: [String: ChangelogID] = [:]
    private var schedules: [PunctuationSchedule] = []
    @exclusivity(unchecked) private var nextStreamPunctuationMs: Int64 = .max
    private var nextWallClockPunctuationMs: Int64 = .max
    @exclusivity(unchecked) var currentOrigin: RecordOrigin?
    /// The record path's view of the topology, built once the processors exist.
    @exclusivity(unchecked) private var routes: RecordRoutes?
    @exclusivity(unchecked) private var failedNode: Int?
    private let deadLetterSink: (name: String, topic: String, handle: SinkHandle)?

    /// Creates a task and opens its stores (state CREATED).
    ///
    /// - Parameters:
    ///   - id: The task's id.
    ///   - topology: The topology to run; it is validated against `configuration`.
    ///   - configuration: Policies and sizes.
    ///   - inputs: The input partitions the task owns, in tie-break order; each topic must be read
    ///     by a source of the topology.
    ///   - collector: Where sinks' records go.
    ///   - changelogWriter: Gives each changelogged store its changelog sink.
    ///   - clock: The wall clock for processing time, wall-clock punctuation and commit cadence.
    ///   - logger: The logger; the task adds `task` metadata.
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/invalidTopology`` or
    ///   ``StreamsError/Code/invalidConfiguration``, or ``StreamsError/Code/stateStore`` when a
    ///   store cannot be opened (stores opened before it are closed again).
    public init(
        id: TaskId,
        topology: Topology,
        configuration: StreamsConfiguration,
        inputs: [TopicPartition],
        collector: any RecordCollector,
        changelogWriter: any ChangelogWriter,
        clock: any WallClock,
        logger: Logger
    ) throws(StreamsError) {
        let resolved = try topology.resolve(configuration: configuration)
        self.id = id
        self.configuration = configuration
        self.clock = clock
        self.lastStoreCommitMs = clock.nowMs
        self.collector = collector
        var logger = logger
        logger[metadataKey: "task"] = "\(id)"
        self.logger = logger
        // Each sink's topic is resolved by the engine once, here: sending a record then needs no
        // lookup by topic name.
        var nodes: [Node] = []
        for node in resolved.nodes {
            let kind: Node.Kind
            switch node.kind {
            case .source: kind = .source
            case .processor(let factory): kind = .processor(factory)
            case .sink(let topic):
                kind = .sink(topic: topic, handle: try collector.sinkHandle(topic: topic, sink: node.name, task: id))
            }
            nodes.append(Node(name: node.name, kind: kind, children: node.children, stores: node.stores))
        }
        self.nodes = nodes
        processors = Array(repeating: nil, count: resolved.nodes.count)
        contexts = Array(repeating: nil, count: resolved.nodes.count)

        var sources: [Int] = []
        var extractions: [RecordExtraction?] = []
        let stopsAtInvalid: Bool
        if case .fail = configuration.deserializationErrorPolicy {
            stopsAtInvalid = true
        } else {
            stopsAtInvalid = false
        }
        var index: [TopicPartition: Int] = [:]
        for (i, input) in inputs.enumerated() {
            guard let source = resolved.sourceForTopic[input.topic] else {
                throw StreamsError(
                    .invalidConfiguration,
                    "input '\(input)' is not read by any source; sources read \(resolved.topics)"
                )
            }
            guard index.updateValue(i, forKey: input) == nil else {
                throw StreamsError(.invalidConfiguration, "input '\(input)' is listed twice")
            }
            sources.append(source)
            guard case .source(_, let key, let timestamp) = resolved.nodes[source].kind else {
                preconditionFailure("a topic's node is a source")
            }
            extractions.append(
                try CompiledSourceExtractor(key: key, timestamp: timestamp).map {
                    RecordExtraction(compiled: $0, stopsAtInvalid: stopsAtInvalid)
                })
        }
        self.extractions = extractions
        self.inputFailures = Array(repeating: nil, count: inputs.count)
        self.inputs = inputs
        self.inputSources = sources
        self.inputIndex = index
        self.queues = Array(repeating: RecordQueue(), count: inputs.count)
        self.consumedOffsets = Array(repeating: nil, count: inputs.count)

        if case .deadLetter(let sink) = configuration.deserializationErrorPolicy,
            let node = nodes.first(where: { $0.name == sink }), case .sink(let topic, let handle) = node.kind
        {
            deadLetterSink = (sink, topic, handle)
        } else {
            deadLetterSink = nil
        }

        for definition in resolved.stores {
            let context = StoreContext(
                taskId: id,
                storeName: definition.name,
                applicationId: configuration.applicationId,
                directory: "\(configuration.stateDirectory)/\(configuration.applicationId)/\(id)/\(definition.name)"
            )
            var store: any StateStore
            do {
                store = try definition.factory(context)
            } catch {
                closeStores()
                throw StreamsError(
                    .stateStore,
                    "cannot open store '\(definition.name)' of task \(id): \(error)",
                    underlying: error
                )
            }
            guard store.name == definition.name else {
                try? store.close()
                closeStores()
                throw StreamsError(
                    .invalidTopology,
                    "the factory of store '\(definition.name)' made a store named '\(store.name)'; the names must match"
                )
            }
            if definition.changelogged {
                let changelog = ChangelogID(taskId: id, storeName: definition.name)
                store = store.loggingChanges(to: changelogWriter.changelogSink(for: changelog))
                changelogs[definition.name] = changelog
            }
            stores[definition.name] = store
            storeNames.append(definition.name)
        }
    }

    private func transition(to next: State) {
        precondition(state.canTransition(to: next), "task \(id): illegal transition \(state) -> \(next)")
        logger.debug("task state \(state) -> \(next)")
        state = next
    }

    // MARK: Stores

    /// The store named `name`, whatever processors it is connected to (for engines and tests).
    public func store(named name: String) -> (any StateStore)? { stores[name] }

    /// The changelogs of this task's changelogged stores, in declaration order.
    public var changelogIDs: [ChangelogID] { storeNames.compactMap { changelogs[$0] } }

    /// Restore progress: where each store's restore started and has got to, and which stores
    /// are caught up.
    private var restoreStarts: [String: ChangelogPosition] = [:]
    private var restorePositions: [String: ChangelogPosition] = [:]
    /// The end of each store's changelog when its restore started (``ChangelogReader/changelogEnd(_:)``).
    private var restoreEnds: [String: ChangelogPosition?] = [:]
    private var restoredStores: Set<String> = []

    /// CREATED → RESTORING: stream time resumes from the committed value, if any.
    ///
    /// - Parameter committedStreamTimeMs: The stream time of the last commit
    ///   (``CommitCoordinator/committedStreamTimeMs(for:)``), or `nil`.
    public func initializeStateStores(committedStreamTimeMs: Int64?) {
        transition(to: .restoring)
        if let committedStreamTimeMs { streamTimeMs = max(streamTimeMs, committedStreamTimeMs) }
    }

    /// The changelog position a store's committed state reflects (``ChangelogPosition/beginning``
    /// if it never recorded one).
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/stateStore``.
    public func changelogPosition(ofStore name: String) throws(StreamsError) -> ChangelogPosition {
        guard let store = stores[name] else { preconditionFailure("task \(id) has no store '\(name)'") }
        let bytes: [UInt8]?
        do { bytes = try store.metadata(forKey: ChangelogPosition.metadataKey) } catch {
            throw StreamsError(.stateStore, "cannot read the changelog position of store '\(name)'", underlying: error)
        }
        guard let bytes else { return .beginning }
        guard let position = ChangelogPosition(metadata: bytes) else {
            throw StreamsError(
                .stateStore,
                "store '\(name)' has a damaged changelog position (\(bytes.count) bytes); "
                    + "delete the store to rebuild it"
            )
        }
        return position
    }

    /// In RESTORING: brings every changelogged store up to date with its changelog, reading from
    /// the position the store recorded, in batches of ``StreamsConfiguration/restoreBatchSize``,
    /// committing the store after each batch with the position it now reflects.
    ///
    /// - Returns: The number of changelog entries applied.
    /// - Throws: ``StreamsError`` (codes ``StreamsError/Code/engine``, ``StreamsError/Code/stateStore``).
    @discardableResult
    public func restore(from reader: any ChangelogReader) throws(StreamsError) -> Int {
        var restored = 0
        while true {
            let step = try restoreBatch(from: reader)
            restored += step.entries
            if step.done { return restored }
        }
    }

    /// In RESTORING: applies one batch (at most ``StreamsConfiguration/restoreBatchSize``
    /// entries) of the first store that is not caught up, and commits the store with the position
    /// it now reflects, so that the stream thread can restore a little per iteration and keep
    /// polling (Kafka Streams restores the same way, with the task's partitions paused).
    ///
    /// A store whose recorded position lies past the changelog's end (``ChangelogReader/changelogEnd(_:)``)
    /// holds entries the changelog does not: it is not restored on top of, the task is
    /// ``StreamsError/Code/taskCorrupted`` (the task manager wipes its state and creates it again).
    ///
    /// - Returns: The entries applied, and whether every store is caught up (then call
    ///   ``completeRestoration()``).
    /// - Throws: ``StreamsError`` (codes ``StreamsError/Code/engine``, ``StreamsError/Code/stateStore``,
    ///   ``StreamsError/Code/taskCorrupted``).
    public func restoreBatch(from reader: any ChangelogReader) throws(StreamsError) -> (entries: Int, done: Bool) {
        precondition(state == .restoring, "task \(id): restore in state \(state)")
        for name in storeNames where !restoredStores.contains(name) {
            guard let changelog = changelogs[name], let store = stores[name] else {
                restoredStores.insert(name)
                continue
            }
            let start: ChangelogPosition
            if let known = restoreStarts[name] {
                start = known
            } else {
                start = try changelogPosition(ofStore: name)
                let end = try reader.changelogEnd(changelog)
                // A store past the end of its changelog reflects entries the changelog does not
                // hold (the topic was deleted and created again, or the state directory is another
                // cluster's): restored on top of it, the store would keep them.
                if let end, start > end {
                    throw StreamsError(
                        .taskCorrupted,
                        "store '\(name)' of task \(id) is at changelog position \(start), past the end \(end) of its changelog \(reader.describe(changelog)) (was the changelog deleted and created again, or is the state directory another cluster's?); the task's state is wiped and rebuilt from the changelog",
                        taskId: id)
                }
                restoreStarts[name] = start
                restoreEnds[name] = end
            }
            let position = restorePositions[name] ?? start
            if let end = restoreEnds[name] ?? nil, position >= end {
                restoredStores.insert(name)
                if position != start {
                    logger.info("restored store '\(name)' from changelog position \(start) to \(position)")
                }
                continue
            }
            let batch = try reader.readChangelog(
                changelog,
                from: position,
                maxEntries: max(1, configuration.restoreBatchSize)
            )
            if batch.entries.isEmpty {
                // An empty batch may still move the position (past a Kafka transaction marker).
                if batch.nextPosition > position { restorePositions[name] = batch.nextPosition }
                // Before the end the engine reported, an empty batch is a read that timed out.
                if let end = restoreEnds[name] ?? nil, max(position, batch.nextPosition) < end { return (0, false) }
                restoredStores.insert(name)
                if position != start {
                    logger.info("restored store '\(name)' from changelog position \(start) to \(position)")
                }
                continue
            }
            do {
                try store.restore(from: batch.entries)
                try store.commit(metadata: [ChangelogPosition.metadataKey: batch.nextPosition.metadata])
            } catch {
                throw StreamsError(
                    .stateStore, "cannot restore store '\(name)' from \(changelog): \(error)", underlying: error)
            }
            restorePositions[name] = batch.nextPosition
            return (batch.entries.count, false)
        }
        return (0, true)
    }

    /// RESTORING → RUNNING: makes the processors (in node order) with their contexts.
    ///
    /// - Throws: ``StreamsError`` (code ``StreamsError/Code/processing`` unless the factory threw a
    ///   ``StreamsError``) when a factory fails; processors made before it stay, and are closed by
    ///   ``closeDirty()``.
    public func completeRestoration() throws(StreamsError) {
        transition(to: .running)
        for i in nodes.indices {
            guard case .processor(let factory) = nodes[i].kind else { continue }
            let context = ProcessorContext(
                task: self,
                node: i,
                nodeName: nodes[i].name,
                childNames: nodes[i].children.map { nodes[$0].name },
                logger: logger
            )
            contexts[i] = context
            do {
                processors[i] = try factory(context)
            } catch let error as StreamsError {
                var error = error
                if error.node == nil { error.node = nodes[i].name }
                throw error
            } catch {
                throw StreamsError(
                    .processing,
                    "cannot create processor '\(nodes[i].name)': \(error)",
                    node: nodes[i].name,
                    underlying: error
                )
            }
        }
        routes = RecordRoutes(nodes: nodes, processors: processors)
        // Only now does every child exist: forwarding from a factory would reach a missing processor.
        for context in contexts { context?.phase = .active }
    }

    // MARK: Processing

    /// Buffers records read from `partition` (which must be one of ``inputs``), giving each the
    /// key and timestamp of its source's extractors (``Topology/addSource(_:topics:key:timestamp:)``).
    ///
    /// An invalid record (its key or time cannot be extracted) under
    /// ``DeserializationErrorPolicy/fail`` stops the partition: it and the records after it are
    /// dropped (never consumed, so never committed), the partition takes no more records, and
    /// ``inputFailure(for:)`` returns the error (the stream thread processes and commits the
    /// records before it, then fails with it). Under the other policies it is buffered in its
    /// place, without key and with timestamp `Int64.min` (so it does not hold back the other
    /// inputs), and the policy applies when it is processed.
    public func addRecords(_ records: some Collection<Record>, for partition: TopicPartition) {
        addBatch(InputBatch(partition: partition, records: Array(records)))
    }

    /// ``addRecords(_:for:)`` taking the array: when the caller passes the only reference (the
    /// task manager moves each polled batch here), keys and timestamps are set in place and an
    /// empty queue takes the array as it is, without copying a record.
    public func addRecords(_ records: consuming [Record], for partition: TopicPartition) {
        addBatch(InputBatch(partition: partition, records: records))
    }

    /// Buffers a polled batch as ``addRecords(_:for:)`` does; a batch its engine already extracted
    /// (``InputBatch/isExtracted``, see ``RecordPoller/adoptExtraction(_:for:)``) is only
    /// buffered, with the invalid records and the ahead warning the extraction found.
    public func addBatch(_ batch: consuming InputBatch) {
        var batch = batch
        guard let i = inputIndex[batch.partition] else {
            preconditionFailure("task \(id) does not own input \(batch.partition)")
        }
        guard inputFailures[i] == nil else { return }
        if !batch.isExtracted {
            guard extractions[i] != nil else {
                queues[i].append(contentsOf: take(&batch.records))
                return
            }
            extractions[i]!.extract(&batch, nowMs: clock.nowMs)
        }
        if let (origin, message) = batch.aheadWarning {
            let place = origin.map { collector.describe($0) + ": " } ?? ""
            logger.warning("\(place)\(message)")
        }
        guard !batch.invalidRecords.isEmpty else {
            queues[i].append(contentsOf: take(&batch.records))
            return
        }
        var start = 0
        for (at, error) in batch.invalidRecords {
            queues[i].append(contentsOf: batch.records[start..<at])
            if case .fail = configuration.deserializationErrorPolicy {
                var error = error
                if error.node == nil { error.node = nodes[inputSources[i]].name }
                error.message = locate(error.message, origin: batch.records[at].origin)
                inputFailures[i] = error
                return
            }
            queues[i].append(batch.records[at], failure: error)
            start = at + 1
        }
        queues[i].append(contentsOf: batch.records[start...])
    }

    /// `records`, leaving an empty array behind: moves the only reference out.
    @inline(__always)
    private func take(_ records: inout [Record]) -> [Record] {
        var taken: [Record] = []
        swap(&taken, &records)
        return taken
    }

    /// The key and timestamp extraction of `partition`'s source, to run off the task's thread
    /// (``RecordPoller/adoptExtraction(_:for:)``); `nil` when the source keeps the engine's keys
    /// and timestamps.
    public func extraction(for partition: TopicPartition) -> RecordExtraction? {
        inputIndex[partition].flatMap { extractions[$0] }
    }

    /// The invalid record `partition` stopped at under ``DeserializationErrorPolicy/fail``
    /// (see ``addRecords(_:for:)``), with the record's place (``RecordCollector/describe(_:)``) in
    /// front of its message; `nil` while the partition is fine.
    public func inputFailure(for partition: TopicPartition) -> StreamsError? {
        inputIndex[partition].flatMap { inputFailures[$0] }
    }

    /// `message` with the record's place in front (`orders.jsonl:42: …`) when the engine names
    /// it better than the origin the error's description shows anyway (`[at orders-0@41]`).
    private func locate(_ message: String, origin: RecordOrigin?) -> String {
        guard let origin else { return message }
        let place = collector.describe(origin)
        return place == origin.description ? message : "\(place): \(message)"
    }

    /// The number of buffered records, over all inputs.
    public var bufferedRecordCount: Int { queues.reduce(0) { $0 + $1.count } }

    /// The number of buffered records of one input. Engines that must keep the record order
    /// independent of batch boundaries (the embedded engine) process at most the smallest count
    /// over their non-exhausted inputs, then refill (Kafka Streams' `max.task.idle.ms` idea).
    public func bufferedRecordCount(for partition: TopicPartition) -> Int {
        guard let i = inputIndex[partition] else { return 0 }
        return queues[i].count
    }

    /// The index of the input to take the next record from, or `nil` if nothing is buffered.
    @inline(__always)
    private func nextInput() -> Int? {
        var best: Int?
        var bestTimestamp = Int64.max
        for i in queues.indices where !queues[i].isEmpty {
            let timestamp = queues[i].headTimestampMs
            if best == nil || timestamp < bestTimestamp {
                best = i
                bestTimestamp = timestamp
            }
        }
        return best
    }

    /// Processes up to `maxRecords` buffered records, each followed by due stream-time punctuation.
    ///
    /// - Returns: The number of records consumed.
    /// - Throws: ``StreamsError`` when a record fails and the policy is `fail`, or on a store or
    ///   engine failure; the failing record is not consumed. Close the task with ``closeDirty()``.
    @discardableResult
    public func process(maxRecords: Int = .max) throws(StreamsError) -> Int {
        precondition(state == .running, "task \(id): process in state \(state)")
        precondition(routes != nil, "task \(id): process before its processors exist")
        var count = 0
        while count < maxRecords, let input = nextInput() {
            let (record, failure) = queues[input].removeFirst()
            if let failure {
                try processInvalid(record, failure: failure, input: input)
            } else {
                try processRecord(record, input: input)
            }
            count += 1
            if streamTimeMs >= nextStreamPunctuationMs {
                try punctuate(.streamTime, nowMs: streamTimeMs)
            }
        }
        return count
    }

    private func processRecord(_ record: Record, input: Int) throws(StreamsError) {
        if record.timestampMs > streamTimeMs { streamTimeMs = record.timestampMs }
        currentOrigin = record.origin
        failedNode = nil
        defer { currentOrigin = nil }
        do {
            try deliverToChildren(record, of: inputSources[input])
        } catch {
            try handleFailure(error, record: record, fromNode: inputSources[input], input: input)
        }
        if let offset = record.origin?.offset { consumedOffsets[input] = offset }
    }

    /// Applies the deserialization policy to a record the source's extractors found invalid.
    @inline(never)
    private func processInvalid(_ record: Record, failure: StreamsError, input: Int) throws(StreamsError) {
        currentOrigin = record.origin
        failedNode = nil
        defer { currentOrigin = nil }
        try handleFailure(failure, record: record, fromNode: inputSources[input], input: input)
        if let offset = record.origin?.offset { consumedOffsets[input] = offset }
    }

    /// Hands `record` to node `node`: its processor, or the collector for a sink. Only while
    /// the task runs (its processors exist).
    @inline(__always)
    func deliver(_ record: Record, to node: Int) throws {
        let routes = routes.unsafelyUnwrapped
        do {
            if let processor = routes.processors[node] {
                try processor._withUnsafeGuaranteedRef { try $0.processor.process(record) }
            } else {
                try collector.send(record, to: SinkHandle(routes.sinkHandles[node]))
            }
        } catch {
            if failedNode == nil { failedNode = node }
            throw error
        }
    }

    /// Hands `record` to every child of node `node`, in order.
    @inline(__always)
    func deliverToChildren(_ record: Record, of node: Int) throws {
        let routes = routes.unsafelyUnwrapped
        var i = routes.childStart[node]
        let end = routes.childStart[node + 1]
        while i < end {
            try deliver(record, to: routes.children[i])
            i += 1
        }
    }

    /// Applies the error policies to a failure while processing `record` (or a punctuation when
    /// `record` is `nil`, read from input `input`); throws when the task must stop.
    private func handleFailure(
        _ error: any Error, record: Record?, fromNode: Int, input: Int? = nil
    ) throws(StreamsError) {
        let nodeName = failedNode.map { nodes[$0].name } ?? nodes[fromNode].name
        var failure: StreamsError
        if let error = error as? StreamsError {
            failure = error
        } else if let error = error as? StateStoreError {
            failure =
                error.engineError
                ?? StreamsError(.stateStore, "a store failed in '\(nodeName)': \(error)", underlying: error)
        } else {
            failure = StreamsError(.processing, "processor '\(nodeName)' failed: \(error)", underlying: error)
        }
        if failure.node == nil { failure.node = nodeName }
        if failure.origin == nil { failure.origin = record?.origin }

        if failure.isFatal { throw failure }
        if failure.isDeserializationFailure, let record {
            switch configuration.deserializationErrorPolicy {
            case .fail:
                failure.message = locate(failure.message, origin: record.origin)
                throw failure
            case .skip:
                skippedRecordCount += 1
                invalidRecordCount += 1
                logInvalid(failure, record: record, deadLetter: nil)
            case .deadLetter:
                guard let deadLetterSink else { throw failure }
                var dead = record
                dead.headers.append(RecordHeader(name: "streams.error.code", string: failure.code.name))
                dead.headers.append(RecordHeader(name: "streams.error.message", string: failure.message))
                dead.headers.append(RecordHeader(name: "streams.error.node", string: failure.node ?? ""))
                dead.headers.append(
                    RecordHeader(name: "streams.error.origin", string: failure.origin?.description ?? ""))
                if let input, let limit = extractions[input]?.compiled.maxRecordBytes { Self.cut(&dead, toFit: limit) }
                try collector.send(dead, to: deadLetterSink.handle)
                deadLetterRecordCount += 1
                invalidRecordCount += 1
                logInvalid(failure, record: record, deadLetter: deadLetterSink.name)
            }
        } else {
            switch configuration.processingErrorPolicy {
            case .fail:
                throw failure
            case .skip:
                skippedRecordCount += 1
                logger.log(level: configuration.recordErrorLogLevel, "skipping after processing error: \(failure)")
            }
        }
    }

    /// Cuts a dead-lettered record's value so that the record (key, value, headers) fits the
    /// source's record limit, and says so in the header `streams.error.value.bytes` (the value's
    /// length before the cut): a record refused for its size is then still dead-lettered, its
    /// first bytes kept and `streams.error.origin` naming where the whole record is.
    private static func cut(_ record: inout Record, toFit limit: Int) {
        let size = (record.key?.count ?? 0) + record.value.count + record.headerBytes
        guard size > limit else { return }
        let length = String(record.value.count)
        let header = RecordHeader(name: "streams.error.value.bytes", string: length)
        let excess = size + header.name.utf8.count + length.utf8.count - limit
        record.value = record.value.prefix(max(0, record.value.count - excess))
        record.headers.append(header)
    }

    /// Logs a skipped or dead-lettered invalid record: `<place>: skipped an invalid record:
    /// <reason>`, at ``StreamsConfiguration/recordErrorLogLevel`` for the first
    /// ``recordErrorLogLimit``, at debug level after that.
    @inline(never)
    private func logInvalid(_ failure: StreamsError, record: Record, deadLetter: String?) {
        let level = invalidRecordCount <= Self.recordErrorLogLimit ? configuration.recordErrorLogLevel : .debug
        guard logger.logLevel <= level else { return }
        let sent = deadLetter.map { " (sent to the dead-letter sink '\($0)')" } ?? ""
        let last =
            invalidRecordCount == Self.recordErrorLogLimit
            ? "; further invalid records are logged at debug level only" : ""
        logger.log(
            level: level,
            "\(locate("skipped an invalid record: \(failure.message)", origin: record.origin))\(sent)\(last)")
    }

    // MARK: Punctuation

    func schedule(node: Int, intervalMs: Int64, type: PunctuationType, punctuator: @escaping Punctuator) -> Cancellable
    {
        precondition(intervalMs >= 1, "punctuation interval must be at least 1 ms")
        precondition(state == .running, "task \(id): schedule in state \(state)")
        let handle = Cancellable()
        let next: Int64?
        switch type {
        case .streamTime:
            next =
                streamTimeMs == .min
                ? nil : PunctuationSchedule.nextBoundary(after: streamTimeMs, intervalMs: intervalMs)
            nextStreamPunctuationMs = min(nextStreamPunctuationMs, next ?? .min)
        case .wallClockTime:
            let (sum, overflow) = clock.nowMs.addingReportingOverflow(intervalMs)
            next = overflow ? .max : sum
            nextWallClockPunctuationMs = min(nextWallClockPunctuationMs, next!)
        }
        schedules.append(
            PunctuationSchedule(
                node: node, intervalMs: intervalMs, type: type, nextMs: next, punctuator: punctuator, handle: handle)
        )
        return handle
    }

    /// Runs the wall-clock punctuators that are due by the task's clock.
    ///
    /// - Returns: Whether any punctuator ran.
    /// - Throws: ``StreamsError`` when a punctuator fails and the processing policy is `fail`.
    @discardableResult
    public func punctuateWallClock() throws(StreamsError) -> Bool {
        precondition(state == .running, "task \(id): punctuate in state \(state)")
        let now = clock.nowMs
        guard now >= nextWallClockPunctuationMs else { return false }
        return try punctuate(.wallClockTime, nowMs: now)
    }

    @discardableResult
    private func punctuate(_ type: PunctuationType, nowMs: Int64) throws(StreamsError) -> Bool {
        var fired = false
        var i = 0
        while i < schedules.count {
            if schedules[i].handle.isCancelled {
                schedules.remove(at: i)
                continue
            }
            guard schedules[i].type == type else {
                i += 1
                continue
            }
            let interval = schedules[i].intervalMs
            if let next = schedules[i].nextMs {
                if nowMs >= next {
                    switch type {
                    case .streamTime:
                        schedules[i].nextMs = PunctuationSchedule.nextBoundary(after: nowMs, intervalMs: interval)
                    case .wallClockTime:
                        let missed = (nowMs - next) / interval
                        let (step, overflow1) = (missed + 1).multipliedReportingOverflow(by: interval)
                        let (sum, overflow2) = next.addingReportingOverflow(step)
                        schedules[i].nextMs = overflow1 || overflow2 ? .max : sum
                    }
                    let punctuator = schedules[i].punctuator
                    let node = schedules[i].node
                    fired = true
                    failedNode = nil
                    do {
                        try punctuator(nowMs)
                    } catch {
                        if failedNode == nil { failedNode = node }
                        try handleFailure(error, record: nil, fromNode: node)
                    }
                }
            } else {
                // Scheduled before any record: the first stream time anchors it, without firing.
                schedules[i].nextMs = PunctuationSchedule.nextBoundary(after: nowMs, intervalMs: interval)
            }
            i += 1
        }
        var nextStream = Int64.max
        var nextWall = Int64.max
        for schedule in schedules where !schedule.handle.isCancelled {
            switch schedule.type {
            case .streamTime: nextStream = min(nextStream, schedule.nextMs ?? .min)
            case .wallClockTime: nextWall = min(nextWall, schedule.nextMs ?? .min)
            }
        }
        nextStreamPunctuationMs = nextStream
        nextWallClockPunctuationMs = nextWall
        return fired
    }

    // MARK: Commit

    /// Lets every processor finish its writes (``Processor/prepareCommit()``), then collects what
    /// the engine must make durable for this task: consumed offsets, stream time and the changelogs
    /// whose positions it must report. Allowed in RUNNING and SUSPENDED.
    ///
    /// Kafka Streams counterpart: `StreamTask.prepareCommit()`.
    ///
    /// - Throws: ``StreamsError`` when a processor's `prepareCommit` fails; do not commit then.
    public func prepareCommit() throws(StreamsError) -> TaskCommit {
        precondition(state == .running || state == .suspended, "task \(id): prepareCommit in state \(state)")
        for (i, processor) in processors.enumerated() {
            guard let processor else { continue }
            do {
                try processor.prepareCommit()
            } catch let error as StreamsError {
                var error = error
                if error.node == nil { error.node = nodes[i].name }
                throw error
            } catch let error as StateStoreError {
                if var engineError = error.engineError {
                    engineError.node = nodes[i].name
                    throw engineError
                }
                throw StreamsError(
                    .stateStore, "a store failed in '\(nodes[i].name)': \(error)", node: nodes[i].name,
                    underlying: error)
            } catch {
                throw StreamsError(
                    .processing, "processor '\(nodes[i].name)' failed to prepare the commit: \(error)",
                    node: nodes[i].name, underlying: error)
            }
        }
        var offsets: [TopicPartition: Int64] = [:]
        for (i, offset) in consumedOffsets.enumerated() {
            if let offset { offsets[inputs[i]] = offset }
        }
        return TaskCommit(taskId: id, consumedOffsets: offsets, streamTimeMs: streamTimeMs, changelogs: changelogIDs)
    }

    /// After the engine's commit: commits every store's transaction when due (at least
    /// ``StreamsConfiguration/storeCommitInterval`` since the stores' last commit, or
    /// `commitStores`), recording for changelogged stores the changelog position now durable,
    /// then calls every processor's ``Processor/postCommit()``.
    ///
    /// Between store commits the stores keep their writes in their open transactions: they are
    /// behind their changelogs, never ahead, and a crash costs a longer replay, not a record.
    ///
    /// Kafka Streams counterpart: `StreamTask.postCommit(enforceCheckpoint)` (which writes the
    /// checkpoint when due, or when enforced).
    ///
    /// - Parameters:
    ///   - changelogPositions: What ``CommitCoordinator/commit(_:)`` returned.
    ///   - commitStores: Commit the stores whatever the interval (before the task is closed).
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/stateStore`` (the store is then behind
    ///   its changelog; close the task dirty and restore), or ``StreamsError/Code/engine`` if a
    ///   changelog position is missing.
    public func postCommit(
        changelogPositions: [ChangelogID: ChangelogPosition], commitStores: Bool = false
    ) throws(StreamsError) {
        precondition(state == .running || state == .suspended, "task \(id): postCommit in state \(state)")
        let nowMs = clock.nowMs
        if commitStores || nowMs - lastStoreCommitMs >= configuration.storeCommitInterval.milliseconds {
            try commitAllStores(changelogPositions: changelogPositions)
            lastStoreCommitMs = nowMs
        }
        commitRequested = false
        for processor in processors {
            processor?.postCommit()
        }
    }

    /// When the stores last committed (wall clock), for ``StreamsConfiguration/storeCommitInterval``.
    private var lastStoreCommitMs: Int64 = 0

    private func commitAllStores(changelogPositions: [ChangelogID: ChangelogPosition]) throws(StreamsError) {
        for name in storeNames {
            guard let store = stores[name] else { continue }
            var metadata: [String: [UInt8]] = [:]
            if let changelog = changelogs[name] {
                guard let position = changelogPositions[changelog] else {
                    throw StreamsError(.engine, "the engine's commit returned no position for \(changelog)")
                }
                metadata[ChangelogPosition.metadataKey] = position.metadata
            }
            do {
                try store.commit(metadata: metadata)
            } catch {
                throw StreamsError(.stateStore, "cannot commit store '\(name)': \(error)", underlying: error)
            }
        }
    }

    // MARK: Closing

    /// RUNNING or RESTORING (or CREATED) → SUSPENDED: closes every processor and cancels
    /// punctuators; buffered records are dropped (they were not consumed). Stores stay open.
    public func suspend() {
        transition(to: .suspended)
        closeTopology()
    }

    /// SUSPENDED → RESTORING, to run again after ``suspend()``.
    public func resume() {
        transition(to: .restoring)
    }

    /// SUSPENDED or CREATED → CLOSED: closes the stores (uncommitted writes are rolled back, so
    /// commit first for a clean close).
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/stateStore`` if a store fails to
    ///   close; every store is still closed.
    public func close() throws(StreamsError) {
        transition(to: .closed)
        var firstError: StreamsError?
        for name in storeNames {
            do { try stores[name]?.close() } catch {
                firstError =
                    firstError ?? StreamsError(.stateStore, "cannot close store '\(name)': \(error)", underlying: error)
            }
        }
        stores.removeAll()
        if let firstError { throw firstError }
    }

    /// Closes the task from any state after a failure: closes the processors (each exactly once),
    /// rolls back every store's pending writes and closes the stores. Errors are logged, not thrown.
    ///
    /// Kafka Streams counterpart: `closeDirty()`.
    public func closeDirty() {
        guard state != .closed else { return }
        closeTopology()
        for name in storeNames {
            guard let store = stores[name] else { continue }
            do { try store.abort() } catch { logger.error("cannot roll back store '\(name)': \(error)") }
        }
        closeStores()
        state = .closed
    }

    deinit {
        // A processor may keep its context past the task: its forwards must then find it closed
        // (they reach the task through an unowned(unsafe) reference).
        for context in contexts { context?.phase = .closed }
        routes?.deallocate()
    }

    private func closeTopology() {
        // Before any close(): a processor forwarding from close() would reach a closed child.
        for context in contexts { context?.phase = .closed }
        routes?.deallocate()
        routes = nil
        for i in processors.indices {
            if let processor = processors[i] {
                processors[i] = nil
                processor.close()
            }
        }
        contexts = Array(repeating: nil, count: nodes.count)
        for schedule in schedules { schedule.handle.cancel() }
        schedules.removeAll()
        nextStreamPunctuationMs = .max
        nextWallClockPunctuationMs = .max
        for i in queues.indices { queues[i].removeAll() }
    }

    private func closeStores() {
        for name in storeNames {
            do { try stores[name]?.close() } catch { logger.error("cannot close store '\(name)': \(error)") }
        }
        stores.removeAll()
    }
}

extension StateStoreError {
    /// The engine's error underneath a changelog write that failed, if that is what failed and it
    /// is the task's (its producer fenced, or failed so that the task must start again: the task
    /// manager then closes or restarts that task only, rather than the store failing every task)
    /// or the engine's own (``StreamsError/Code/engine``, such as a task that cannot commit
    /// stopping the engine: its message reaches the application as the engine wrote it).
    var engineError: StreamsError? {
        guard let error = underlying as? StreamsError, error.isTaskScoped || error.code == .engine else { return nil }
        return error
    }
}

/// The topology as the record path reads it: plain integers, and the processors in boxes reached
/// through `Unmanaged`, so that delivering a record retains and releases nothing (a strong or
/// `unowned(unsafe)` reference is retained for every call made through it). The task deallocates
/// it when it closes its topology.
private struct RecordRoutes {
    /// A processor, boxed in a class so that `Unmanaged` can hold it.
    final class ProcessorBox {
        let processor: any Processor
        init(_ processor: any Processor) { self.processor = processor }
    }

    /// Node `i`'s children are `children[childStart[i] ..< childStart[i + 1]]`.
    let childStart: UnsafeMutableBufferPointer<Int>
    let children: UnsafeMutableBufferPointer<Int>
    /// Node `i`'s processor, or `nil` for a sink or a source.
    let processors: UnsafeMutableBufferPointer<Unmanaged<ProcessorBox>?>
    /// Node `i`'s sink handle (its index), or -1 for a processor or a source.
    let sinkHandles: UnsafeMutableBufferPointer<Int>

    init(nodes: [StreamTask.Node], processors: [(any Processor)?]) {
        childStart = .allocate(capacity: nodes.count + 1)
        children = .allocate(capacity: max(1, nodes.reduce(0) { $0 + $1.children.count }))
        self.processors = .allocate(capacity: nodes.count)
        sinkHandles = .allocate(capacity: nodes.count)
        var next = 0
        for (i, node) in nodes.enumerated() {
            childStart[i] = next
            for child in node.children {
                children[next] = child
                next += 1
            }
            self.processors.initializeElement(
                at: i, to: processors[i].map { Unmanaged.passRetained(ProcessorBox($0)) })
            if case .sink(_, let handle) = node.kind {
                sinkHandles[i] = handle.index
            } else {
                sinkHandles[i] = -1
            }
        }
        childStart[nodes.count] = next
    }

    func deallocate() {
        for processor in processors { processor?.release() }
        childStart.deallocate()
        children.deallocate()
        processors.deallocate()
        sinkHandles.deallocate()
    }
}
