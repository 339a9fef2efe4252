/// The error of the runtime layer: a stable code, a message a user can act on, and, for failures
/// caused by one record, where that record came from and which processor failed.
///
/// Match on the code: `catch let error as StreamsError where error.code == .invalidTopology`.
public struct StreamsError: Error, CustomStringConvertible {
    /// The stable kind of a ``StreamsError``; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name.
        public let name: String

        /// Creates a code; use the predefined codes unless you define a new kind of failure.
        public init(_ name: String) { self.name = name }

        /// The topology is not valid (unknown parent, cycle, duplicate name, …); fix the builder calls.
        public static let invalidTopology = Code("invalidTopology")
        /// A configuration value is out of range or inconsistent with the topology.
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// A record's bytes could not be decoded; handled by the deserialization error policy.
        public static let deserialization = Code("deserialization")
        /// A record is well-formed but lacks what a processor needs (for example a key field);
        /// handled by the deserialization error policy, like undecodable records.
        public static let invalidRecord = Code("invalidRecord")
        /// A processor or punctuator failed; handled by the processing error policy.
        public static let processing = Code("processing")
        /// A value could not be encoded.
        public static let serialization = Code("serialization")
        /// A state store failed (see ``StreamsError/underlying``); always fatal for the task.
        public static let stateStore = Code("stateStore")
        /// A processor asked for a store that is unknown or not connected to it; a programming
        /// error, so no error policy skips it.
        public static let unknownStore = Code("unknownStore")
        /// A processor forwarded to a child it does not have; a programming error, so no error
        /// policy skips it.
        public static let unknownChild = Code("unknownChild")
        /// A processor used its context where its lifecycle does not allow it (for example
        /// `forward` from its factory or from `close()`); a programming error, so no error policy
        /// skips it.
        public static let illegalState = Code("illegalState")
        /// The engine failed to read, write or commit; always fatal for the task.
        public static let engine = Code("engine")
        /// The task's input partitions moved to another instance (a rebalance the engine saw
        /// late, a lost assignment): only ``StreamsError/taskId``'s task closes dirty; the others
        /// go on. Kafka Streams: `TaskMigratedException`.
        public static let taskMigrated = Code("taskMigrated")
        /// Another instance took over the task's transactional identity (a zombie): only that
        /// task closes dirty, and none of its uncommitted output becomes visible. Kafka:
        /// `ProducerFencedException`.
        public static let fenced = Code("fenced")
        /// The task's state cannot be trusted (its changelog position is out of range): the task
        /// closes dirty and is created again, restoring its stores from the changelog. Kafka
        /// Streams: `TaskCorruptedException`.
        public static let taskCorrupted = Code("taskCorrupted")

        /// The code's name.
        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What went wrong and what to do about it.
    public var message: String
    /// The input and position of the record being processed, if the failure is about one record.
    public var origin: RecordOrigin?
    /// The name of the topology node (source, processor or sink) that failed, if known.
    public var node: String?
    /// The error underneath, for example a ``StateStoreError`` or a `DecodingError`.
    public var underlying: (any Error)?
    /// The task the error concerns, for the per-task codes (``Code/taskMigrated``,
    /// ``Code/fenced``, ``Code/taskCorrupted``): the task manager closes only that task.
    public var taskId: TaskId?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: What went wrong and what to do about it.
    ///   - origin: The failing record's input and position, if any.
    ///   - node: The failing node's name, if known.
    ///   - underlying: The error underneath, if any.
    ///   - taskId: The task concerned, for the per-task codes.
    public init(
        _ code: Code,
        _ message: String,
        origin: RecordOrigin? = nil,
        node: String? = nil,
        underlying: (any Error)? = nil,
        taskId: TaskId? = nil
    ) {
        self.code = code
        self.message = message
        self.origin = origin
        self.node = node
        self.underlying = underlying
        self.taskId = taskId
    }

    /// `"<code>: <message> [node <name>] [at <topic>-<partition>@<offset>]"`.
    public var description: String {
        var text = "\(code): \(message)"
        if let node { text += " [node \(node)]" }
        if let origin { text += " [at \(origin)]" }
        if let underlying, !(underlying is StreamsError) { text += " (\(underlying))" }
        return text
    }

    /// Whether the error goes through the deserialization error policy (rather than the processing one).
    var isDeserializationFailure: Bool { code == .deserialization || code == .invalidRecord }

    /// Whether no policy may skip the error: the engine or a store failed, or the task lost its
    /// partitions or identity, so the task's state is unknown; or a processor is wrong, so
    /// skipping would drop every record.
    var isFatal: Bool {
        code == .engine || code == .stateStore || code == .unknownChild || code == .unknownStore
            || code == .illegalState || code == .taskMigrated || code == .fenced || code == .taskCorrupted
    }

    /// Whether the error concerns one task only, which the task manager closes while the others
    /// go on.
    var isTaskScoped: Bool {
        taskId != nil && (code == .taskMigrated || code == .fenced || code == .taskCorrupted)
    }
}
