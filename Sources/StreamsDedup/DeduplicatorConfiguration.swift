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
    /// The name of the child that receives duplicates (typically a sink); every other child
    /// receives the first occurrences. `nil` (the default): duplicates are only counted.
    ///
    /// Checked against the topology: a name that is not a child of the deduplicator, or `nil` with
    /// two or more children, is an error (``StreamsError/Code/invalidTopology``), so a sink meant
    /// for duplicates cannot silently receive first occurrences.
    public var duplicatesChild: String?
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
    ///   - duplicatesChild: The child for duplicates; default `nil` (duplicates only counted).
    ///   - statistics: A collector for counts across tasks, or `nil`.
    ///   - metricsPrefix: The prefix of metric labels; default `"dedup"`.
    public init(
        key: KeyExtractor,
        time: DeduplicationTime = .eventTime,
        window: Duration,
        grace: Duration = .zero,
        storeName: String = "dedup-store",
        duplicatesChild: String? = nil,
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

    /// Checks the window, the grace and the key's JSON paths.
    ///
    /// ``Topology/addDeduplicator(_:parents:configuration:store:)`` runs this check, and the
    /// duplicates child's, when the topology is validated, before any store is opened.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/invalidConfiguration`` listing
    ///   every bad setting.
    public func validate() throws(StreamsError) {
        let problems = settingProblems()
        guard problems.isEmpty else {
            throw StreamsError(
                .invalidConfiguration,
                "the deduplicator of store '\(storeName)': " + problems.joined(separator: "; ")
            )
        }
    }

    /// What is wrong with the settings alone, each naming the bad value and the setting.
    func settingProblems() -> [String] {
        var problems: [String] = []
        if windowMs < 1 {
            problems.append(
                "the deduplication window must be at least 1 ms, got \(windowMs) ms (\(window)); "
                    + "set DeduplicatorConfiguration.window")
        }
        if graceMs < 0 {
            problems.append(
                "the grace period cannot be negative, got \(graceMs) ms (\(grace)); set DeduplicatorConfiguration.grace"
            )
        } else if windowMs >= 1, windowMs.addingReportingOverflow(graceMs).overflow {
            problems.append("window + grace is too large (\(windowMs) ms + \(graceMs) ms); shorten one of them")
        }
        do throws(StreamsError) { _ = try key.compile() } catch { problems.append(error.message) }
        return problems
    }

    /// What is wrong with the settings and with the deduplicator's place in the topology (node
    /// `node`, whose children are `children`): the problems of ``validate()`` plus the duplicates
    /// child rules.
    func problems(node: String, children: [String]) -> [StreamsError] {
        var problems = settingProblems().map {
            StreamsError(.invalidConfiguration, "deduplicator '\(node)': \($0)", node: node)
        }
        if let duplicatesChild {
            if !children.contains(duplicatesChild) {
                problems.append(
                    StreamsError(
                        .invalidTopology,
                        "deduplicator '\(node)' sends duplicates to '\(duplicatesChild)', which is not one of its "
                            + "children \(children); add it with parents: '\(node)', or set duplicatesChild to a child",
                        node: node
                    )
                )
            }
        } else if children.count >= 2 {
            problems.append(
                StreamsError(
                    .invalidTopology,
                    "deduplicator '\(node)' has \(children.count) children \(children) and no duplicatesChild; "
                        + "set DeduplicatorConfiguration.duplicatesChild to the one that receives duplicates "
                        + "(the others receive first occurrences)",
                    node: node
                )
            )
        }
        return problems
    }
}

extension Topology {
    /// Adds a ``Deduplicator`` node and its window store.
    ///
    /// First occurrences go to every child except the one named
    /// ``DeduplicatorConfiguration/duplicatesChild``, which receives the duplicates. Validating the
    /// topology (which every task does before it opens a store) checks the configuration
    /// (``StreamsError/Code/invalidConfiguration``) and that the duplicates child is a child of this
    /// node, or, without one, that the node has at most one child
    /// (``StreamsError/Code/invalidTopology``).
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
            try configuration.validate()
            return try store.open(storeConfiguration, context.directory)
        }
        addProcessor(name, parents: parents) { context in
            try Deduplicator(configuration: configuration, context: context)
        }
        addValidation(ofNode: name) { node in
            configuration.problems(node: node.name, children: node.successors)
        }
    }
}
