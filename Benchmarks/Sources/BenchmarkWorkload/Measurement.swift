public import Benchmark

extension BenchmarkMetric {
    /// Operations (or entries) per second of one iteration; the figure the targets are stated in.
    ///
    /// package-benchmark's own `.throughput` counts iterations per second as an integer, which is 0
    /// for iterations that run longer than half a second, as ours do (one iteration = 1M operations).
    public static let operationsPerSecond = BenchmarkMetric.custom(
        "ops/s", polarity: .prefersLarger, useScalingFactor: false)
    /// LMDB bytes in use divided by the number of live entries.
    public static let bytesPerLiveKey = BenchmarkMetric.custom(
        "bytes/live key", polarity: .prefersSmaller, useScalingFactor: false)
}

extension Benchmark.Configuration {
    /// The configuration of a bulk benchmark: one iteration runs a whole workload (1M operations), so a
    /// few iterations are enough for a median and keep a suite to about a minute.
    public static func bulk(
        iterations: Int = 5,
        maxSeconds: Int = 30,
        warmup: Int = 1,
        extraMetrics: [BenchmarkMetric] = []
    ) -> Self {
        .init(
            metrics: [.wallClock, .operationsPerSecond] + extraMetrics,
            timeUnits: .milliseconds,
            warmupIterations: warmup,
            scalingFactor: .one,
            maxDuration: .seconds(maxSeconds),
            maxIterations: iterations
        )
    }
}

extension Benchmark {
    /// Measures `body`, which performs `operations` operations, and records ``BenchmarkMetric/operationsPerSecond``.
    ///
    /// Work before and after `body` (fixtures, clean-up) is outside the measured interval.
    public func measureOperations<R>(_ operations: Int, _ body: () throws -> R) rethrows -> R {
        let clock = ContinuousClock()
        startMeasurement()
        let start = clock.now
        let result = try body()
        let elapsed = clock.now - start
        stopMeasurement()
        Benchmark.blackHole(result)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        if seconds > 0 { measurement(.operationsPerSecond, Int(Double(operations) / seconds)) }
        return result
    }
}
