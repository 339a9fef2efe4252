public import StreamsCore
public import StreamsState
internal import CoreMetrics

/// Drops records whose business key was already emitted within a time window, forwarding first
/// occurrences to its children and duplicates to the child named by
/// ``DeduplicatorConfiguration/duplicatesChild``, if any.
///
/// The semantics, shared by every engine and the CLI: stream time `S` starts at −∞ and after each
/// record becomes `max(S, t)`. A record with key `k` and time `t` is a duplicate iff an earlier
/// *emitted* record with key `k` and time `t0` has `|t − t0| < W` and `t0 + W > S − G`, with `S`
/// taken before the record. Everything else is forwarded unchanged and `(k, t)` is stored, unless
/// `t + W + G <= S` (a record that late can never be matched, so storing it would be useless).
///
/// Implementation: a window store with retention `W + G`, whose stream time is `S`, so an entry is
/// live iff `t0 + W + G > S`; one ``WindowStore/insertIfAbsent(key:timestampMs:value:conflictRange:)``
/// with `conflictRange: (t − W + 1)...(t + W − 1)` per record (``InsertOutcome/conflict(earliestTimestampMs:)``:
/// a duplicate; ``InsertOutcome/inserted`` or ``InsertOutcome/expired``: a first occurrence), then
/// ``WindowStore/advanceStreamTime(to:)``. Entries that can never match again are in expired
/// segments, dropped physically.
///
/// Restore: `S` must survive a restart even when the record that advanced it was a duplicate (which
/// stores nothing). Before each commit, if `S` is beyond every timestamp stored, the deduplicator
/// writes a one-byte marker entry (key `0x00`, which no business key can be) at `S`, so that
/// replaying the changelog brings the store's stream time back to `S`. Writing a new marker
/// deletes the previous one, so the store holds at most one live marker (and counting markers
/// stays cheap); ``streamTimeMarker`` is its key.
///
/// Metrics (swift-metrics), published at each commit rather than per record: counters
/// `<prefix>_records_seen`, `_records_emitted`, `_records_duplicate`, `_records_invalid`; gauge
/// `<prefix>_store_entries` (``businessEntryCount(in:)``: store entries without markers); timer
/// `<prefix>_duplicate_delay` with `|t − t0|` for each duplicate. Dimensions: `task`, `processor`.
public final class Deduplicator: Processor {
    private let context: ProcessorContext
    private let store: any WindowStore
    private let windowMs: Int64
    private let time: DeduplicationTime
    // Hot per-record state: a processor is used by one task thread only and never re-entrantly,
    // so Swift's dynamic exclusivity checks (a measurable share of a record) are switched off.
    @exclusivity(unchecked) private var keyExtractor: CompiledKeyExtractor
    @exclusivity(unchecked) private var key: [UInt8] = []
    /// The duplicates' child and the first occurrences' children, by node (see
    /// ``ProcessorContext/forward(_:toNode:)``).
    private let duplicatesNode: Int?
    private let emitNodes: [Int]
    private let collector: DeduplicationStatisticsCollector?
    /// The largest timestamp written to the store (entries and markers) that the changelog holds.
    @exclusivity(unchecked) private var loggedStreamTimeMs: Int64
    @exclusivity(unchecked) private var pendingDelaysMs: [Int64] = []
    private var published = DeduplicationStatistics()
    private let metrics: Metrics

    /// The counts so far (store entries as of the last commit).
    @exclusivity(unchecked) public private(set) var statistics = DeduplicationStatistics()

    private static let storedValue: [UInt8] = [1]
    /// The key of the stream-time marker entry: one zero byte, which no business key can be
    /// (every extracted key starts with a part tag).
    public static let streamTimeMarker: [UInt8] = [0]
    /// The timestamp of the marker this processor last wrote or found, to delete when it writes
    /// the next one.
    private var markerTimestampMs: Int64?

    /// The store's entries without stream-time markers: ``WindowStore/approximateEntryCount`` of
    /// the business keys (expired entries of segments not dropped yet included).
    ///
    /// - Throws: ``StateStoreError`` from the store.
    public static func businessEntryCount(in store: some WindowStore) throws -> Int {
        try store.approximateEntryCount - store.approximateEntryCount(key: streamTimeMarker)
    }

    private struct Metrics {
        var seen: Counter
        var emitted: Counter
        var duplicates: Counter
        var invalid: Counter
        var storeEntries: Gauge
        var delay: Timer

        init(prefix: String, dimensions: [(String, String)]) {
            seen = Counter(label: "\(prefix)_records_seen", dimensions: dimensions)
            emitted = Counter(label: "\(prefix)_records_emitted", dimensions: dimensions)
            duplicates = Counter(label: "\(prefix)_records_duplicate", dimensions: dimensions)
            invalid = Counter(label: "\(prefix)_records_invalid", dimensions: dimensions)
            storeEntries = Gauge(label: "\(prefix)_store_entries", dimensions: dimensions)
            delay = Timer(label: "\(prefix)_duplicate_delay", dimensions: dimensions)
        }
    }

    /// Creates the deduplicator of one task.
    ///
    /// - Parameters:
    ///   - configuration: The settings; the store ``DeduplicatorConfiguration/storeName`` must be
    ///     connected to this processor and have retention `W + G`.
    ///   - context: The processor's context.
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/invalidConfiguration``,
    ///   ``StreamsError/Code/invalidTopology`` (the duplicates child is not a child of the node, or
    ///   is `nil` while the node has two or more children) or ``StreamsError/Code/unknownStore``.
    public init(configuration: DeduplicatorConfiguration, context: ProcessorContext) throws(StreamsError) {
        // Added with `addDeduplicator`, the topology's validation found these already; added with
        // `addProcessor`, this is where they are found, before any record.
        try configuration.validate()
        if let problem = configuration.problems(node: context.nodeName, children: context.childNames).first {
            throw problem
        }
        self.context = context
        store = try context.windowStore(named: configuration.storeName)
        windowMs = configuration.windowMs
        let retentionMs = configuration.windowMs + configuration.graceMs
        guard store.retentionMs == retentionMs else {
            throw StreamsError(
                .invalidConfiguration,
                "store '\(configuration.storeName)' has retention \(store.retentionMs) ms but the deduplicator needs "
                    + "window + grace = \(retentionMs) ms; use DeduplicatorConfiguration.windowStoreConfiguration"
            )
        }
        time = configuration.time
        keyExtractor = try configuration.key.compile()
        key.reserveCapacity(64)
        duplicatesNode = configuration.duplicatesChild.flatMap { context.child(named: $0)?.node }
        emitNodes = context.childNames.filter { $0 != configuration.duplicatesChild }.compactMap {
            context.child(named: $0)?.node
        }
        collector = configuration.statistics
        loggedStreamTimeMs = store.streamTimeMs
        metrics = Metrics(
            prefix: configuration.metricsPrefix,
            dimensions: [("task", "\(context.taskId)"), ("processor", context.nodeName)]
        )
        markerTimestampMs = (try? store.fetch(key: Self.streamTimeMarker, from: .min, to: .max))?.last?.timestampMs
        statistics.storeEntries = (try? Self.businessEntryCount(in: store)) ?? 0
    }

    /// Deduplicates one record.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/invalidRecord`` or
    ///   ``StreamsError/Code/deserialization`` for a record without a usable key; store failures;
    ///   whatever children throw.
    public func process(_ record: Record) throws {
        statistics.seen += 1
        do {
            try keyExtractor.extract(record, into: &key)
        } catch {
            statistics.invalid += 1
            throw error
        }
        let t = time == .eventTime ? record.timestampMs : context.wallClockMs
        let streamTime = store.streamTimeMs
        let range = t.addingSaturated(-(windowMs - 1))...t.addingSaturated(windowMs - 1)
        let outcome = try store.insertIfAbsent(
            key: key, timestampMs: t, value: Self.storedValue, conflictRange: range)
        if t > streamTime {
            try store.advanceStreamTime(to: t)
        }
        switch outcome {
        case .conflict(let t0):
            statistics.duplicates += 1
            pendingDelaysMs.append(t >= t0 ? t - t0 : t0 - t)
            if let duplicatesNode { try context.forward(record, toNode: duplicatesNode) }
        case .inserted:
            if t > loggedStreamTimeMs { loggedStreamTimeMs = t }
            try emit(record)
        case .expired:
            // t + W + G <= S and no live entry matched: a first occurrence by the semantics. It
            // was not stored, and need not be: no later record can match it (t + W <= S - G).
            try emit(record)
        }
    }

    /// Counts `record` as emitted and forwards it to the first-occurrence children.
    @inline(__always)
    private func emit(_ record: Record) throws {
        statistics.emitted += 1
        for node in emitNodes { try context.forward(record, toNode: node) }
    }

    /// Writes the stream-time marker if stream time moved past every stored timestamp.
    public func prepareCommit() throws {
        let streamTime = store.streamTimeMs
        if streamTime > loggedStreamTimeMs {
            if let previous = markerTimestampMs {
                try store.delete(key: Self.streamTimeMarker, timestampMs: previous)
            }
            try store.put(key: Self.streamTimeMarker, timestampMs: streamTime, value: Self.storedValue)
            markerTimestampMs = streamTime
            loggedStreamTimeMs = streamTime
        }
    }

    /// Publishes metrics and statistics for the commit.
    public func postCommit() {
        statistics.storeEntries = (try? Self.businessEntryCount(in: store)) ?? statistics.storeEntries
        publish()
    }

    /// Publishes the final counts.
    public func close() {
        publish()
    }

    private func publish() {
        let delta = statistics
        metrics.seen.increment(by: delta.seen - published.seen)
        metrics.emitted.increment(by: delta.emitted - published.emitted)
        metrics.duplicates.increment(by: delta.duplicates - published.duplicates)
        metrics.invalid.increment(by: delta.invalid - published.invalid)
        metrics.storeEntries.record(delta.storeEntries)
        for delayMs in pendingDelaysMs {
            metrics.delay.recordNanoseconds(delayMs.multipliedSaturated(by: 1_000_000))
        }
        pendingDelaysMs.removeAll(keepingCapacity: true)
        published = statistics
        collector?.publish(statistics, for: context.taskId)
    }
}

extension Int64 {
    fileprivate func addingSaturated(_ other: Int64) -> Int64 {
        let (result, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : result
    }

    fileprivate func multipliedSaturated(by other: Int64) -> Int64 {
        let (result, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? .max : result
    }
}
