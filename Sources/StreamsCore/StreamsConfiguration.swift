public import Logging

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// How tasks run: identity, commit cadence, batch sizes and error policies.
///
/// Kafka Streams counterpart: `StreamsConfig` (`application.id`, `commit.interval.ms`,
/// `default.deserialization.exception.handler`, `processing.exception.handler`).
public struct StreamsConfiguration: Sendable {
    /// The state directory when none is given: `swift-streams` in the temporary directory
    /// (`$TMPDIR`, else `/tmp`), as Kafka Streams' `state.dir` defaults to `kafka-streams` there.
    /// Applications that keep state across restarts should give their own.
    public static var defaultStateDirectory: String {
        let temporary = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return (temporary.hasSuffix("/") ? String(temporary.dropLast()) : temporary) + "/swift-streams"
    }

    /// The application's name; engines derive changelog topics and group ids from it.
    public var applicationId: String
    /// How often a task commits, in wall-clock time; default 100 ms, Kafka Streams' default under
    /// exactly-once.
    public var commitInterval: Duration
    /// How often, at most, a task commits its stores' own transactions: every commit makes
    /// output, changelog and input positions durable, and the stores commit (recording the
    /// changelog position they reflect) at the first commit at least this long after their last
    /// one, and always when the task is closed or its partitions are revoked. Default zero: they
    /// commit at every commit.
    ///
    /// The Kafka engine's restores read each changelog partition from its low watermark (a
    /// `read_committed` fetch that starts past an aborted transaction loses later records on the
    /// test broker noida-db), so there a lagging store costs a restore of the whole partition
    /// after a crash.
    ///
    /// A store never gets ahead of its changelog, only behind: after a crash it is caught up by
    /// replaying the changelog from the position it recorded, so a longer interval means more
    /// replay after a crash and fewer, larger store transactions while running (an LMDB store
    /// then rewrites each page it changes once per interval rather than once per commit, which
    /// is what keeps large stores fast).
    ///
    /// Kafka Streams counterpart: under exactly-once a task writes its checkpoint (and flushes its
    /// stores) only once the changelogs moved 10,000 records past the last one
    /// (`StateManagerUtil.checkpointNeeded`), and always when it closes.
    public var storeCommitInterval: Duration = .zero
    /// The most records a task processes in one ``StreamTask/process(maxRecords:)`` call of the
    /// engine loop; default 1 000.
    public var maxRecordsPerIteration: Int
    /// How long a task waits for a caught-up input partition (no records now, more may come)
    /// before processing the other partitions' records without it; default zero, as Kafka
    /// Streams' `max.task.idle.ms`: a caught-up partition does not hold a task back. Ended
    /// partitions never do, active ones always do (see ``InputPartitionStatus``).
    public var maxTaskIdle: Duration = .zero
    /// The most changelog entries applied to a store per restore batch (and store commit);
    /// default 10 000.
    public var restoreBatchSize: Int
    /// What to do with records that cannot be decoded or lack a needed field; default
    /// ``DeserializationErrorPolicy/fail``.
    public var deserializationErrorPolicy: DeserializationErrorPolicy
    /// What to do when a processor fails otherwise; default ``ProcessingErrorPolicy/fail``.
    public var processingErrorPolicy: ProcessingErrorPolicy
    /// The level at which a task logs each record it skips or dead-letters under the error
    /// policies; default `.warning`. An engine that has already reported why a record is invalid
    /// (the embedded engine names the file, the line and the reason when it reads the line, and
    /// limits how many it reports) lowers it to `.debug`, so that its precise warning is not
    /// followed by a second, generic one per record.
    public var recordErrorLogLevel: Logger.Level
    /// The directory under which stores keep their files (`<stateDirectory>/<applicationId>/<taskId>`),
    /// handed to store factories in ``StoreContext``; default ``defaultStateDirectory``.
    public var stateDirectory: String

    /// Creates a configuration with the documented defaults.
    ///
    /// - Parameters:
    ///   - applicationId: The application's name.
    ///   - commitInterval: How often to commit; default 100 ms.
    ///   - maxRecordsPerIteration: Records per processing round; default 1 000.
    ///   - restoreBatchSize: Changelog entries per restore batch; default 10 000.
    ///   - deserializationErrorPolicy: Default ``DeserializationErrorPolicy/fail``.
    ///   - processingErrorPolicy: Default ``ProcessingErrorPolicy/fail``.
    ///   - stateDirectory: Where stores keep files; default ``defaultStateDirectory``.
    ///   - recordErrorLogLevel: The level of the per-record skip and dead-letter messages; default `.warning`.
    public init(
        applicationId: String,
        commitInterval: Duration = .milliseconds(100),
        maxRecordsPerIteration: Int = 1_000,
        restoreBatchSize: Int = 10_000,
        deserializationErrorPolicy: DeserializationErrorPolicy = .fail,
        processingErrorPolicy: ProcessingErrorPolicy = .fail,
        stateDirectory: String = StreamsConfiguration.defaultStateDirectory,
        recordErrorLogLevel: Logger.Level = .warning
    ) {
        self.applicationId = applicationId
        self.commitInterval = commitInterval
        self.maxRecordsPerIteration = maxRecordsPerIteration
        self.restoreBatchSize = restoreBatchSize
        self.deserializationErrorPolicy = deserializationErrorPolicy
        self.processingErrorPolicy = processingErrorPolicy
        self.stateDirectory = stateDirectory
        self.recordErrorLogLevel = recordErrorLogLevel
    }
}

/// Logging helpers for callers that do not bootstrap swift-log themselves.
public enum StreamsLogging {
    /// A logger that discards everything (the test kit's default).
    public static func disabled(label: String) -> Logger {
        Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() })
    }
}
