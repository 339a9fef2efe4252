// The 10M-operation variants: how each rate changes from a 1M- to a 10M-key store. Several minutes
// per run, so `make bench` skips this suite; `make bench-10m` runs it (see docs/benchmarks.md).
// Names mirror the 1M suites with "10M" so the report can pair them.
import Benchmark
import BenchmarkWorkload
import StreamsState
import StreamsStateLMDB

/// The 10M workload, generated once per benchmark process in setup (registration also runs for
/// `list`, which should stay fast).
nonisolated(unsafe) var cachedWorkload: Workload?

let benchmarks: @Sendable () -> Void = {
    let operations = 10_000_000
    let lookups = 1_000_000
    func workload() -> Workload {
        if let cachedWorkload { return cachedWorkload }
        let generated = Workload(count: operations)
        cachedWorkload = generated
        return generated
    }
    let missingKeys = Workload.missingKeys(count: lookups)
    let long = Benchmark.Configuration.bulk(iterations: 3, maxSeconds: 120, warmup: 0, extraMetrics: [.bytesPerLiveKey])

    for transactionSize in [1_000, 50_000] {
        Benchmark(
            "put-if-absent 10M txn=\(transactionSize / 1000)k: C LMDB",
            configuration: long,
            closure: { benchmark, workload in
                let directory = ScratchDirectory("c-put-10m")
                defer { directory.remove() }
                let baseline = try LMDBBaseline(directory: directory.path)
                let inserted = try benchmark.measureOperations(operations) {
                    try baseline.putIfAbsent(workload, transactionSize: transactionSize)
                }
                benchmark.measurement(.bytesPerLiveKey, try baseline.bytesUsed() / inserted)
            },
            setup: workload
        )

        Benchmark(
            "put-if-absent 10M txn=\(transactionSize / 1000)k: store",
            configuration: long,
            closure: { benchmark, workload in
                let directory = ScratchDirectory("store-put-10m")
                defer { directory.remove() }
                let store = try WindowParameters.standard.openStore(directory)
                let inserted = try benchmark.measureOperations(operations) {
                    try workload.putIfAbsent(into: store, transactionSize: transactionSize)
                }
                benchmark.measurement(.bytesPerLiveKey, store.usedBytes / inserted)
            },
            setup: workload
        )
    }

    // Lookups of the last 1M operations' keys (hits) and of 1M fresh keys (misses) in a 10M store.
    let lookupConfiguration = Benchmark.Configuration.bulk(iterations: 3, maxSeconds: 60)

    func baselineFixture() throws -> (LMDBBaseline, Workload) {
        let workload = workload()
        let baseline = try LMDBBaseline(directory: ScratchDirectory("c-lookup-10m").path)
        try baseline.putIfAbsent(workload, transactionSize: 50_000)
        return (baseline, workload)
    }

    func storeFixture() throws -> (LMDBWindowStore, Workload) {
        let workload = workload()
        let store = try WindowParameters.standard.openStore(ScratchDirectory("store-lookup-10m"))
        _ = try workload.putIfAbsent(into: store, transactionSize: 50_000)
        return (store, workload)
    }

    Benchmark(
        "lookup hit 1M in 10M: C LMDB",
        configuration: lookupConfiguration,
        closure: { benchmark, fixture in
            let (baseline, workload) = fixture
            let keys = Array(workload.keys.suffix(lookups * Workload.keyLength))
            let timestamps = Array(workload.timestampsMs.suffix(lookups))
            let found = try benchmark.measureOperations(lookups) {
                try baseline.lookup(keys: keys, timestampsMs: timestamps)
            }
            precondition(found == lookups)
        },
        setup: baselineFixture,
        teardown: ScratchDirectory.removeAll
    )

    Benchmark(
        "lookup miss 1M in 10M: C LMDB",
        configuration: lookupConfiguration,
        closure: { benchmark, fixture in
            let (baseline, workload) = fixture
            let timestamps = Array(workload.timestampsMs.suffix(lookups))
            let found = try benchmark.measureOperations(lookups) {
                try baseline.lookup(keys: missingKeys, timestampsMs: timestamps)
            }
            precondition(found == 0)
        },
        setup: baselineFixture,
        teardown: ScratchDirectory.removeAll
    )

    Benchmark(
        "lookup hit 1M in 10M: store",
        configuration: lookupConfiguration,
        closure: { benchmark, fixture in
            let (store, workload) = fixture
            let keys = Array(workload.keys.suffix(lookups * Workload.keyLength))
            let timestamps = Array(workload.timestampsMs.suffix(lookups))
            let found = try benchmark.measureOperations(lookups) {
                try StoreReads.lookup(store, keys: keys, timestampsMs: timestamps)
            }
            precondition(found == lookups)
        },
        setup: storeFixture,
        teardown: ScratchDirectory.removeAll
    )

    Benchmark(
        "lookup miss 1M in 10M: store",
        configuration: lookupConfiguration,
        closure: { benchmark, fixture in
            let (store, workload) = fixture
            let timestamps = Array(workload.timestampsMs.suffix(lookups))
            let found = try benchmark.measureOperations(lookups) {
                try StoreReads.lookup(store, keys: missingKeys, timestampsMs: timestamps)
            }
            precondition(found == 0)
        },
        setup: storeFixture,
        teardown: ScratchDirectory.removeAll
    )

    Benchmark(
        "restore 10M-op changelog, txn=50k: store",
        configuration: long,
        closure: { benchmark, batches in
            let directory = ScratchDirectory("store-restore-10m")
            defer { directory.remove() }
            let store = try WindowParameters.standard.openStore(directory)
            let entries = batches.reduce(0) { $0 + $1.count }
            try benchmark.measureOperations(entries) {
                for batch in batches {
                    try store.restore(from: batch)
                    try store.commit(metadata: [:])
                }
            }
            benchmark.measurement(.bytesPerLiveKey, store.usedBytes / entries)
        },
        setup: { workload().changelog().batches(of: 50_000) }
    )
}
