internal import StreamsCore
internal import StreamsDedup
internal import StreamsState

/// The topology every dedup job runs, on any engine: a source with the JSON key and time
/// extractors → the ``Deduplicator`` → the output sink, with duplicates and invalid records to
/// sinks of their own when those are wanted. `dedup run` (``DedupJob``, files) and `dedup kafka`
/// (``KafkaDedupJob``, Kafka topics) differ only in the topic names and the store factory.
struct DedupTopology {
    /// The source's topics (one per input file's topic for files, the Kafka input topics).
    var inputTopics: [String]
    var keyFields: [String]
    var timeField: String?
    var maxFuture: Duration?
    var window: Duration
    var grace: Duration
    var outputTopic: String
    /// The duplicates' topic, if duplicates are kept.
    var duplicatesTopic: String?
    /// The dead-letter topic of invalid records, if they are kept.
    var invalidTopic: String?

    /// The deduplicator's store; its changelog topic on Kafka is `<applicationId>-dedup-store-changelog`.
    static let storeName = "dedup-store"
    static let sourceName = "input"
    /// The dead-letter sink's name (``StreamsCore/DeserializationErrorPolicy/deadLetter(sink:)``).
    static let invalidSinkName = "invalid"

    /// input → dedup → output (+ duplicates, + invalid), the same public pieces a library user takes.
    ///
    /// - Parameters:
    ///   - maxKeyBytes: The longest encoded key; a record with a longer one is invalid.
    ///   - maxRecordBytes: The longest record (key, value, headers); a longer one is invalid (and
    ///     cut to fit when dead-lettered). `nil`: no limit.
    ///   - limitNote: Ends the messages of records over a limit (why it is what it is).
    ///   - store: The window store factory of the deduplicator.
    ///   - statistics: Collects the deduplicator's counts.
    func make(
        maxKeyBytes: Int, maxRecordBytes: Int? = nil, limitNote: String = "", store: WindowStoreFactory,
        statistics: DeduplicationStatisticsCollector
    ) -> Topology {
        var topology = Topology()
        let timestamp: RecordTimestampExtractor =
            timeField.map { .jsonField($0, maxFuture: maxFuture, warnAhead: window) } ?? .record
        let key = RecordKeyExtractor.jsonFields(keyFields)
        topology.addSource(
            Self.sourceName, topics: inputTopics,
            key: maxRecordBytes.map { key.limited(toBytes: maxKeyBytes, recordBytes: $0, note: limitNote) }
                ?? key.limited(toBytes: maxKeyBytes),
            timestamp: timestamp)
        let dedup = DeduplicatorConfiguration(
            key: .recordKey,
            time: .eventTime,
            window: window,
            grace: grace,
            storeName: Self.storeName,
            duplicatesChild: duplicatesTopic == nil ? nil : "duplicates",
            statistics: statistics
        )
        topology.addDeduplicator("dedup", parents: Self.sourceName, configuration: dedup, store: store)
        topology.addSink("output", topic: outputTopic, parents: "dedup")
        if let duplicatesTopic { topology.addSink("duplicates", topic: duplicatesTopic, parents: "dedup") }
        if let invalidTopic { topology.addSink(Self.invalidSinkName, topic: invalidTopic) }
        return topology
    }
}
