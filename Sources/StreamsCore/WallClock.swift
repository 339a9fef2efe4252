#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// The wall clock a task reads for processing time, wall-clock punctuation and commit cadence.
///
/// Engines use ``SystemWallClock``; tests inject a clock they advance by hand (the test kit's
/// `ManualWallClock`), so wall-clock behaviour is deterministic.
///
/// Kafka Streams counterpart: `org.apache.kafka.common.utils.Time` (`MockTime` in tests).
public protocol WallClock: AnyObject {
    /// The current time, in milliseconds since the epoch.
    var nowMs: Int64 { get }
}

/// The real wall clock.
public final class SystemWallClock: WallClock, Sendable {
    /// Creates the system clock.
    public init() {}

    /// The current time from `clock_gettime(CLOCK_REALTIME)`, in milliseconds since the epoch.
    public var nowMs: Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
