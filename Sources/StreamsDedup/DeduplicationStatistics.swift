internal import Synchronization
public import StreamsCore

/// Counts of a deduplicator (or of all its tasks together).
public struct DeduplicationStatistics: Sendable, Hashable, CustomStringConvertible {
    /// Records the deduplicator received.
    public var seen: Int = 0
    /// Records forwarded as first occurrences.
    public var emitted: Int = 0
    /// Records dropped (or sent to the duplicates child) as duplicates.
    public var duplicates: Int = 0
    /// Records without a usable key (handled by the deserialization error policy).
    public var invalid: Int = 0
    /// Entries of business keys physically in the store at the last commit (expired ones of
    /// undropped segments included, the stream-time marker not), summed over tasks.
    public var storeEntries: Int = 0

    /// Creates statistics.
    public init(seen: Int = 0, emitted: Int = 0, duplicates: Int = 0, invalid: Int = 0, storeEntries: Int = 0) {
        self.seen = seen
        self.emitted = emitted
        self.duplicates = duplicates
        self.invalid = invalid
        self.storeEntries = storeEntries
    }

    /// `"seen=… emitted=… duplicates=… invalid=… storeEntries=…"`.
    public var description: String {
        "seen=\(seen) emitted=\(emitted) duplicates=\(duplicates) invalid=\(invalid) storeEntries=\(storeEntries)"
    }

    static func + (lhs: Self, rhs: Self) -> Self {
        Self(
            seen: lhs.seen + rhs.seen,
            emitted: lhs.emitted + rhs.emitted,
            duplicates: lhs.duplicates + rhs.duplicates,
            invalid: lhs.invalid + rhs.invalid,
            storeEntries: lhs.storeEntries + rhs.storeEntries
        )
    }
}

/// Collects the statistics of every task's deduplicator, for a CLI's `--stats` or a health
/// endpoint; safe to read from any thread.
///
/// Each deduplicator publishes its counts after every commit and when it closes (not per record),
/// so a snapshot reflects the last commit of each task.
public final class DeduplicationStatisticsCollector: Sendable {
    private let perTask = Mutex<[TaskId: DeduplicationStatistics]>([:])

    /// Creates an empty collector.
    public init() {}

    /// The sum over all tasks.
    public var snapshot: DeduplicationStatistics {
        perTask.withLock { $0.values.reduce(DeduplicationStatistics(), +) }
    }

    /// The statistics of each task.
    public var snapshotPerTask: [TaskId: DeduplicationStatistics] {
        perTask.withLock { $0 }
    }

    func publish(_ statistics: DeduplicationStatistics, for task: TaskId) {
        perTask.withLock { $0[task] = statistics }
    }
}
