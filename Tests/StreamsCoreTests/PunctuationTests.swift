import Testing
import StreamsCore
import StreamsTestKit

/// Schedules one punctuator at init and logs each firing.
private final class Ticker: Processor {
    let context: ProcessorContext
    let log: EventLog
    var handle: Cancellable?

    init(context: ProcessorContext, log: EventLog, type: PunctuationType, cancelAfter: Int?) throws {
        self.context = context
        self.log = log
        var fired = 0
        handle = try context.schedule(every: .seconds(10), type) { [log] time in
            log.append("\(time)")
            try context.forward(Record(key: nil, value: Array("tick \(time)".utf8), timestampMs: time))
            fired += 1
            if let cancelAfter, fired >= cancelAfter { self.handle?.cancel() }
        }
    }

    func process(_ record: Record) throws {}
}

private func tickerTopology(_ log: EventLog, _ type: PunctuationType, cancelAfter: Int? = nil) -> Topology {
    var topology = Topology()
    topology.addSource("in", topics: "input")
    topology.addProcessor("ticker", parents: "in") {
        try Ticker(context: $0, log: log, type: type, cancelAfter: cancelAfter)
    }
    topology.addSink("out", topic: "ticks", parents: "ticker")
    return topology
}

@Suite("Punctuation")
struct PunctuationTests {
    @Test func streamTimeFiresWhenCrossingBoundaries() throws {
        let log = EventLog()
        let driver = try TopologyTestDriver(tickerTopology(log, .streamTime))
        let input = try driver.inputTopic("input")
        try input.pipeInput("a", timestampMs: 3_000)  // anchors: next boundary 10 000, no firing
        #expect(log.all.isEmpty)
        try input.pipeInput("b", timestampMs: 9_999)
        #expect(log.all.isEmpty)
        try input.pipeInput("c", timestampMs: 10_000)  // reaches the boundary
        #expect(log.all == ["10000"])
        try input.pipeInput("d", timestampMs: 5_000)  // out of order: stream time stays 10 000
        try input.pipeInput("e", timestampMs: 19_999)
        #expect(log.all == ["10000"])
        try input.pipeInput("f", timestampMs: 45_000)  // jumps over three boundaries: fires once
        #expect(log.all == ["10000", "45000"])
        try input.pipeInput("g", timestampMs: 49_999)
        try input.pipeInput("h", timestampMs: 50_000)
        #expect(log.all == ["10000", "45000", "50000"])
        #expect(try driver.outputTopic("ticks").readValuesToList() == ["tick 10000", "tick 45000", "tick 50000"])
        #expect(driver.streamTimeMs == 50_000)
    }

    @Test func wallClockFiresAfterEachInterval() throws {
        let log = EventLog()
        let driver = try TopologyTestDriver(tickerTopology(log, .wallClockTime), wallClockStartMs: 1_000)
        try driver.advanceWallClockTime(by: .milliseconds(9_999))
        #expect(log.all.isEmpty)
        try driver.advanceWallClockTime(by: .milliseconds(1))  // 11 000 = start + interval
        #expect(log.all == ["11000"])
        try driver.advanceWallClockTime(by: .seconds(35))  // 46 000: missed 21 000 and 31 000, fires once
        #expect(log.all == ["11000", "46000"])
        try driver.advanceWallClockTime(by: .seconds(4))  // 50 000 < 51 000
        #expect(log.all == ["11000", "46000"])
        try driver.advanceWallClockTime(by: .seconds(1))  // 51 000
        #expect(log.all == ["11000", "46000", "51000"])
        // Records do not drive wall-clock punctuation.
        try driver.inputTopic("input").pipeInput("x", timestampMs: 10_000_000)
        #expect(log.all.count == 3)
    }

    @Test func cancelledPunctuatorStops() throws {
        let log = EventLog()
        let driver = try TopologyTestDriver(tickerTopology(log, .wallClockTime, cancelAfter: 2))
        for _ in 0..<5 { try driver.advanceWallClockTime(by: .seconds(10)) }
        #expect(log.all == ["10000", "20000"])
    }
}
