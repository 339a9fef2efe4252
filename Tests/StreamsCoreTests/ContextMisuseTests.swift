import Logging
import Synchronization
import Testing
import StreamsCore
import StreamsTestKit

// A user's mistakes with a ProcessorContext, as an outside package makes them: each must be a
// StreamsError that names the processor, never a trap, and never a record silently dropped.

/// How a processor forwards.
enum ForwardStyle: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case toAll
    case toName
    case toChild

    var testDescription: String { rawValue }

    /// Forwards `record` to the child named "pass", resolved beforehand as `child` (as a processor
    /// resolves its children in its initializer).
    func forward(_ record: Record, with context: ProcessorContext, child: ProcessorContext.Child) throws {
        switch self {
        case .toAll: try context.forward(record)
        case .toName: try context.forward(record, to: "pass")
        case .toChild: try context.forward(record, to: child)
        }
    }
}

/// Forwards one record from its factory (its initializer), as if announcing itself.
private final class AnnouncesItself: Processor {
    init(context: ProcessorContext, style: ForwardStyle) throws {
        let child = try #require(context.child(named: "pass"))
        try style.forward(Record(key: nil, value: Array("hello".utf8), timestampMs: 0), with: context, child: child)
    }

    func process(_ record: Record) throws {}
}

/// Forwards a last record from close() (which cannot throw, so it keeps the error for the test).
private final class FlushesOnClose: Processor {
    let context: ProcessorContext
    let style: ForwardStyle
    let child: ProcessorContext.Child
    let errors: EventLog

    init(context: ProcessorContext, style: ForwardStyle, errors: EventLog) throws {
        self.context = context
        self.child = try #require(context.child(named: "pass"))
        self.style = style
        self.errors = errors
    }

    func process(_ record: Record) throws { try context.forward(record) }

    func close() {
        do {
            try style.forward(
                Record(key: nil, value: Array("last".utf8), timestampMs: 0), with: context, child: child)
        } catch let error as StreamsError {
            errors.append("\(error.code) \(error.node ?? "-"): \(error.message)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}

/// A child resolved in one factory, handed to another.
private final class ChildBox: Sendable {
    let child = Mutex<ProcessorContext.Child?>(nil)
}

/// Forwards every record to a child by name.
private final class Router: Processor {
    let context: ProcessorContext
    let target: String

    init(context: ProcessorContext, target: String) {
        self.context = context
        self.target = target
    }

    func process(_ record: Record) throws { try context.forward(record, to: target) }
}

/// Forwards with a child resolved by another node's context.
private final class BorrowsAChild: Processor {
    let context: ProcessorContext
    let child: ProcessorContext.Child

    init(context: ProcessorContext, child: ProcessorContext.Child) {
        self.context = context
        self.child = child
    }

    func process(_ record: Record) throws { try context.forward(record, to: child) }
}

/// Does nothing.
private final class Idle: Processor {
    func process(_ record: Record) throws {}
}

private final class Forwarder: Processor {
    let context: ProcessorContext
    init(context: ProcessorContext) { self.context = context }
    func process(_ record: Record) throws { try context.forward(record) }
}

/// Hands its context out, so that a test can keep it past the task.
private final class ContextKeeper: @unchecked Sendable {
    var context: ProcessorContext?
}

@Suite("Context misuse")
struct ContextMisuseTests {
    // The record path reaches the task without retaining it: a context kept after its task was
    // deallocated (never closed) must refuse to forward, not touch freed memory.
    @Test func forwardAfterTheTaskIsGoneIsAnError() throws {
        let keeper = ContextKeeper()
        var topology = Topology()
        topology.addSource("in", topics: "input")
        topology.addProcessor("keep", parents: "in") { context in
            keeper.context = context
            return Forwarder(context: context)
        }
        topology.addSink("out", topic: "output", parents: "keep")
        let engine = InMemoryEngine()
        do {
            let task = try StreamTask(
                id: TaskId(partition: 0), topology: topology,
                configuration: StreamsConfiguration(applicationId: "kept"),
                inputs: [TopicPartition(topic: "input")], collector: engine, changelogWriter: engine,
                clock: ManualWallClock(startMs: 0), logger: Logger(label: "test"))
            task.initializeStateStores(committedStreamTimeMs: nil)
            try task.completeRestoration()
        }
        let context = try #require(keeper.context)
        let error = try #require(throws: StreamsError.self) {
            try context.forward(Record(key: nil, value: Array("a".utf8), timestampMs: 1))
        }
        #expect(error.code == .illegalState)
    }

    // Item 8: forward() from a processor factory.
    @Test(arguments: ForwardStyle.allCases)
    func forwardFromTheFactoryIsAnError(style: ForwardStyle) throws {
        var topology = Topology()
        topology.addSource("in", topics: "input")
        topology.addProcessor("early", parents: "in") { try AnnouncesItself(context: $0, style: style) }
        topology.addProcessor("pass", parents: "early") { Forwarder(context: $0) }
        topology.addSink("out", topic: "output", parents: "pass")
        let error = try #require(throws: StreamsError.self) { _ = try TopologyTestDriver(topology) }
        #expect(error.code == .illegalState)
        #expect(error.node == "early")
        #expect(error.message.contains("'early' forwarded from its factory"))
    }

    // Item 8: forward() from close(), whether the child was declared (and so closed) before or
    // after the parent.
    @Test(arguments: ForwardStyle.allCases, [true, false])
    func forwardFromCloseIsAnError(style: ForwardStyle, childDeclaredFirst: Bool) throws {
        let errors = EventLog()
        var topology = Topology()
        topology.addSource("in", topics: "input")
        if childDeclaredFirst { topology.addProcessor("pass", parents: "closer") { Forwarder(context: $0) } }
        topology.addProcessor("closer", parents: "in") {
            try FlushesOnClose(context: $0, style: style, errors: errors)
        }
        if !childDeclaredFirst { topology.addProcessor("pass", parents: "closer") { Forwarder(context: $0) } }
        topology.addSink("out", topic: "output", parents: "pass")
        let driver = try TopologyTestDriver(topology)
        try driver.inputTopic("input").pipeInput("a", timestampMs: 1)
        try driver.close()

        #expect(errors.all.count == 1)
        #expect(errors.all.first?.hasPrefix("illegalState closer: processor 'closer' forwarded from close()") == true)
        #expect(try driver.outputTopic("output").readValuesToList() == ["a"])
    }

    // Item 7: punctuation intervals under 1 ms.
    @Test(arguments: [Duration.zero, .milliseconds(-5), .microseconds(500), .seconds(-1)])
    func punctuationIntervalUnderOneMillisecondIsAnError(interval: Duration) throws {
        for type in [PunctuationType.streamTime, .wallClockTime] {
            var topology = Topology()
            topology.addSource("in", topics: "input")
            topology.addProcessor("ticker", parents: "in") { context in
                try context.schedule(every: interval, type) { _ in }
                return Idle()
            }
            let error = try #require(throws: StreamsError.self) { _ = try TopologyTestDriver(topology) }
            #expect(error.code == .invalidConfiguration)
            #expect(error.node == "ticker")
            #expect(error.message.contains("every \(interval)"))
            #expect(error.message.contains("at least 1 ms"))
        }
    }

    // Item 12: forward(to:) an unknown child is a programming error, not a bad record: the skip
    // policy must not swallow it (it would drop every record).
    @Test func forwardToAnUnknownChildIsNotSkipped() throws {
        var topology = Topology()
        topology.addSource("in", topics: "input")
        topology.addProcessor("router", parents: "in") { Router(context: $0, target: "typo") }
        topology.addSink("out", topic: "output", parents: "router")
        let driver = try TopologyTestDriver(
            topology,
            configuration: StreamsConfiguration(applicationId: "router", processingErrorPolicy: .skip)
        )
        let error = try #require(throws: StreamsError.self) {
            try driver.inputTopic("input").pipeInput("a", timestampMs: 1)
        }
        #expect(error.code == .unknownChild)
        #expect(error.node == "router")
        #expect(error.message.contains("no child 'typo'"))
        #expect(error.message.contains("\"out\""))
        #expect(driver.task.skippedRecordCount == 0)
    }

    // Item 12: a child resolved by another node's context is not a child of this one.
    @Test func forwardToAnotherNodesChildIsAnError() throws {
        let borrowed = ChildBox()
        var topology = Topology()
        topology.addSource("in", topics: "input")
        topology.addProcessor("owner", parents: "in") { context in
            borrowed.child.withLock { $0 = context.child(named: "owned") }
            return Idle()
        }
        topology.addSink("owned", topic: "owned", parents: "owner")
        topology.addProcessor("borrower", parents: "in") { context in
            BorrowsAChild(context: context, child: borrowed.child.withLock { $0 }!)
        }
        topology.addSink("out", topic: "output", parents: "borrower")
        let driver = try TopologyTestDriver(
            topology,
            configuration: StreamsConfiguration(applicationId: "borrow", processingErrorPolicy: .skip)
        )
        let error = try #require(throws: StreamsError.self) {
            try driver.inputTopic("input").pipeInput("a", timestampMs: 1)
        }
        #expect(error.code == .unknownChild)
        #expect(error.node == "borrower")
        #expect(error.message.contains("resolved by another node's context"))
        #expect(try driver.outputTopic("owned").readValuesToList().isEmpty)
    }
}
