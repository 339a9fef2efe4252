import Testing
import StreamsCore
import StreamsTestKit

/// A processor whose setting must fit the graph: it forwards to the child it is told to.
private final class Sender: Processor {
    let context: ProcessorContext
    let target: String
    init(context: ProcessorContext, target: String) {
        self.context = context
        self.target = target
    }
    func process(_ record: Record) throws { try context.forward(record, to: target) }
}

/// A topology with a `Sender` whose target and batch size are checked with `addValidation`.
private func senderTopology(target: String, batchSize: Int, extraMistake: Bool = false) -> Topology {
    var topology = Topology()
    topology.addSource("in", topics: "input")
    topology.addProcessor("sender", parents: "in") { Sender(context: $0, target: target) }
    topology.addSink("out", topic: "output", parents: "sender")
    if extraMistake { topology.addSink("orphan", topic: "orphan", parents: "nowhere") }
    topology.addValidation(ofNode: "sender") { node in
        var problems: [StreamsError] = []
        if !node.successors.contains(target) {
            problems.append(StreamsError(.invalidTopology, "sender has no child '\(target)'", node: node.name))
        }
        if batchSize < 1 {
            problems.append(
                StreamsError(.invalidConfiguration, "sender batch size must be positive, got \(batchSize)"))
        }
        return problems
    }
    return topology
}

// Item 12 (static half): what a processor forwards to can be checked when the topology is
// validated, before any record, with a check of the node's children.
@Suite("Node validation")
struct NodeValidationTests {
    @Test func aWrongTargetFailsValidationNotARecord() throws {
        let error = try #require(throws: StreamsError.self) {
            try senderTopology(target: "typo", batchSize: 1).validate()
        }
        #expect(error.code == .invalidTopology)
        #expect(error.message == "the topology is invalid: sender has no child 'typo'")
        #expect(throws: StreamsError.self) { _ = try TopologyTestDriver(senderTopology(target: "typo", batchSize: 1)) }
        try senderTopology(target: "out", batchSize: 1).validate()
    }

    @Test func settingsOnlyAreInvalidConfigurationNamingTheNode() throws {
        let error = try #require(throws: StreamsError.self) {
            try senderTopology(target: "out", batchSize: 0).validate()
        }
        #expect(error.code == .invalidConfiguration)
        #expect(error.node == "sender")
        #expect(error.message == "sender batch size must be positive, got 0")
    }

    @Test func everyProblemIsListedOnce() throws {
        let error = try #require(throws: StreamsError.self) {
            try senderTopology(target: "typo", batchSize: 0, extraMistake: true).validate()
        }
        #expect(error.code == .invalidTopology)
        #expect(error.message.contains("unknown parent 'nowhere'"))
        #expect(error.message.contains("sender has no child 'typo'"))
        #expect(error.message.contains("batch size must be positive"))
    }

    @Test func aCheckOfAnUnknownNodeIsAProblem() throws {
        var topology = senderTopology(target: "out", batchSize: 1)
        topology.addValidation(ofNode: "sendr") { _ in [] }
        let error = try #require(throws: StreamsError.self) { try topology.validate() }
        #expect(error.message.contains("a validation is added for node 'sendr', which is not in the topology"))
    }
}
