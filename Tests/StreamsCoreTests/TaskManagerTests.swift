import Testing
import StreamsCore
import StreamsTestKit

/// Forwards records and asks for a commit on the value "commit".
private final class CommitOnDemand: Processor {
    let context: ProcessorContext

    init(context: ProcessorContext) { self.context = context }

    func process(_ record: Record) throws {
        if record.value.elementsEqual("commit".utf8) { context.requestCommit() }
        try context.forward(record)
    }
}

@Suite("TaskManager loop")
struct TaskManagerTests {
    private func setUp(commitInterval: Duration) throws -> (StreamThread, InMemoryEngine, ManualWallClock) {
        var topology = Topology()
        topology.addSource("in", topics: "input")
        topology.addProcessor("p", parents: "in") { CommitOnDemand(context: $0) }
        topology.addSink("out", topic: "output", parents: "p")
        let configuration = StreamsConfiguration(applicationId: "loop", commitInterval: commitInterval)
        let engine = InMemoryEngine()
        let clock = ManualWallClock(startMs: 0)
        let logger = StreamsLogging.disabled(label: "test")
        let tasks = try [0, 1].map { (partition: Int32) in
            try StreamTask(
                id: TaskId(partition: partition),
                topology: topology,
                configuration: configuration,
                inputs: [TopicPartition(topic: "input", partition: partition)],
                collector: engine,
                changelogWriter: engine,
                clock: clock,
                logger: logger
            )
        }
        let manager = TaskManager(
            engine: engine, tasks: tasks, configuration: configuration, clock: clock, logger: logger)
        try manager.start()
        return (
            StreamThread(taskManager: manager, configuration: configuration, clock: clock, logger: logger), engine,
            clock
        )
    }

    private func records(_ values: String...) -> [Record] {
        values.map { Record(key: nil, value: Array($0.utf8), timestampMs: 1) }
    }

    @Test func commitsWhenTheIntervalPassesAndAcrossAllTasks() throws {
        let (thread, engine, clock) = try setUp(commitInterval: .seconds(1))
        let manager = thread.taskManager
        engine.enqueue(records("a", "b"), to: TopicPartition(topic: "input", partition: 0))
        engine.enqueue(records("c"), to: TopicPartition(topic: "input", partition: 1))
        #expect(try thread.runOnce().processed == 3)
        #expect(engine.commitCount == 0)
        #expect(engine.committedOutput["output"] == nil)  // not visible before the commit
        clock.advance(by: .milliseconds(999))
        try thread.runOnce()
        #expect(engine.commitCount == 0)
        clock.advance(by: .milliseconds(1))
        try thread.runOnce()
        #expect(engine.commitCount == 1)
        #expect(engine.committedOutput["output"]?.count == 3)
        #expect(engine.committedOffsets[TopicPartition(topic: "input", partition: 0)] == 1)
        #expect(engine.committedOffsets[TopicPartition(topic: "input", partition: 1)] == 0)
        try manager.close()
        #expect(manager.tasks.allSatisfy { $0.state == .closed })
    }

    @Test func requestCommitCommitsAtTheEndOfTheRound() throws {
        let (thread, engine, _) = try setUp(commitInterval: .seconds(3600))
        let manager = thread.taskManager
        engine.enqueue(records("a"), to: TopicPartition(topic: "input", partition: 0))
        try thread.runOnce()
        #expect(engine.commitCount == 0)
        engine.enqueue(records("commit"), to: TopicPartition(topic: "input", partition: 1))
        try thread.runOnce()
        #expect(engine.commitCount == 1)
        #expect(manager.tasks.allSatisfy { !$0.commitRequested })
        try thread.runOnce()
        #expect(engine.commitCount == 1)
    }
}
