// The 10M-operation variants: how each rate changes from a 1M- to a 10M-key store. Minutes per run, so
// `make bench` skips this suite; run it with `make bench-10m` (see docs/benchmarks.md).
import Benchmark
import BenchmarkWorkload

/// Built once per benchmark process, in setup (not at registration, which also runs for `list`).
nonisolated(unsafe) var workload10M: Workload?

let benchmarks: @Sendable () -> Void = {
    let operations = 10_000_000
    let lookups = 1_000_000
    func workload() -> Workload {
        if let workload10M { return workload10M }
        let generated = Workload(count: operations)
        workload10M = generated
        return generated
    }
    let missingKeys = Workload.missingKeys(count: lookups)

    for transactionSize in [1_000, 50_000] {
        Benchmark(
            "put-if-absent 10M txn=\(transactionSize / 1000)k: C LMDB",
            configuration: .bulk(iterations: 2, maxSeconds: 60, warmup: 0, extraMetrics: [.bytesPerLiveKey]),
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
    }

    /// A C LMDB store holding the 10M workload, built outside the measurement.
    func baselineFixture() throws -> (LMDBBaseline, Workload) {
        let workload = workload()
        let baseline = try LMDBBaseline(directory: ScratchDirectory("c-lookup-10m").path)
        try baseline.putIfAbsent(workload, transactionSize: 50_000)
        return (baseline, workload)
    }

    // The last 1M operations' keys and timestamps: hits spread over the whole key space of the store.
    Benchmark(
        "lookup hit 1M in 10M: C LMDB",
        configuration: .bulk(iterations: 3, maxSeconds: 60),
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
        configuration: .bulk(iterations: 3, maxSeconds: 60),
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
}
