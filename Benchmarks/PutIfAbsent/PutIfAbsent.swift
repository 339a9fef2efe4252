// Put-if-absent, the deduplication primitive: LMDBWindowStore against raw C LMDB with the same schema
// and flags, and against in-memory Swift collections. One iteration = 1M operations of the standard
// workload (16-byte keys, ~10 % recent repeats, 8-byte values) into an empty store.
import Benchmark
import BenchmarkWorkload
import StreamsState
import StreamsStateLMDB

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

        Benchmark(
            "put-if-absent 1M txn=\(transactionSize / 1000)k: store",
            configuration: .bulk(extraMetrics: [.bytesPerLiveKey])
        ) { benchmark in
            let directory = ScratchDirectory("store-put")
            defer { directory.remove() }
            let store = try WindowParameters.standard.openStore(directory)
            let inserted = try benchmark.measureOperations(operations) {
                try workload.putIfAbsent(into: store, transactionSize: transactionSize)
            }
            precondition(inserted == operations - workload.repeatCount, "every repeat is within the window")
            benchmark.measurement(.bytesPerLiveKey, store.usedBytes / inserted)
        }
    }

    Benchmark(
        "put-if-absent 1M txn=50k: store, default options",
        configuration: .bulk(extraMetrics: [.bytesPerLiveKey])
    ) { benchmark in
        let directory = ScratchDirectory("store-put-defaults")
        defer { directory.remove() }
        let store = try WindowParameters.standard.openStore(directory, .defaults)
        let inserted = try benchmark.measureOperations(operations) {
            try workload.putIfAbsent(into: store, transactionSize: 50_000)
        }
        benchmark.measurement(.bytesPerLiveKey, store.usedBytes / inserted)
    }

    Benchmark("put-if-absent 1M txn=50k: InMemoryWindowStore", configuration: .bulk(iterations: 3)) { benchmark in
        let store = try InMemoryWindowStore(configuration: WindowParameters.standard.storeConfiguration)
        _ = try benchmark.measureOperations(operations) {
            try workload.putIfAbsent(into: store, transactionSize: 50_000)
        }
    }

    Benchmark("put-if-absent 1M: Swift Dictionary", configuration: .bulk()) { benchmark in
        _ = benchmark.measureOperations(operations) { workload.dictionaryPutIfAbsentAll() }
    }

    Benchmark("insert 1M: Swift Set", configuration: .bulk()) { benchmark in
        _ = benchmark.measureOperations(operations) { workload.setInsertAll() }
    }
}
