internal import StreamsCore

/// Reads, in order, the committed records a sink wrote to one topic of a ``TopologyTestDriver``.
///
/// Reading consumes: each record is returned once.
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.TestOutputTopic`.
public struct TestOutputTopic {
    /// The topic's name.
    public let topic: String
    let driver: TopologyTestDriver

    /// The next unread record, or `nil` if there is none.
    public func readRecord() -> TestRecord? {
        driver.read(topic: topic, max: 1).first
    }

    /// Every unread record.
    public func readRecordsToList() -> [TestRecord] {
        driver.read(topic: topic, max: .max)
    }

    /// The values of every unread record, as UTF-8 text.
    public func readValuesToList() -> [String] {
        readRecordsToList().map(\.valueString)
    }

    /// The number of unread records.
    public var queueSize: Int { driver.unreadCount(topic: topic) }

    /// Whether every record was read.
    public var isEmpty: Bool { queueSize == 0 }
}
