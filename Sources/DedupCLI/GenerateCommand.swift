import ArgumentParser
import DedupApp
import Foundation

extension Dedup {
    /// `dedup generate`: sample producer files with cross-producer duplicates, for the demo and
    /// the benchmarks.
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write sample producer files (JSON Lines) with cross-producer duplicates."
        )

        @Option(name: .customLong("output-dir"), help: "Where to write producer-1.jsonl, producer-2.jsonl, …")
        var outputDirectory: String

        @Option(help: "How many producer files.")
        var producers = 3

        @Option(help: "How many records in all.")
        var records = 30_000

        @Option(
            name: .customLong("duplicate-rate"),
            help: "The share of records that repeat an order another producer sent shortly before.")
        var duplicateRate = 0.1

        @Option(help: "The random seed; the same seed writes the same files.")
        var seed: UInt64 = 1

        func validate() throws {
            if producers < 1 { throw ValidationError("--producers must be at least 1") }
            if records < 0 { throw ValidationError("--records must not be negative") }
            if !(0.0...1.0).contains(duplicateRate) { throw ValidationError("--duplicate-rate must be within 0...1") }
        }

        func run() throws {
            try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
            var generator = SampleGenerator(producers: producers, duplicateRate: duplicateRate, seed: seed)
            let files = try generator.write(records: records, into: outputDirectory)
            print(files.joined(separator: "\n"))
        }
    }
}

/// Writes events `{"order":{"id":…,"customer":…},"ts":…,"producer":…,"amount":…}` (about 90
/// bytes a line), one file per producer, event times increasing about 1 ms per record; a share of
/// records repeats a recent order of another producer a few seconds later.
struct SampleGenerator {
    let producers: Int
    let duplicateRate: Double
    var rng: SplitMix64

    init(producers: Int, duplicateRate: Double, seed: UInt64) {
        self.producers = producers
        self.duplicateRate = duplicateRate
        self.rng = SplitMix64(seed: seed)
    }

    mutating func write(records: Int, into directory: String) throws -> [String] {
        let paths = (1...producers).map { "\(directory)/producer-\($0).jsonl" }
        var buffers = Array(repeating: [UInt8](), count: producers)
        var recent: [(order: UInt64, customer: UInt64, producer: Int)] = []
        var ts: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z
        let threshold = UInt64(duplicateRate * Double(UInt64.max >> 11)) << 11
        for i in 0..<records {
            ts += Int64(rng.next() % 2)
            var producer = Int(rng.next() % UInt64(producers))
            let order: UInt64
            let customer: UInt64
            if !recent.isEmpty && rng.next() < threshold {
                let earlier = recent[Int(rng.next() % UInt64(recent.count))]
                order = earlier.order
                customer = earlier.customer
                if producers > 1 && producer == earlier.producer { producer = (producer + 1) % producers }
            } else {
                order = UInt64(i) &* 2_654_435_761 % 1_000_000_000
                customer = rng.next() % 10_000
                recent.append((order, customer, producer))
                if recent.count > 5_000 { recent.removeFirst(1_000) }
            }
            let cents = rng.next() % 100_000
            let line =
                #"{"order":{"id":"o-\#(pad(order, 9))","customer":"c-\#(pad(customer, 4))"},"ts":\#(ts),"producer":"p\#(producer + 1)","amount":\#(cents / 100).\#(pad(cents % 100, 2))}"#
                + "\n"
            buffers[producer].append(contentsOf: line.utf8)
        }
        for (path, buffer) in zip(paths, buffers) {
            try Data(buffer).write(to: URL(fileURLWithPath: path))
        }
        return paths
    }

    private func pad(_ value: UInt64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}
