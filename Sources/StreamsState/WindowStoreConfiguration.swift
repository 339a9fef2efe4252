/// How a window store keeps entries: its name, retention and physical segment size.
public struct WindowStoreConfiguration: Sendable, Hashable {
    /// The store's name, unique within a topology.
    public var name: String
    /// How long an entry stays live after its timestamp, in stream time.
    public var retention: Duration
    /// The time span of one physical segment; `nil` means `max(retention / 2, 60 s)`, as in
    /// Kafka Streams. Whole expired segments are dropped at once.
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
