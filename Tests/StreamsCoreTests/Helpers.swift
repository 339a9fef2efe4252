import Synchronization
import StreamsCore
import StreamsState
import StreamsTestKit

/// What test processors did, in order, shared with the test (processors are made inside tasks).
final class EventLog: Sendable {
    private let events = Mutex<[String]>([])

    func append(_ event: String) { events.withLock { $0.append(event) } }
    var all: [String] { events.withLock { $0 } }
    func count(of event: String) -> Int { all.filter { $0 == event }.count }
}

/// Forwards every record, logging its lifecycle; fails on values listed in `failOn`.
final class PassThrough: Processor {
    let context: ProcessorContext
    let log: EventLog
    let failOn: [String: StreamsError.Code]

    init(context: ProcessorContext, log: EventLog, failOn: [String: StreamsError.Code] = [:]) {
        self.context = context
        self.log = log
        self.failOn = failOn
        log.append("init \(context.nodeName)")
    }

    func process(_ record: Record) throws {
        let value = String(decoding: record.value, as: UTF8.self)
        log.append("process \(context.nodeName) \(value)")
        if let code = failOn[value] {
            if code == .processing { throw TestFailure(value: value) }
            throw StreamsError(code, "bad value \(value)")
        }
        try context.forward(record)
    }

    func prepareCommit() throws { log.append("prepareCommit \(context.nodeName)") }
    func postCommit() { log.append("postCommit \(context.nodeName)") }
    func close() { log.append("close \(context.nodeName)") }
}

struct TestFailure: Error {
    var value: String
}

/// A source → pass-through → sink topology.
func passThroughTopology(log: EventLog, failOn: [String: StreamsError.Code] = [:]) -> Topology {
    var topology = Topology()
    topology.addSource("in", topics: "input")
    topology.addProcessor("pass", parents: "in") { PassThrough(context: $0, log: log, failOn: failOn) }
    topology.addSink("out", topic: "output", parents: "pass")
    return topology
}

/// A fresh temporary directory, removed by the caller with `removeDirectory`.
func makeTemporaryDirectory() -> String {
    var template = Array("/tmp/streams-core-test-XXXXXX".utf8CString)
    let path = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    precondition(path != nil, "mkdtemp failed")
    return String(cString: path!)
}

func removeDirectory(_ path: String) {
    _ = path.withCString { system("rm -rf '\(String(cString: $0))'") }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
