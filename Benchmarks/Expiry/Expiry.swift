// Expiring a segment of 1M entries: dropping its LMDB database at once against deleting its entries
// one by one (what a store without segments must do). Each iteration builds a fresh 1M-entry segment
// (every operation of the standard workload, repeats included, as plain puts) outside the measurement.
import Benchmark
import BenchmarkWorkload

let benchmarks: @Sendable () -> Void = {
    let entries = 1_000_000
    let workload = Workload(count: entries)
    let parameters = WindowParameters.standard
    let segmentId = Workload.startMs / parameters.segmentIntervalMs

    /// A C LMDB store whose segment `segmentId` holds exactly `entries` entries.
    func segmentFixture(_ directory: ScratchDirectory) throws -> LMDBBaseline {
        let baseline = try LMDBBaseline(directory: directory.path)
        try baseline.put(workload, transactionSize: 50_000)
        let stored = try baseline.entryCount()
        precondition(stored == entries, "fixture holds \(stored) entries")
        return baseline
    }

    Benchmark("expire 1M-entry segment by drop: C LMDB", configuration: .bulk()) { benchmark in
        let directory = ScratchDirectory("c-drop")
        defer { directory.remove() }
        let baseline = try segmentFixture(directory)
        try benchmark.measureOperations(entries) { try baseline.dropSegment(segmentId) }
        let left = try baseline.entryCount()
        precondition(left == 0, "\(left) entries left after the drop")
    }

    Benchmark("expire 1M-entry segment by deletes, txn=50k: C LMDB", configuration: .bulk()) { benchmark in
        let directory = ScratchDirectory("c-delete")
        defer { directory.remove() }
        let baseline = try segmentFixture(directory)
        let deleted = try benchmark.measureOperations(entries) {
            try baseline.deleteEach(workload, transactionSize: 50_000)
        }
        precondition(deleted == entries)
    }
}
