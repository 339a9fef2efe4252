/// One live entry of a window store: a business key, a timestamp and a value.
public struct WindowEntry: Sendable, Hashable {
    /// The business key bytes.
    public var key: [UInt8]
    /// The entry's timestamp, in milliseconds since the epoch.
    public var timestampMs: Int64
    /// The stored value.
    public var value: [UInt8]

    /// Creates an entry.
    public init(key: [UInt8], timestampMs: Int64, value: [UInt8]) {
        self.key = key
        self.timestampMs = timestampMs
        self.value = value
    }
}
