public import StreamsCore
public import StreamsState

/// Which time a record is deduplicated at.
public enum DeduplicationTime: Sendable, Hashable {
    /// The record's timestamp (event time): results depend only on the input.
    case eventTime
    /// The task's wall clock when the record is processed (processing time).
    case processingTime
}

/// The settings of a ``Deduplicator``.
///
/// A record with key `k` at time `t` is a duplicate iff an earlier *emitted* record with the same
/// key and time `t0` has `|t − t0| < window` and `t0 + window > S − grace`, where `S` is the
/// deduplicator's stream time before the record (the largest `t` seen so far, −∞ at first).
public struct DeduplicatorConfiguration: Sendable {
    /// How the business key is found.
    public var key: KeyExtractor
    /// Event time or processing time; default ``DeduplicationTime/eventTime``.
    public var time: DeduplicationTime
    /// The retention window `W`: records with the same key less than `W` apart are duplicates.
    /// At least 1 ms.
    public var window: Duration
    /// How far behind stream time (`G`) an entry still matches; default zero.
    public var grace: Duration
    /// The name of the window store holding first occurrences.
    public var storeName: String
    /// The name of the child that receives duplicates (typically a sink); if the node has no such
    /// child, duplicates are only counted. Default `"duplicates"`.
    public var duplicatesChild: String
    /// Where the deduplicators of all tasks publish their counts, if anywhere.
    public var statistics: DeduplicationStatisticsCollector?
    /// The prefix of metric labels (`<prefix>_records_seen`, …); default `"dedup"`.
    public var metricsPrefix: String

    /// Creates a configuration.
    ///
    /// - Parameters:
    ///   - key: How the business key is found.
    ///   - time: Event time (default) or processing time.
    ///   - window: The retention window `W`, at least 1 ms.
    ///   - grace: The grace period `G`; default zero.
    ///   - storeName: The window store's name; default `"dedup-store"`.
    ///   - duplicatesChild: The child for duplicates; default `"duplicates"`.
    ///   - statistics: A collector for counts across tasks, or `nil`.
    ///   - metricsPrefix: The prefix of metric labels; default `"dedup"`.
    public init(
        key: KeyExtractor,
        time: DeduplicationTime = .eventTime,
        window: Duration,
        grace: Duration = .zero,
        storeName: String = "dedup-store",
        duplicatesChild: String = "duplicates",
        statistics: DeduplicationStatisticsCollector? = nil,
        metricsPrefix: String = "dedup"
    ) {
        self.key = key
        self.time = time
        self.window = window
        self.grace = grace
        self.storeName = storeName
        self.duplicatesChild = duplicatesChild
        self.statistics = statistics
        self.metricsPrefix = metricsPrefix
    }

    /// `W` in milliseconds.
    public var windowMs: Int64 { window.milliseconds }
    /// `G` in milliseconds.
    public var graceMs: Int64 { grace.milliseconds }

    /// The store the deduplicator needs: named ``storeName``, retention `W + G`.
    public var windowStoreConfiguration: WindowStoreConfiguration {
        WindowStoreConfiguration(name: storeName, retention: window + grace)
    }

    /// Checks the window and grace.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/invalidConfiguration``.
    public func validate() throws(StreamsError) {
        guard windowMs >= 1 else {
            throw StreamsError(.invalidConfiguration, "the deduplication window must be at least 1 ms, got \(window)")
        }
        guard graceMs >= 0 else {
            throw StreamsError(.invalidConfiguration, "the grace period cannot be negative, got \(grace)")
        }
        guard windowMs.addingReportingOverflow(graceMs).overflow == false else {
            throw StreamsError(.invalidConfiguration, "window + grace is too large")
        }
    }
}

extension Topology {
    /// Adds a ``Deduplicator`` node and its window store.
    ///
    /// First occurrences go to every child except the one named
    /// ``DeduplicatorConfiguration/duplicatesChild``, which receives the duplicates.
    ///
    /// - Parameters:
    ///   - name: The processor's name.
    ///   - parents: Its parents.
    ///   - configuration: The deduplication settings.
    ///   - store: How each task opens the store (``WindowStoreFactory/lmdb(options:)`` or
    ///     ``WindowStoreFactory/inMemory``).
    public mutating func addDeduplicator(
        _ name: String,
        parents: String...,
        configuration: DeduplicatorConfiguration,
        store: WindowStoreFactory
    ) {
        let storeConfiguration = configuration.windowStoreConfiguration
        addStateStore(configuration.storeName, connectedTo: [name]) { context in
            try store.open(storeConfiguration, context.directory)
        }
        addProcessor(name, parents: parents) { context in
            try Deduplicator(configuration: configuration, context: context)
        }
    }
}
