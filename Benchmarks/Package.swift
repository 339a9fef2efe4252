// swift-tools-version: 6.1
//
// swift-dedup benchmarks: an opt-in package, so that `swift build` and `swift test` at the root never
// resolve package-benchmark. Run from this directory with `swift package benchmark` (see
// ../docs/benchmarks.md, or `make bench` at the root).
//
// package-benchmark's plugin runs every executable target whose folder sits directly in a folder
// named `Benchmarks`: here that is this package's root, so each suite lives in `<Suite>/<Suite>.swift`.
// Support code (the C LMDB baseline, the workload generator, the report tool) lives under `Sources/`
// so the plugin does not take it for a suite.
//
// package-benchmark 1.38.1 enables two default traits. "RuntimeInterposer" pulls in
// ordo-one/swift-runtime-interposer on Linux with Swift 6.3, which our package mirror does not carry
// (it only counts retains/releases, which these suites do not measure); "MallocInterposer"
// LD_PRELOADs an allocator shim that adds a header to every allocation, perturbing exactly what we
// compare (Swift vs C). Both are off by default; `BENCH_MALLOC_METRICS=1` turns the malloc one back on
// for allocation counts (then add `--metric mallocCountTotal`).
import PackageDescription

import class Foundation.ProcessInfo

let mallocMetrics = ProcessInfo.processInfo.environment["BENCH_MALLOC_METRICS"] != nil
let benchmarkTraits: Set<Package.Dependency.Trait> = mallocMetrics ? ["MallocInterposer"] : []

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("ExistentialAny"),
]

/// One package-benchmark suite: an executable target in `<name>/` with the benchmark plugin.
func suite(_ name: String, dependencies: [Target.Dependency] = []) -> Target {
    .executableTarget(
        name: name,
        dependencies: [
            .product(name: "Benchmark", package: "package-benchmark"),
            .product(name: "StreamsState", package: "swift-dedup"),
            .product(name: "StreamsStateLMDB", package: "swift-dedup"),
            "BenchmarkWorkload",
            "CLMDBBaseline",
        ] + dependencies,
        path: name,
        swiftSettings: swiftSettings,
        plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
    )
}

let package = Package(
    name: "swift-dedup-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-dedup", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark.git", exact: "1.38.1", traits: benchmarkTraits),
    ],
    targets: [
        // liblmdb through pkg-config, for the C baseline only.
        .systemLibrary(
            name: "CLMDBSystem",
            path: "Sources/CLMDBSystem",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        // The same workload as the store, written directly against liblmdb.
        .target(
            name: "CLMDBBaseline",
            dependencies: ["CLMDBSystem"],
            path: "Sources/CLMDBBaseline"
        ),
        // Deterministic workloads and measurement helpers shared by every suite.
        .target(
            name: "BenchmarkWorkload",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "StreamsState", package: "swift-dedup"),
                .product(name: "StreamsStateLMDB", package: "swift-dedup"),
            .product(name: "StreamsStateLMDB", package: "swift-dedup"),
                .product(name: "StreamsLMDB", package: "swift-dedup"),
                "CLMDBBaseline",
            ],
            path: "Sources/BenchmarkWorkload",
            swiftSettings: swiftSettings
        ),
        // Markdown table of medians and target ratios from a saved baseline (not a suite).
        .executableTarget(
            name: "BenchmarkReport",
            dependencies: [.product(name: "Benchmark", package: "package-benchmark")],
            path: "Sources/BenchmarkReport",
            swiftSettings: swiftSettings
        ),
        suite("PutIfAbsent"),
        suite("Lookups"),
        suite("Expiry"),
        suite("Restore"),
        suite("Scale10M"),
    ]
)
