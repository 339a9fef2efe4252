/// The offset range a partition holds, as its leader reports it.
public struct KafkaWatermarks: Sendable, Hashable {
    /// The first offset still in the log (records before it were deleted or compacted away).
    public var low: Int64
    /// The offset the next appended record will get (the end offset; it counts transaction markers).
    public var high: Int64

    /// Creates watermarks.
    public init(low: Int64, high: Int64) {
        self.low = low
        self.high = high
    }
}
