import Testing
@testable import StreamsCore
import StreamsState
import StreamsTestKit

@Suite("Task lifecycle and commit")
struct LifecycleTests {
    @Test func cleanRunCallsHooksInOrder() throws {
        let log = EventLog()
        let driver = try TopologyTestDriver(passThroughTopology(log: log))
        #expect(driver.task.state == .running)
        try driver.inputTopic("input").pipeInput("v", timestampMs: 1)
        try driver.close()
        #expect(driver.task.state == .closed)
        #expect(
            log.all == [
                "init pass", "process pass v", "prepareCommit pass", "postCommit pass",  // the pipe's commit
                "prepareCommit pass", "postCommit pass", "close pass",  // close commits, then closes
            ]
        )
    }

    @Test func closeIsCalledOnFailure() throws {
        let log = EventLog()
        let driver = try TopologyTestDriver(passThroughTopology(log: log, failOn: ["boom": .processing]))
        let input = try driver.inputTopic("input")
        try input.pipeInput("ok", timestampMs: 1)
        #expect(throws: StreamsError.self) { try input.pipeInput("boom", timestampMs: 2) }
        #expect(log.count(of: "close pass") == 1)
        #expect(driver.task.state == .closed)
        try driver.close()  // harmless after a failure
        #expect(log.count(of: "close pass") == 1)
    }

    @Test func closeIsCalledWhenALaterFactoryFails() throws {
        let log = EventLog()
        var topology = Topology()
        topology.addSource("in", topics: "input")
        topology.addProcessor("first", parents: "in") { PassThrough(context: $0, log: log) }
        topology.addProcessor("second", parents: "first") { _ in throw TestFailure(value: "factory") }
        topology.addSink("out", topic: "output", parents: "second")
        let error = try #require(throws: StreamsError.self) { _ = try TopologyTestDriver(topology) }
        #expect(error.node == "second")
        #expect(log.all == ["init first", "close first"])
    }

    @Test func outputIsVisibleOnlyAfterCommitAndFailedCommitShowsNothing() throws {
        let log = EventLog()
        let driver = try TopologyTestDriver(passThroughTopology(log: log))
        let output = try driver.outputTopic("output")
        try driver.inputTopic("input").pipeInput("first", timestampMs: 1)
        #expect(output.readValuesToList() == ["first"])
        driver.engine.failNextCommit = true
        let error = try #require(throws: StreamsError.self) {
            try driver.inputTopic("input").pipeInput("second", timestampMs: 2)
        }
        #expect(error.code == .engine)
        #expect(output.readValuesToList().isEmpty)
        #expect(driver.engine.committedOffsets[TopicPartition(topic: "input")] == 0)
        #expect(log.count(of: "close pass") == 1)
        #expect(log.count(of: "postCommit pass") == 1)
    }

    @Test func illegalTransitionsAreRejectedByTheStateMachine() {
        // Exhaustive check of the table (the traps themselves cannot be caught in-process).
        let states: [StreamTask.State] = [.created, .restoring, .running, .suspended, .closed]
        let allowed: Set<String> = [
            "CREATED->RESTORING", "CREATED->SUSPENDED", "CREATED->CLOSED", "RESTORING->RUNNING", "RESTORING->SUSPENDED",
            "RUNNING->SUSPENDED", "SUSPENDED->RESTORING", "SUSPENDED->CLOSED",
        ]
        for from in states {
            for to in states {
                #expect(from.canTransition(to: to) == allowed.contains("\(from)->\(to)"), "\(from) -> \(to)")
            }
        }
    }
}
