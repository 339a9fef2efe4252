// Restoring a store from its changelog: entries/s of rebuilding the store that the standard 1M
// put-if-absent workload produces (~900k entries), committing every 50k entries. The C baseline is
// plain mdb_put of the same operations (no lookup), the floor for any restore; the target compares
// the store's restore with the store's own put-if-absent (PutIfAbsent suite, txn=50k).
import Benchmark
import BenchmarkWorkload
import StreamsState
import StreamsStateLMDB

let benchmarks: @Sendable () -> Void = {
    let operations = 1_000_000
    let transactionSize = 50_000

    Benchmark(
        "restore 1M-op changelog, txn=50k: store",
        configuration: .bulk(),
        closure: { benchmark, batches in
            let directory = ScratchDirectory("store-restore")
            defer { directory.remove() }
            let store = try WindowParameters.standard.openStore(directory)
            let entries = batches.reduce(0) { $0 + $1.count }
            try benchmark.measureOperations(entries) {
                for batch in batches {
                    try store.restore(from: batch)
                    try store.commit(metadata: [:])
                }
            }
            let restored = try store.approximateEntryCount
            precondition(restored == entries)
        },
        setup: { Workload(count: operations).changelog().batches(of: transactionSize) }
    )

    Benchmark(
        "restore 1M ops (plain put), txn=50k: C LMDB",
        configuration: .bulk(),
        closure: { benchmark, workload in
            let directory = ScratchDirectory("c-restore")
            defer { directory.remove() }
            let baseline = try LMDBBaseline(directory: directory.path)
            try benchmark.measureOperations(operations) { try baseline.put(workload, transactionSize: transactionSize) }
        },
        setup: { Workload(count: operations) }
    )
}
