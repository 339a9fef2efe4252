// Reads against a store built from the standard 1M workload: 1M lookups that hit, 1M that miss (fresh
// random keys) and 1M range fetches. A lookup asks "is there a live entry of this key within the dedup
// window ending at this timestamp" — the search half of put-if-absent.
import Benchmark
import BenchmarkWorkload
import StreamsState
import StreamsStateLMDB

let benchmarks: @Sendable () -> Void = {
    let operations = 1_000_000
    let workload = Workload(count: operations)
    let missingKeys = Workload.missingKeys(count: operations)

    /// A C LMDB store holding the workload, built outside the measurement.
    func baselineFixture() throws -> LMDBBaseline {
        let baseline = try LMDBBaseline(directory: ScratchDirectory("c-lookup").path)
        try baseline.putIfAbsent(workload, transactionSize: 50_000)
        return baseline
    }

    /// An LMDBWindowStore (baseline flags) holding the workload, built outside the measurement.
    func storeFixture() throws -> LMDBWindowStore {
        let store = try WindowParameters.standard.openStore(ScratchDirectory("store-lookup"))
        _ = try workload.putIfAbsent(into: store, transactionSize: 50_000)
        return store
    }

    Benchmark(
        "lookup hit 1M: store",
        configuration: .bulk(),
        closure: { benchmark, store in
            let found = try benchmark.measureOperations(operations) {
                try StoreReads.lookup(store, keys: workload.keys, timestampsMs: workload.timestampsMs)
            }
            precondition(found == operations)
        },
        setup: storeFixture,
        teardown: ScratchDirectory.removeAll
    )

    Benchmark(
        "lookup miss 1M: store",
        configuration: .bulk(),
        closure: { benchmark, store in
            let found = try benchmark.measureOperations(operations) {
                try StoreReads.lookup(store, keys: missingKeys, timestampsMs: workload.timestampsMs)
            }
            precondition(found == 0)
        },
        setup: storeFixture,
        teardown: ScratchDirectory.removeAll
    )

    Benchmark(
        "range fetch 1M: store",
        configuration: .bulk(),
        closure: { benchmark, store in
            let entries = try benchmark.measureOperations(operations) {
                try StoreReads.fetch(store, keys: workload.keys, timestampsMs: workload.timestampsMs)
            }
            precondition(entries == operations)
        },
        setup: storeFixture,
        teardown: ScratchDirectory.removeAll
    )

    Benchmark(
        "lookup hit 1M: C LMDB",
        configuration: .bulk(),
        closure: { benchmark, baseline in
            let found = try benchmark.measureOperations(operations) {
                try baseline.lookup(keys: workload.keys, timestampsMs: workload.timestampsMs)
            }
            precondition(found == operations)
        },
        setup: baselineFixture,
        teardown: ScratchDirectory.removeAll
    )

    Benchmark(
        "lookup miss 1M: C LMDB",
        configuration: .bulk(),
        closure: { benchmark, baseline in
            let found = try benchmark.measureOperations(operations) {
                try baseline.lookup(keys: missingKeys, timestampsMs: workload.timestampsMs)
            }
            precondition(found == 0)
        },
        setup: baselineFixture,
        teardown: ScratchDirectory.removeAll
    )

    Benchmark(
        "range fetch 1M: C LMDB",
        configuration: .bulk(),
        closure: { benchmark, baseline in
            let entries = try benchmark.measureOperations(operations) {
                try baseline.fetch(keys: workload.keys, timestampsMs: workload.timestampsMs)
            }
            precondition(entries == operations)
        },
        setup: baselineFixture,
        teardown: ScratchDirectory.removeAll
    )
}
