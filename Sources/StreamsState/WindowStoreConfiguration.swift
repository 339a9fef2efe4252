/// How a window store keeps entries: its name, retention and physical segment size.
public struct WindowStoreConfiguration: Sendable, Hashable {
    /// The store's name, unique within a topology.
    public var name: String
    /// How long an entry stays live after its timestamp, in stream time.
    public var retention: Duration
    /// The time span of one physical segment; `nil` means `max(retention / 2, 60 s)`, as in
    /// Kafka Streams, for a new store, and the stored interval when `LMDBWindowStore` reopens one
    /// (which refuses a set interval other than the stored one: it decides where entries are).
    /// Whole expired segments are dropped at once.
    public var segmentInterval: Duration?

    /// Creates a configuration.
    ///
    /// - Parameters:
    ///   - name: The store's name.
    ///   - retention: How long an entry stays live after its timestamp; at least 1 ms.
    ///   - segmentInterval: The span of one segment; `nil` for `max(retention / 2, 60 s)`.
    public init(name: String, retention: Duration, segmentInterval: Duration? = nil) {
        self.name = name
        self.retention = retention
        self.segmentInterval = segmentInterval
    }

    /// Checks the settings a store cannot work with: a retention under 1 ms.
    ///
    /// - Throws: ``StateStoreError`` with code ``StateStoreError/Code/invalidConfiguration``.
    public func validate() throws(StateStoreError) {
        guard retentionMs >= 1 else {
            throw StateStoreError(
                .invalidConfiguration,
                "store '\(name)': the retention must be at least 1 ms, got \(retentionMs) ms (\(retention)); "
                    + "set WindowStoreConfiguration.retention"
            )
        }
    }

    /// The timestamps an entry may have: every `Int64` but the two extremes, `Int64.min + 1 ...
    /// Int64.max - 1`. `Int64.min` means "no stream time yet" (an entry there would be expired
    /// from the start) and `Int64.max` is where saturated range arithmetic ends. Writes and
    /// deletes outside throw ``StateStoreError/Code/invalidTimestamp`` in both stores.
    public static let validTimestamps: ClosedRange<Int64> = (Int64.min + 1)...(Int64.max - 1)

    /// The largest business key a store accepts by default, in bytes: 16 MiB. A longer key
    /// throws ``StateStoreError/Code/tooLarge`` in both stores (`LMDBWindowStore.Options.maxKeySize`,
    /// the `maxKeySize` of ``InMemoryWindowStore/init(configuration:maxKeySize:maxSegments:)``).
    public static let defaultMaxKeySize = 16 << 20

    /// The most segments a store holds at once by default: 1,000
    /// (`LMDBWindowStore.Options.maxSegments`, the `maxSegments` of
    /// ``InMemoryWindowStore/init(configuration:maxKeySize:maxSegments:)``). Both stores refuse to
    /// open with settings whose ``segmentsNeeded`` exceeds it, and a write that would need one
    /// more segment throws ``StateStoreError/Code/tooManySegments``.
    public static let defaultMaxSegments = 1_000

    /// The most segments a store with this retention and segment interval holds at once while no
    /// write is more than one segment ahead of stream time: the segments `retention` spans
    /// (`ceil((retention - 1) / interval) + 1`, for a span that does not start on a segment
    /// boundary) and one for a record ahead of stream time that is written before stream time
    /// advances to it (as the Deduplicator does). 4 at most with the default segment interval.
    public var segmentsNeeded: Int64 {
        Self.segmentsNeeded(retentionMs: retentionMs, segmentIntervalMs: segmentIntervalMs)
    }

    static func segmentsNeeded(retentionMs: Int64, segmentIntervalMs interval: Int64) -> Int64 {
        let span = max(retentionMs, 1) - 1
        let (quotient, remainder) = span.quotientAndRemainder(dividingBy: interval)
        return quotient.saturatingAdd(remainder > 0 ? 3 : 2)
    }

    /// Throws ``StateStoreError/Code/invalidConfiguration`` when a store with `retentionMs` and
    /// `segmentIntervalMs` may need more than `maxSegments` segments at once (see
    /// ``segmentsNeeded``), naming both settings and the values that would fit; `setting` names
    /// the store's `maxSegments` setting and `stored` says where the interval comes from.
    package static func checkSegmentCount(
        store name: String,
        retentionMs: Int64,
        segmentIntervalMs interval: Int64,
        maxSegments: Int,
        setting: String,
        intervalSource: String = "WindowStoreConfiguration.segmentInterval"
    ) throws(StateStoreError) {
        let needed = segmentsNeeded(retentionMs: retentionMs, segmentIntervalMs: interval)
        guard needed > Int64(maxSegments) else { return }
        var fixes: [String] = []
        if maxSegments > 2 {
            // The smallest interval with ceil((R - 1) / I) + 2 <= maxSegments.
            let span = max(retentionMs, 1) - 1
            let parts = Int64(maxSegments - 2)
            let (q, r) = span.quotientAndRemainder(dividingBy: parts)
            fixes.append("a \(intervalSource) of at least \(q + (r > 0 ? 1 : 0)) ms")
        }
        fixes.append("\(setting) raised to \(needed)")
        throw StateStoreError(
            .invalidConfiguration,
            "store '\(name)': a retention of \(retentionMs) ms with a segment interval of \(interval) ms needs up to \(needed) segments at once, more than \(setting) (\(maxSegments)) allows; use \(fixes.joined(separator: ", or "))"
        )
    }

    /// ``retention`` in milliseconds.
    public var retentionMs: Int64 { retention.milliseconds }

    /// The effective segment interval in milliseconds.
    public var segmentIntervalMs: Int64 {
        if let segmentInterval { return max(1, segmentInterval.milliseconds) }
        return max(retentionMs / 2, 60_000)
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded toward zero and clamped to `Int64`.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (ms, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds < 0 ? .min : .max }
        let (total, overflow2) = ms.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return total
    }
}

/// Throws ``StateStoreError/Code/invalidTimestamp`` for `Int64.min` and `Int64.max`; two compares.
@inlinable @inline(__always)
package func checkTimestamp(_ timestampMs: Int64, store name: String) throws(StateStoreError) {
    if timestampMs == .min || timestampMs == .max { throw invalidTimestamp(timestampMs, store: name) }
}

@usableFromInline @inline(never)
package func invalidTimestamp(_ timestampMs: Int64, store name: String) -> StateStoreError {
    StateStoreError(
        .invalidTimestamp,
        "store '\(name)': the timestamp \(timestampMs) is outside the valid range \(Int64.min + 1)...\(Int64.max - 1) (WindowStoreConfiguration.validTimestamps); clamp or reject such event times before they reach the store"
    )
}
