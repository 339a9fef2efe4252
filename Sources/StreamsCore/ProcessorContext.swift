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
/// Forwarding is allowed once every processor of the task exists and until the task starts
/// closing them: from ``Processor/process(_:)``, punctuators, ``Processor/prepareCommit()`` and
/// ``Processor/postCommit()``. From the processor factory or from ``Processor/close()``, the
/// `forward` methods throw ``StreamsError/Code/illegalState`` (and so does
/// ``schedule(every:_:_:)`` from `close()`) rather than reach a child that does not exist yet or
/// is already closed.
///
/// - Important: Use a context only on its task's thread, and not after the processor's
///   ``Processor/close()``.
public final class ProcessorContext {
    /// A child of this node, resolved once with ``child(named:)`` so that forwarding to it by name
    /// costs no lookup per record.
    public struct Child: Sendable, Hashable {
        package let node: Int
        /// The node whose ``child(named:)`` resolved it: a child of another node cannot be
        /// forwarded to.
        let parent: Int
        /// The child's name.
        public let name: String
    }

    /// Where the context is in its processor's lifecycle; set by the task.
    enum Phase {
        /// The factory is running (or a later factory of the task): no processor may receive records yet.
        case creating
        /// Every processor of the task exists: forwarding is allowed.
        case active
        /// The processor is closing or closed.
        case closed
    }

    unowned let task: StreamTask
    /// The same task for the per-record forwarding paths, without the retain and release an
    /// `unowned` (or `unowned(unsafe)`) reference costs for every call through it. Touched only
    /// after `phase == .active` is checked: the task sets every context's phase to `.closed` when
    /// it closes and when it is deallocated.
    private let forwardingTask: Unmanaged<StreamTask>
    let node: Int
    /// Checked by every `forward` before it touches the task (which may be gone after close).
    @exclusivity(unchecked) var phase: Phase = .creating

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
        self.forwardingTask = Unmanaged.passUnretained(task)
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
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/illegalState`` when called from the
    ///   processor factory or ``Processor/close()``, else whatever a child throws.
    public func forward(_ record: Record) throws {
        guard phase == .active else { throw forwardingNotAllowed() }
        try forwardingTask._withUnsafeGuaranteedRef { try $0.deliverToChildren(record, of: node) }
    }

    /// The child named `name`, or `nil` if this node has no such child (or the processor is closed).
    public func child(named name: String) -> Child? {
        guard phase != .closed else { return nil }
        for child in task.nodes[node].children where task.nodes[child].name == name {
            return Child(node: child, parent: node, name: name)
        }
        return nil
    }

    /// Forwards `record` to one child, resolved with this context's ``child(named:)``.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/illegalState`` when called from the
    ///   processor factory or ``Processor/close()``, ``StreamsError/Code/unknownChild`` for a child
    ///   resolved by another node's context, else whatever the child throws.
    public func forward(_ record: Record, to child: Child) throws {
        guard phase == .active, child.parent == node else {
            guard phase == .active else { throw forwardingNotAllowed() }
            throw StreamsError(
                .unknownChild,
                "processor '\(nodeName)' forwarded to a Child '\(child.name)' resolved by another node's context; "
                    + "resolve it with this processor's own context.child(named:)",
                origin: task.currentOrigin,
                node: nodeName
            )
        }
        try forwardingTask._withUnsafeGuaranteedRef { try $0.deliver(record, to: child.node) }
    }

    /// Forwards `record` to the child whose ``Child/node`` is `node`, as ``forward(_:to:)`` does:
    /// for first-party processors, which keep their children's nodes (integers) so that a record
    /// does not copy a `Child` (and retain its name).
    ///
    /// - Precondition: `node` is the node of a `Child` this context resolved.
    package func forward(_ record: Record, toNode node: Int) throws {
        guard phase == .active else { throw forwardingNotAllowed() }
        try forwardingTask._withUnsafeGuaranteedRef { try $0.deliver(record, to: node) }
    }

    /// Forwards `record` to the child named `name`.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/illegalState`` when called from the
    ///   processor factory or ``Processor/close()``, ``StreamsError/Code/unknownChild`` if there is
    ///   no such child (a programming error: no error policy skips it), else whatever the child
    ///   throws.
    public func forward(_ record: Record, to name: String) throws {
        guard phase == .active else { throw forwardingNotAllowed() }
        guard let child = child(named: name) else { throw unknownChild(name) }
        try task.deliver(record, to: child.node)
    }

    private func unknownChild(_ name: String) -> StreamsError {
        StreamsError(
            .unknownChild,
            "processor '\(nodeName)' has no child '\(name)'; its children are \(childNames): "
                + "add '\(name)' with parents: '\(nodeName)', or forward to one of them",
            origin: task.currentOrigin,
            node: nodeName
        )
    }

    private func forwardingNotAllowed() -> StreamsError {
        let error: StreamsError
        switch phase {
        case .creating:
            error = StreamsError(
                .illegalState,
                "processor '\(nodeName)' forwarded from its factory, before the task's processors exist; "
                    + "forward from process(_:) or a punctuator instead",
                node: nodeName
            )
        case .active, .closed:
            error = StreamsError(
                .illegalState,
                "processor '\(nodeName)' forwarded from close() or after it; its children are closed, "
                    + "so forward from process(_:), a punctuator or prepareCommit() instead",
                node: nodeName
            )
            // close() cannot throw, so the caller may well ignore the error: say it once here too.
            logger.error("\(error)")
        }
        return error
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
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/invalidConfiguration`` for an
    ///   interval under 1 ms (zero and negative included), ``StreamsError/Code/illegalState`` from
    ///   ``Processor/close()`` or after it.
    @discardableResult
    public func schedule(
        every interval: Duration,
        _ type: PunctuationType,
        _ punctuator: @escaping Punctuator
    ) throws(StreamsError) -> Cancellable {
        let intervalMs = interval.milliseconds
        guard intervalMs >= 1 else {
            throw StreamsError(
                .invalidConfiguration,
                "processor '\(nodeName)' scheduled a punctuator every \(interval); the interval must be at least 1 ms",
                node: nodeName
            )
        }
        guard phase != .closed else {
            throw StreamsError(
                .illegalState,
                "processor '\(nodeName)' scheduled a punctuator from close() or after it; "
                    + "schedule from the processor factory, process(_:) or a punctuator instead",
                node: nodeName
            )
        }
        return task.schedule(node: node, intervalMs: intervalMs, type: type, punctuator: punctuator)
    }

    /// Asks the engine to commit as soon as the current record or punctuation is done.
    ///
    /// Kafka Streams counterpart: `ProcessorContext.commit()`.
    public func requestCommit() {
        task.commitRequested = true
    }
}
