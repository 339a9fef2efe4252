/// What a `dedup run` did, printed as JSON by `--stats`.
public struct DedupJobSummary: Sendable, Hashable, Codable {
    /// Input records read in this run (blank lines excluded).
    public var recordsRead: Int
    /// Records written to the output.
    public var emitted: Int
    /// Records dropped as duplicates.
    public var duplicates: Int
    /// Invalid records skipped.
    public var invalid: Int
    /// Entries in the store at the end (keys still within the window, plus not yet dropped ones).
    public var liveKeys: Int
    /// Changelog entries replayed into the store before processing.
    public var restoredEntries: Int
    /// Wall-clock seconds the run took.
    public var elapsedSeconds: Double
    /// `recordsRead / elapsedSeconds`.
    public var recordsPerSecond: Double

    /// Creates a summary.
    public init(
        recordsRead: Int, emitted: Int, duplicates: Int, invalid: Int, liveKeys: Int, restoredEntries: Int,
        elapsedSeconds: Double
    ) {
        self.recordsRead = recordsRead
        self.emitted = emitted
        self.duplicates = duplicates
        self.invalid = invalid
        self.liveKeys = liveKeys
        self.restoredEntries = restoredEntries
        self.elapsedSeconds = elapsedSeconds
        self.recordsPerSecond = elapsedSeconds > 0 ? Double(recordsRead) / elapsedSeconds : 0
    }
}

/// A snapshot for the progress line, taken a few times a second.
public struct DedupJobProgress: Sendable, Hashable {
    /// What the job is doing.
    public enum Phase: Sendable, Hashable {
        /// Replaying the changelog into the store; the count of entries so far.
        case restoring(entries: Int)
        /// Processing input.
        case running
        /// Waiting for inputs to grow (`--follow`).
        case waiting
    }

    /// What the job is doing.
    public var phase: Phase
    /// Records read so far in this run.
    public var recordsRead: Int
    /// Duplicates dropped so far.
    public var duplicates: Int
    /// Records per second over the run so far.
    public var recordsPerSecond: Double
    /// The input most recently read from and the 1-based line reached in it.
    public var position: String

    /// Creates a snapshot.
    public init(phase: Phase, recordsRead: Int, duplicates: Int, recordsPerSecond: Double, position: String) {
        self.phase = phase
        self.recordsRead = recordsRead
        self.duplicates = duplicates
        self.recordsPerSecond = recordsPerSecond
        self.position = position
    }
}
