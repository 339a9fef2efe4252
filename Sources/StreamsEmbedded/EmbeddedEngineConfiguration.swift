public import StreamsCore

/// What the embedded engine runs a topology on: the JSON Lines files each source topic reads (one
/// partition per file), the file each sink topic writes, the state directory and the guarantee.
/// Nothing here is specific to one application: `dedup run` builds one from its flags, a library
/// user from their own settings.
///
/// ```swift
/// let files = EmbeddedConfiguration(
///     inputs: [.init(topic: "orders", files: ["a.jsonl", "b.jsonl"])],
///     outputs: [.init(topic: "unique-orders", file: "unique.jsonl")],
///     stateDirectory: "state"
/// )
/// ```
public struct EmbeddedConfiguration: Sendable {
    /// The files of one source topic: file `i` is partition `i` of `topic`.
    public struct Input: Sendable, Hashable {
        /// The topic, as a source of the topology names it.
        public var topic: String
        /// The files, in partition order; `-` is standard input.
        public var files: [String]

        /// Creates an input.
        public init(topic: String, files: [String]) {
            self.topic = topic
            self.files = files
        }
    }

    /// The file one sink topic writes.
    public struct Output: Sendable, Hashable {
        /// The topic, as a sink of the topology names it.
        public var topic: String
        /// The file; `-` is standard output.
        public var file: String

        /// Creates an output.
        public init(topic: String, file: String) {
            self.topic = topic
            self.file = file
        }
    }

    /// The guarantee across a crash.
    public enum Guarantee: Sendable, Hashable {
        /// Outputs are cut back to the last commit on restart: every record's output appears
        /// exactly once.
        case exactlyOnce
        /// Outputs keep what was written after the last commit: a record processed after it may
        /// appear twice, none is lost.
        case atLeastOnce
    }

    /// The source topics and their files, in tie-break order (topics in order, then files).
    public var inputs: [Input]
    /// The sink topics and their files; every sink topic of the topology needs one.
    public var outputs: [Output]
    /// The state directory (changelog, checkpoint, and the stores' files under
    /// `<stateDirectory>/<applicationId>/<task>/<store>`), or `nil` for no durability: nothing
    /// is kept across runs and outputs are rewritten from the start.
    public var stateDirectory: String?
    /// The guarantee; default exactly-once.
    public var guarantee: Guarantee
    /// Keep reading as the input files grow, until stopped.
    public var follow: Bool
    /// The changelog is rewritten from the store's live entries once it is larger than this (and
    /// three times its size after the last rewrite); default 64 MiB.
    public var compactionThresholdBytes: Int64

    /// Creates a configuration.
    public init(
        inputs: [Input],
        outputs: [Output],
        stateDirectory: String?,
        guarantee: Guarantee = .exactlyOnce,
        follow: Bool = false,
        compactionThresholdBytes: Int64 = 64 << 20
    ) {
        self.inputs = inputs
        self.outputs = outputs
        self.stateDirectory = stateDirectory
        self.guarantee = guarantee
        self.follow = follow
        self.compactionThresholdBytes = compactionThresholdBytes
    }

    /// Every input file with its partition, in tie-break order.
    var partitions: [(path: String, partition: TopicPartition)] {
        inputs.flatMap { input in
            input.files.enumerated().map { ($1, TopicPartition(topic: input.topic, partition: Int32($0))) }
        }
    }
}

/// Why the embedded engine stopped, sorted into classes the application maps to exit statuses:
/// a usage problem (the state or the files do not fit the inputs) or an I/O failure. Invalid
/// records are the runtime's (its deserialization policy), not the engine's.
package struct EngineFailure: Error, Sendable {
    /// The class of failure.
    package enum Kind: Sendable, Hashable {
        case usage
        case io
    }

    /// The class.
    package var kind: Kind
    /// One line naming the file (and line) and what to do.
    package var message: String

    /// Creates a failure.
    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// Sorts a file error: a recorded position that does not fit the file is a usage problem,
    /// everything else I/O.
    package init(_ error: EmbeddedError) {
        self.init(error.code == .positionMismatch ? .usage : .io, error.message)
    }

    /// The runtime's error: ``StreamsError/Code/invalidConfiguration`` for a usage problem,
    /// ``StreamsError/Code/engine`` for I/O.
    package var streamsError: StreamsError {
        switch kind {
        case .usage: StreamsError(.invalidConfiguration, message, underlying: self)
        case .io: StreamsError(.engine, message, underlying: self)
        }
    }
}
