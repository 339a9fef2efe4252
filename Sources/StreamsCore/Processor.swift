/// A node of a topology that receives records one at a time and forwards records to its children.
///
/// The lifecycle follows Kafka Streams: the task makes the processor with the topology's factory,
/// passing the node's ``ProcessorContext`` (Kafka's `init(context)`; keep the context, look up
/// stores and children, and schedule punctuators there), then calls ``process(_:)`` for each
/// record, ``prepareCommit()`` and ``postCommit()`` around each commit, and ``close()`` exactly once when the task
/// suspends or closes — also when it closes because of a failure.
///
/// ```swift
/// final class Uppercase: Processor {
///     private let context: ProcessorContext
///     init(context: ProcessorContext) { self.context = context }
///     func process(_ record: Record) throws {
///         var out = record
///         out.value = ArraySlice(String(decoding: record.value, as: UTF8.self).uppercased().utf8)
///         try context.forward(out)
///     }
/// }
/// ```
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.processor.api.Processor`.
///
/// - Important: A processor belongs to one task and is called on that task's thread only; it need
///   not be `Sendable`. ``process(_:)`` is the hot path: keep it synchronous and allocation-free.
public protocol Processor: AnyObject {
    /// Handles one record: forward zero or more records through the context, update stores.
    ///
    /// - Throws: Any error; the task's error policies decide what happens. Throw ``StreamsError``
    ///   with code ``StreamsError/Code/deserialization`` or ``StreamsError/Code/invalidRecord``
    ///   for bad input (deserialization policy); anything else goes to the processing policy.
    func process(_ record: Record) throws

    /// Called before the task commits, while the processor can still write to its stores: the
    /// writes become part of the commit. The default does nothing.
    ///
    /// Kafka Streams counterpart: the stores' `flush()` in `StreamTask.prepareCommit()`.
    ///
    /// - Throws: Any error; it fails the commit (the task closes dirty).
    func prepareCommit() throws

    /// Called after the task committed (output, changelog and positions durable, stores committed);
    /// the place for work that should happen once per commit rather than per record, such as
    /// updating a gauge. The default does nothing.
    func postCommit()

    /// Releases the processor's resources. Called once; the default does nothing. Stores are
    /// closed by the task, not by processors.
    func close()
}

extension Processor {
    /// Does nothing.
    public func prepareCommit() throws {}

    /// Does nothing.
    public func postCommit() {}

    /// Does nothing.
    public func close() {}
}
