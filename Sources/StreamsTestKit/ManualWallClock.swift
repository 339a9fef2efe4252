public import StreamsCore
internal import StreamsState

/// A wall clock that only moves when told to, for deterministic tests of processing time,
/// wall-clock punctuation and commit cadence.
///
/// Kafka Streams counterpart: `MockTime`.
public final class ManualWallClock: WallClock {
    /// The current time, in milliseconds since the epoch.
    public var nowMs: Int64

    /// Creates a clock showing `startMs`.
    public init(startMs: Int64 = 0) {
        nowMs = startMs
    }

    /// Moves the clock forward by `duration` (which must not be negative).
    public func advance(by duration: Duration) {
        let ms = duration.milliseconds
        precondition(ms >= 0, "a wall clock does not go back")
        nowMs += ms
    }
}
