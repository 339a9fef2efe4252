// Restoring a store from its changelog: entries/s of rebuilding 1M entries. The C baseline is plain
// mdb_put of the same entries (no lookup), the floor for any restore.
import Benchmark
import BenchmarkWorkload

let benchmarks: @Sendable () -> Void = {
    let operations = 1_000_000
    let workload = Workload(count: operations)

    Benchmark("restore 1M (plain put, txn=50k): C LMDB", configuration: .bulk()) { benchmark in
        let directory = ScratchDirectory("c-restore")
        defer { directory.remove() }
        let baseline = try LMDBBaseline(directory: directory.path)
        try benchmark.measureOperations(operations) { try baseline.put(workload, transactionSize: 50_000) }
    }
}
