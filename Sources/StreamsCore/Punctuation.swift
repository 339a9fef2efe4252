/// Which time drives a punctuator.
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.processor.PunctuationType`.
public enum PunctuationType: Sendable, Hashable {
    /// Stream time: the largest record timestamp the task has processed. Boundaries are multiples
    /// of the interval (aligned to the epoch); the punctuator fires once each time stream time
    /// reaches a boundary it had not reached, with the stream time as argument. If stream time
    /// jumps over several boundaries, it fires once. Without records it never fires.
    case streamTime
    /// The engine's wall clock (injectable). The first punctuation is one interval after
    /// scheduling; later ones at each interval after that, skipping intervals missed while the
    /// task was busy. The argument is the clock's time.
    case wallClockTime
}

/// A callback run by ``ProcessorContext/schedule(every:_:_:)``, with the time (stream time or wall
/// clock, in milliseconds) that made it fire.
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.processor.Punctuator`.
public typealias Punctuator = (_ timestampMs: Int64) throws -> Void

/// A handle to cancel a scheduled punctuator.
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.processor.Cancellable`.
public final class Cancellable {
    /// Whether ``cancel()`` was called (or the task closed).
    public private(set) var isCancelled = false

    init() {}

    /// Stops the punctuator from firing again. Calling it twice is harmless.
    public func cancel() { isCancelled = true }
}

/// One scheduled punctuator of a task.
struct PunctuationSchedule {
    var node: Int
    var intervalMs: Int64
    var type: PunctuationType
    /// The next time it fires; `nil` for a stream-time schedule made before any record.
    var nextMs: Int64?
    var punctuator: Punctuator
    var handle: Cancellable

    /// The first multiple of `intervalMs` strictly after `timeMs`.
    static func nextBoundary(after timeMs: Int64, intervalMs: Int64) -> Int64 {
        let (quotient, remainder) = timeMs.quotientAndRemainder(dividingBy: intervalMs)
        let floor = remainder < 0 ? quotient - 1 : quotient
        let (next, overflow) = (floor + 1).multipliedReportingOverflow(by: intervalMs)
        return overflow ? .max : next
    }
}
