internal import StreamsEmbedded

/// Everything `dedup run` needs: inputs, outputs, the business key, the window and the state.
///
/// The embedded engine deduplicates JSON Lines files with exactly the ``Deduplicator``'s
/// semantics (StreamsDedup); see README.md for the command-line contract built on this.
public struct DedupJobConfiguration: Sendable, Hashable {
    /// What happens to a record that is not a JSON object, lacks the key, has a bad time, a key
    /// longer than the store accepts, or an event time further ahead than ``maxFuture``.
    public enum InvalidRecordPolicy: String, Sendable, Hashable, CaseIterable {
        /// Stop with an error naming the file and line; everything before it is committed.
        case fail
        /// Skip it (into ``DedupJobConfiguration/invalidOutput`` when given) and go on.
        case skip
    }

    /// How much a crash may repeat.
    public enum Guarantee: String, Sendable, Hashable, CaseIterable {
        /// Outputs are fsynced and truncated back to the last commit on restart: after any number
        /// of kills, the outputs are byte-identical to one uninterrupted run.
        case exactlyOnce = "exactly-once"
        /// No fsync per commit and no truncation on restart: records emitted since the last commit
        /// may be written again, none is lost when the process is killed; faster.
        case atLeastOnce = "at-least-once"
    }

    /// Where the deduplication state lives.
    public enum StoreKind: String, Sendable, Hashable, CaseIterable {
        /// The LMDB window store in `STATE/store/`, rebuilt from `STATE/changelog/` when lost.
        case lmdb
        /// In memory, no changelog, no checkpoint: nothing survives the process. The speed
        /// ceiling for benchmarks.
        case memory
    }

    /// Input files, one per producer, in tie-break order; `-` is standard input.
    public var inputs: [String]
    /// The file kept records are appended to; `-` is standard output.
    public var output: String
    /// The file dropped duplicates are appended to, if any.
    public var duplicatesOutput: String?
    /// The file skipped invalid lines are appended to, if any (with ``InvalidRecordPolicy/skip``).
    public var invalidOutput: String?
    /// Dotted paths of the business key's fields; several make a composite key.
    public var keyFields: [String]
    /// Dotted path of the event time (epoch ms or RFC 3339), or `nil` for processing time.
    public var timeField: String?
    /// The deduplication window `W`.
    public var window: Duration
    /// The grace period `G`.
    public var grace: Duration
    /// The state directory.
    public var stateDirectory: String
    /// The invalid-record policy; default ``InvalidRecordPolicy/fail``.
    public var onInvalid: InvalidRecordPolicy
    /// How far ahead of the wall clock (read when the line is read) an event time may be; a record
    /// further ahead is invalid (``onInvalid``). `nil` (the default): no limit, so that the output
    /// stays a function of the inputs alone; a record more than the window ahead is then only
    /// warned about, once. No effect with processing time. Not part of the state's identity: it
    /// may change between runs over one state directory.
    public var maxFuture: Duration?
    /// The processing guarantee; default ``Guarantee/exactlyOnce``.
    public var guarantee: Guarantee
    /// How often to commit; `nil` for the default: 100 ms exactly-once, as in Kafka Streams (the
    /// committed output, which is what survives a crash, stays at most that far behind), and 5 s
    /// at-least-once, where a commit only bounds what a crash makes repeat (longer would mostly
    /// grow the store's replay log, which holds every write since the last commit).
    public var commitInterval: Duration?
    /// Keep reading as inputs grow until asked to stop.
    public var follow: Bool
    /// Where the state lives; default ``StoreKind/lmdb``.
    public var store: StoreKind
    /// The changelog is rewritten from the store's live entries once it is larger than this and
    /// three times its size after the last compaction; default 64 MiB.
    public var compactionThresholdBytes: Int64 = 64 << 20

    /// Creates a configuration; optional parameters have the defaults documented on their properties.
    public init(
        inputs: [String],
        output: String,
        duplicatesOutput: String? = nil,
        invalidOutput: String? = nil,
        keyFields: [String],
        timeField: String? = nil,
        window: Duration,
        grace: Duration = .zero,
        stateDirectory: String,
        onInvalid: InvalidRecordPolicy = .fail,
        maxFuture: Duration? = nil,
        guarantee: Guarantee = .exactlyOnce,
        commitInterval: Duration? = nil,
        follow: Bool = false,
        store: StoreKind = .lmdb
    ) {
        self.inputs = inputs
        self.output = output
        self.duplicatesOutput = duplicatesOutput
        self.invalidOutput = invalidOutput
        self.keyFields = keyFields
        self.timeField = timeField
        self.window = window
        self.grace = grace
        self.stateDirectory = stateDirectory
        self.onInvalid = onInvalid
        self.maxFuture = maxFuture
        self.guarantee = guarantee
        self.commitInterval = commitInterval
        self.follow = follow
        self.store = store
    }

    /// The commit interval in force.
    public var effectiveCommitInterval: Duration {
        commitInterval ?? Self.defaultCommitInterval(guarantee)
    }

    /// The default commit interval of a guarantee (for `dedup run` and `dedup kafka`).
    static func defaultCommitInterval(_ guarantee: Guarantee) -> Duration {
        guarantee == .exactlyOnce ? .milliseconds(100) : .seconds(5)
    }
}

extension DedupJobConfiguration {
    /// The topics of the job's topology.
    static let inputTopic = "input"
    static let outputTopic = "output"
    static let duplicatesTopic = "duplicates"
    static let invalidTopic = "invalid"

    /// What the embedded engine needs of this job: the inputs as the partitions of the `input`
    /// topic, a file for each sink topic, the state directory and the guarantee.
    var engineConfiguration: EmbeddedConfiguration {
        var outputs = [EmbeddedConfiguration.Output(topic: Self.outputTopic, file: output)]
        if let duplicatesOutput { outputs.append(.init(topic: Self.duplicatesTopic, file: duplicatesOutput)) }
        if let invalidOutput { outputs.append(.init(topic: Self.invalidTopic, file: invalidOutput)) }
        var configuration = EmbeddedConfiguration(
            inputs: [.init(topic: Self.inputTopic, files: inputs)],
            outputs: outputs,
            stateDirectory: store == .lmdb ? stateDirectory : nil,
            guarantee: guarantee == .exactlyOnce ? .exactlyOnce : .atLeastOnce,
            follow: follow
        )
        configuration.compactionThresholdBytes = compactionThresholdBytes
        return configuration
    }
}
