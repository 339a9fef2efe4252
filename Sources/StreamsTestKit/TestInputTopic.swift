public import StreamsCore

/// Pipes records into one input topic of a ``TopologyTestDriver``.
///
/// Outside ``TopologyTestDriver/batch(_:)`` each pipe call processes its records right away and
/// commits; inside a batch, records wait and are processed together when the batch ends, in the
/// task's record-selection order across inputs.
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.TestInputTopic`.
public struct TestInputTopic {
    /// The topic's name.
    public let topic: String
    let driver: TopologyTestDriver

    /// Pipes one record.
    ///
    /// - Parameters:
    ///   - key: The key bytes, or `nil`.
    ///   - value: The value bytes.
    ///   - timestampMs: The event time; `nil` for the driver's wall-clock time.
    ///   - headers: The headers.
    /// - Throws: ``StreamsError`` when processing fails under a `fail` policy.
    public func pipeInput(
        key: [UInt8]?,
        value: [UInt8],
        timestampMs: Int64? = nil,
        headers: [RecordHeader] = []
    ) throws(StreamsError) {
        try pipeRecords([
            TestRecord(key: key, value: value, timestampMs: timestampMs ?? driver.clock.nowMs, headers: headers)
        ])
    }

    /// Pipes one record with UTF-8 key and value.
    ///
    /// - Throws: ``StreamsError`` when processing fails under a `fail` policy.
    public func pipeInput(
        key: String? = nil,
        _ value: String,
        timestampMs: Int64? = nil,
        headers: [RecordHeader] = []
    ) throws(StreamsError) {
        try pipeRecords([
            TestRecord(key: key, value: value, timestampMs: timestampMs ?? driver.clock.nowMs, headers: headers)
        ])
    }

    /// Pipes one record.
    ///
    /// - Throws: ``StreamsError`` when processing fails under a `fail` policy.
    public func pipeInput(_ record: TestRecord) throws(StreamsError) {
        try pipeRecords([record])
    }

    /// Pipes records, in order, processed as one batch and committed once.
    ///
    /// - Throws: ``StreamsError`` when processing fails under a `fail` policy.
    public func pipeRecords(_ records: some Sequence<TestRecord>) throws(StreamsError) {
        try driver.pipe(records.map(\.runtimeRecord), to: TopicPartition(topic: topic))
    }
}
