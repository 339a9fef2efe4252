public import Logging
public import StreamsState

/// A processor's view of its task: forward records to children, reach connected stores, read
/// stream time, wall-clock time and the current record's metadata, schedule punctuators and ask
/// for a commit.
///
/// Each processor node of each task has its own context; the processor factory receives it.
///
/// Kafka Streams counterpart: `org.apache.kafka.streams.processor.api.ProcessorContext`.
///
/// - Important: Use a context only on its task's thread, and not after the processor's
///   ``Processor/close()``.
public final class ProcessorContext {
    /// A child of this node, resolved once with ``child(named:)`` so that forwarding to it by name
    /// costs no lookup per record.
    public struct Child: Sendable, Hashable {
        let node: Int
        /// The child's name.
        public let name: String
    }

    unowned let task: StreamTask
    let node: Int

    /// The task this processor runs in.
    public var taskId: TaskId { task.id }
    /// The application's id.
    public var applicationId: String { task.configuration.applicationId }
    /// This processor node's name.
    public let nodeName: String
    /// The names of this node's children, in the order records are forwarded to them.
    public let childNames: [String]
    /// A logger with `task` and `processor` metadata.
    public let logger: Logger

    init(task: StreamTask, node: Int, nodeName: String, childNames: [String], logger: Logger) {
        self.task = task
        self.node = node
        self.nodeName = nodeName
        self.childNames = childNames
        var logger = logger
        logger[metadataKey: "processor"] = "\(nodeName)"
        self.logger = logger
    }

    /// The task's stream time: the largest timestamp of the records it processed, including the
    /// current one; `Int64.min` before any record. Never goes back.
    public var streamTimeMs: Int64 { task.streamTimeMs }

    /// The engine's wall-clock time, in milliseconds since the epoch (a test clock in tests).
    ///
    /// Kafka Streams counterpart: `currentSystemTimeMs()`.
    public var wallClockMs: Int64 { task.clock.nowMs }

    /// The input and position of the record being processed, or `nil` inside a punctuator.
    ///
    /// Kafka Streams counterpart: `recordMetadata()`.
    public var recordMetadata: RecordOrigin? { task.currentOrigin }

    /// Forwards `record` to every child, in order.
    ///
    /// - Throws: Whatever a child throws.
    public func forward(_ record: Record) throws {
        for child in task.nodes[node].children {
            try task.deliver(record, to: child)
        }
    }

    /// The child named `name`, or `nil` if this node has no such child.
    public func child(named name: String) -> Child? {
        for child in task.nodes[node].children where task.nodes[child].name == name {
            return Child(node: child, name: name)
        }
        return nil
    }

    /// Forwards `record` to one child, resolved with ``child(named:)``.
    ///
    /// - Throws: Whatever the child throws.
    public func forward(_ record: Record, to child: Child) throws {
        try task.deliver(record, to: child.node)
    }

    /// Forwards `record` to the child named `name`.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/unknownChild`` if there is no such
    ///   child, else whatever the child throws.
    public func forward(_ record: Record, to name: String) throws {
        guard let child = child(named: name) else {
            throw StreamsError(
                .unknownChild,
                "'\(nodeName)' has no child '\(name)'; its children are \(childNames)",
                origin: task.currentOrigin,
                node: nodeName
            )
        }
        try task.deliver(record, to: child.node)
    }

    /// The store named `name`, which must be connected to this processor.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/unknownStore``.
    public func stateStore(named name: String) throws(StreamsError) -> any StateStore {
        guard task.nodes[node].stores.contains(name), let store = task.stores[name] else {
            throw StreamsError(
                .unknownStore,
                "store '\(name)' is not connected to processor '\(nodeName)'; connected: \(task.nodes[node].stores)",
                node: nodeName
            )
        }
        return store
    }

    /// The window store named `name`, which must be connected to this processor.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/unknownStore`` if it is not
    ///   connected or not a window store.
    public func windowStore(named name: String) throws(StreamsError) -> any WindowStore {
        let store = try stateStore(named: name)
        guard let windowStore = store as? any WindowStore else {
            throw StreamsError(.unknownStore, "store '\(name)' is not a window store", node: nodeName)
        }
        return windowStore
    }

    /// Schedules `punctuator` to run every `interval` of stream time or wall-clock time (see
    /// ``PunctuationType`` for exactly when).
    ///
    /// Records the punctuator forwards go to this node's children; inside it,
    /// ``recordMetadata`` is `nil`. Errors it throws go through the processing error policy.
    ///
    /// Kafka Streams counterpart: `ProcessorContext.schedule(interval, type, punctuator)`.
    ///
    /// - Parameters:
    ///   - interval: At least 1 ms.
    ///   - type: ``PunctuationType/streamTime`` or ``PunctuationType/wallClockTime``.
    ///   - punctuator: Called with the stream time or wall-clock time that made it fire.
    /// - Returns: A handle to cancel the schedule; the task cancels it when it closes.
    @discardableResult
    public func schedule(
        every interval: Duration,
        _ type: PunctuationType,
        _ punctuator: @escaping Punctuator
    ) -> Cancellable {
        task.schedule(node: node, intervalMs: interval.milliseconds, type: type, punctuator: punctuator)
    }

    /// Asks the engine to commit as soon as the current record or punctuation is done.
    ///
    /// Kafka Streams counterpart: `ProcessorContext.commit()`.
    public func requestCommit() {
        task.commitRequested = true
    }
}
