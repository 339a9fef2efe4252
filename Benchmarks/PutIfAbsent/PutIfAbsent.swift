// Put-if-absent, the deduplication primitive: LMDBWindowStore against raw C LMDB with the same schema
// and flags, and against in-memory Swift collections. One iteration = 1M operations of the standard
// workload (16-byte keys, ~10 % recent repeats, 8-byte values) into an empty store.
import Benchmark
import BenchmarkWorkload

let benchmarks: @Sendable () -> Void = {
    let operations = 1_000_000
    let workload = Workload(count: operations)

    for transactionSize in [1_000, 50_000] {
        Benchmark(
            "put-if-absent 1M txn=\(transactionSize / 1000)k: C LMDB",
            configuration: .bulk(extraMetrics: [.bytesPerLiveKey])
        ) { benchmark in
            let directory = ScratchDirectory("c-put")
            defer { directory.remove() }
            let baseline = try LMDBBaseline(directory: directory.path)
            let inserted = try benchmark.measureOperations(operations) {
                try baseline.putIfAbsent(workload, transactionSize: transactionSize)
            }
            precondition(inserted == operations - workload.repeatCount, "every repeat is within the window")
            benchmark.measurement(.bytesPerLiveKey, try baseline.bytesUsed() / inserted)
        }
    }

    Benchmark("put-if-absent 1M: Swift Dictionary", configuration: .bulk()) { benchmark in
        _ = benchmark.measureOperations(operations) { workload.dictionaryPutIfAbsentAll() }
    }

    Benchmark("insert 1M: Swift Set", configuration: .bulk()) { benchmark in
        _ = benchmark.measureOperations(operations) { workload.setInsertAll() }
    }
}
