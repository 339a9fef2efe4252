/// What a task does with a record that cannot be decoded or lacks what a processor needs
/// (errors with code ``StreamsError/Code/deserialization`` or ``StreamsError/Code/invalidRecord``).
///
/// Kafka Streams counterpart: `DeserializationExceptionHandler` (`LogAndFail`, `LogAndContinue`,
/// and dead-letter queues from KIP-1034).
public enum DeserializationErrorPolicy: Sendable, Hashable {
    /// Stop the task with the error; the record is not consumed, so a restart meets it again.
    case fail
    /// Log the error, count it and consume the record without output.
    case skip
    /// Send the record, unchanged, to the named sink with headers `streams.error.code`,
    /// `streams.error.message`, `streams.error.node` and `streams.error.origin`, then go on. A
    /// record from a source with a record size limit
    /// (``RecordKeyExtractor/limited(toBytes:recordBytes:note:)``) that would not fit it with
    /// these headers has its value cut to fit, and the header `streams.error.value.bytes` (the
    /// value's length before the cut).
    case deadLetter(sink: String)
}

/// What a task does when a processor or punctuator throws an error that is not about the record's
/// content (any error other than deserialization, invalid-record, store and engine failures).
///
/// Kafka Streams counterpart: `ProcessingExceptionHandler` (KIP-1033).
public enum ProcessingErrorPolicy: Sendable, Hashable {
    /// Stop the task with the error; the record is not consumed, so a restart meets it again.
    case fail
    /// Log the error and consume the record; output already forwarded for it stays.
    case skip
}
