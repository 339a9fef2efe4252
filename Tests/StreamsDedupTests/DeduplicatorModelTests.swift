import Testing
import StreamsCore
import StreamsDedup
import StreamsTestKit
import StreamsState
import StreamsTestSupport

/// The contract, written as directly as possible: every emitted `(k, t0)` is kept forever, and a
/// record is a duplicate iff some emitted entry of its key has `|t − t0| < W` and `t0 + W > S − G`
/// with `S` the stream time before the record (−∞ at first).
struct DeduplicationModel {
    let window: Int64
    let grace: Int64
    var streamTime: Int64? = nil
    var emitted: [(key: String, time: Int64)] = []

    mutating func isDuplicate(key: String, time t: Int64) -> Bool {
        let duplicate = emitted.contains { entry in
            guard entry.key == key, abs(t - entry.time) < window else { return false }
            guard let s = streamTime else { return true }
            return entry.time + window > s - grace
        }
        if !duplicate { emitted.append((key, t)) }
        streamTime = max(streamTime ?? t, t)
        return duplicate
    }
}

/// One generated input record.
private struct Generated {
    var input: Int
    var logicalKey: String
    var json: String
    var time: Int64
}

@Suite("Deduplicator against the model")
struct DeduplicatorModelTests {
    static let topics = ["orders-a", "orders-b", "orders-c"]

    static func topology(_ configuration: DeduplicatorConfiguration, store: WindowStoreFactory) -> Topology {
        var configuration = configuration
        configuration.duplicatesChild = "duplicates"
        var topology = Topology()
        topology.addSource("orders", topics: topics)
        topology.addDeduplicator("dedup", parents: "orders", configuration: configuration, store: store)
        topology.addSink("unique", topic: "unique", parents: "dedup")
        topology.addSink("duplicates", topic: "duplicates", parents: "dedup")
        return topology
    }

    /// Equal keys written differently: numbers by value, strings by characters.
    private static func spell(_ key: Int, _ rng: inout SplitMix64) -> (logical: String, json: String) {
        if key % 2 == 0 {
            let n = key / 2
            let forms = ["\(n)", "\(n).0", "\(n)e0", "\(n * 10)e-1", "\(n).000"]
            return ("n\(n)", forms[Int(rng.next() % UInt64(forms.count))])
        } else {
            let s = "k\(key)"
            let forms = ["\"\(s)\"", "\"\\u006b\(key)\""]
            return ("s\(s)", forms[Int(rng.next() % UInt64(forms.count))])
        }
    }

    @Test(arguments: StoreKind.allCases, 0..<24)
    func randomStreamsMatchTheModel(store: StoreKind, seed: Int) throws {
        var rng = SplitMix64(seed: UInt64(seed) &* 7919 &+ 17)
        let window = Int64(rng.next() % 60) + 1
        let grace = rng.next() % 3 == 0 ? 0 : Int64(rng.next() % 40)
        let keyCount = Int(rng.next() % 10) + 2
        let directory = SelfRemovingDirectory()
        let configuration = StreamsConfiguration(applicationId: "model", stateDirectory: directory.path)
        let dedup = DeduplicatorConfiguration(
            key: .jsonField("order.id"),
            window: .milliseconds(window),
            grace: .milliseconds(grace)
        )
        let topology = Self.topology(dedup, store: store.factory)
        let engine = InMemoryEngine()
        var driver = try TopologyTestDriver(topology, configuration: configuration, engine: engine)
        var model = DeduplicationModel(window: window, grace: grace)
        var expectedUnique: [String] = []
        var expectedDuplicates: [String] = []
        var base: Int64 = Int64(rng.next() % 100)
        var serial = 0

        for _ in 0..<Int(rng.next() % 12) + 4 {
            // One batch: records for several inputs, times jittered around a moving base.
            var queues: [[Generated]] = [[], [], []]
            for _ in 0..<Int(rng.next() % 40) + 1 {
                let input = Int(rng.next() % 3)
                let jitter = Int64(rng.next() % UInt64(2 * window + 20)) - window - 10
                base += Int64(rng.next() % 4)
                if rng.next() % 25 == 0 { base += 3 * window }  // keys repeat after the window
                let (logical, json) = Self.spell(Int(rng.next() % UInt64(keyCount)), &rng)
                serial += 1
                queues[input].append(
                    Generated(
                        input: input,
                        logicalKey: logical,
                        json: #"{"order":{"id":\#(json),"serial":\#(serial)}}"#,
                        time: base + jitter
                    )
                )
            }
            try driver.batch {
                for (i, queue) in queues.enumerated() {
                    try driver.inputTopic(Self.topics[i]).pipeRecords(
                        queue.map { TestRecord(key: nil, value: $0.json, timestampMs: $0.time) }
                    )
                }
            }
            // The model's processing order: smallest head timestamp, ties to the lower input index.
            var heads = [0, 0, 0]
            while true {
                var best: Int?
                for i in 0..<3 where heads[i] < queues[i].count {
                    if best == nil || queues[i][heads[i]].time < queues[best!][heads[best!]].time { best = i }
                }
                guard let i = best else { break }
                let record = queues[i][heads[i]]
                heads[i] += 1
                if model.isDuplicate(key: record.logicalKey, time: record.time) {
                    expectedDuplicates.append(record.json)
                } else {
                    expectedUnique.append(record.json)
                }
            }
            if rng.next() % 4 == 0 {
                // Restart: the store is reopened (LMDB) or rebuilt from the changelog (in memory).
                try driver.close()
                driver = try TopologyTestDriver(topology, configuration: configuration, engine: engine)
            }
        }
        let unique = try driver.outputTopic("unique").readValuesToList()
        let duplicates = try driver.outputTopic("duplicates").readValuesToList()
        #expect(unique == expectedUnique, "W=\(window) G=\(grace) seed=\(seed)")
        #expect(duplicates == expectedDuplicates, "W=\(window) G=\(grace) seed=\(seed)")
        #expect(!expectedUnique.isEmpty)
        try driver.close()
    }

    /// The stream time must survive a restart even when a duplicate moved it (the duplicate stores
    /// nothing): without the marker, the restored store would match an entry that had expired.
    @Test(arguments: StoreKind.allCases)
    func streamTimeMovedByADuplicateSurvivesRestore(store: StoreKind) throws {
        let directory = SelfRemovingDirectory()
        let configuration = StreamsConfiguration(applicationId: "marker", stateDirectory: directory.path)
        let dedup = DeduplicatorConfiguration(key: .jsonField("id"), window: .milliseconds(10))
        let topology = Self.topology(dedup, store: store.factory)
        let engine = InMemoryEngine()
        do {
            let driver = try TopologyTestDriver(topology, configuration: configuration, engine: engine)
            let input = try driver.inputTopic("orders-a")
            try input.pipeInput(#"{"id":"x"}"#, timestampMs: -1)  // emitted, stored at -1
            try input.pipeInput(#"{"id":"k"}"#, timestampMs: 0)  // emitted, stored at 0
            try input.pipeInput(#"{"id":"k"}"#, timestampMs: 9)  // duplicate; S = 9, and x@-1 expires (-1 + 10 <= 9)
            try driver.close()
        }
        // Rebuild from scratch: delete LMDB files so the store restores from the whole changelog.
        _ = SelfRemovingDirectory.remove("\(directory.path)/marker")
        let driver = try TopologyTestDriver(topology, configuration: configuration, engine: engine)
        #expect(driver.windowStore(named: "dedup-store")?.streamTimeMs == 9)
        try driver.inputTopic("orders-a").pipeInput(#"{"id":"x"}"#, timestampMs: 5)
        #expect(try driver.outputTopic("unique").readValuesToList().last == #"{"id":"x"}"#)
        try driver.close()
    }
}

extension SelfRemovingDirectory {
    static func remove(_ path: String) -> Int32 { system("rm -rf '\(path)'") }
}

#if canImport(Glibc)
    import Glibc
#endif
