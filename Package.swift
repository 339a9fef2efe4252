// swift-tools-version: 6.1
//
// swift-dedup: stateful deduplication of event streams, on an LMDB windowed state store.
//
// Module layout (see ../shared/STYLE.md); dependencies point one way:
//   C wrappers -> stores -> runtime -> processors -> engines -> apps
// - CStreamsLMDB / StreamsLMDB: the only place liblmdb is called from.
// - CStreamsRdKafka / StreamsKafka: the only place librdkafka is called from (consumer, transactional
//   producer, admin client, KafkaError); the Kafka engine builds on it.
// - StreamsState: stores without C: StateStore/WindowStore, changelog types, the in-memory store,
//   store factories. StreamsStateLMDB: LMDBWindowStore on StreamsState and StreamsLMDB.
// - StreamsJSON: allocation-free field extraction from JSON Lines records.
// - StreamsCore: the runtime (Record, Topology with its sources' key and time extractors, Processor,
//   StreamTask, StreamThread, engine seams); depends on StreamsState and StreamsJSON, never on a
//   concrete store (scripts/check-layering.sh, run by `make test`,
//   builds it, StreamsDedup, StreamsTestKit and StreamsKafka with lmdb.h made to fail).
// - StreamsDedup: the Deduplicator processor.
// - StreamsTestKit: TopologyTestDriver for users' unit tests.
// - StreamsEmbedded: the embedded JSON Lines engine (no processor, no app); DedupApp: the dedup job,
//   its settings, inspect and verify, and the Kafka job on StreamsKafka; DedupCLI: the `dedup` executable;
//   CStreamsSystem declares the Linux file calls Glibc leaves out, for StreamsEmbedded's Descriptor.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "swift-dedup",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "StreamsLMDB", targets: ["StreamsLMDB"]),
        .library(name: "StreamsState", targets: ["StreamsState"]),
        .library(name: "StreamsStateLMDB", targets: ["StreamsStateLMDB"]),
        .library(name: "StreamsJSON", targets: ["StreamsJSON"]),
        .library(name: "StreamsCore", targets: ["StreamsCore"]),
        .library(name: "StreamsDedup", targets: ["StreamsDedup"]),
        .library(name: "StreamsTestKit", targets: ["StreamsTestKit"]),
        .library(name: "StreamsEmbedded", targets: ["StreamsEmbedded"]),
        .library(name: "StreamsKafka", targets: ["StreamsKafka"]),
        .library(name: "DedupApp", targets: ["DedupApp"]),
        .executable(name: "dedup", targets: ["DedupCLI"]),
        .executable(name: "file-orders-example", targets: ["FileOrdersExample"]),
        .executable(name: "kafka-console", targets: ["KafkaConsole"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
    ],
    targets: [
        // Linux calls the Glibc module leaves out (sync_file_range); header only, no library.
        .systemLibrary(name: "CStreamsSystem"),
        .systemLibrary(
            name: "CStreamsLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        .target(
            name: "StreamsLMDB",
            dependencies: ["CStreamsLMDB"],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CStreamsRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        // The librdkafka binding (consumer, transactional producer, admin client, KafkaError) and
        // the Kafka engine on the runtime's seam (KafkaEngine, KafkaStreams). The only target that
        // imports CStreamsRdKafka.
        .target(
            name: "StreamsKafka",
            dependencies: [
                "CStreamsRdKafka",
                "StreamsCore",
                "StreamsState",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The state layer without C: protocols, the in-memory store, changelog types, factories.
        .target(
            name: "StreamsState",
            swiftSettings: swiftSettings
        ),
        // The LMDB window store, on StreamsState and the LMDB binding.
        .target(
            name: "StreamsStateLMDB",
            dependencies: ["StreamsState", "StreamsLMDB"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StreamsJSON",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StreamsCore",
            dependencies: [
                "StreamsState",
                "StreamsJSON",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StreamsDedup",
            dependencies: [
                "StreamsCore",
                "StreamsState",
                "StreamsJSON",
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StreamsTestKit",
            dependencies: ["StreamsCore", "StreamsState"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "StreamsEmbedded",
            dependencies: [
                "StreamsStateLMDB",
                "StreamsCore",
                "StreamsState",
                "StreamsJSON",
                "CStreamsSystem",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The dedup application: the jobs (`dedup run` on the embedded engine, `dedup kafka` on the
        // Kafka engine, one topology), their settings and errors, inspect and verify. The CLI is
        // its command-line face. Apps may depend on engines; engines never on apps or LMDB.
        .target(
            name: "DedupApp",
            dependencies: [
                "StreamsEmbedded",
                "StreamsKafka",
                "StreamsDedup",
                "StreamsCore",
                "StreamsState",
                "StreamsStateLMDB",
                "StreamsJSON",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "DedupCLI",
            dependencies: [
                "DedupApp",
                "StreamsEmbedded",
                "StreamsDedup",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // README's example of a user's own topology on files through the public embedded engine;
        // built with everything else, and killed at random moments by UserTopologyTests.
        .executableTarget(
            name: "FileOrdersExample",
            dependencies: ["StreamsCore", "StreamsDedup", "StreamsEmbedded", "StreamsStateLMDB"],
            path: "Examples/FileOrders",
            swiftSettings: swiftSettings
        ),
        // README's Kafka quick start: create a topic, produce JSON lines, read a topic read_committed.
        .executableTarget(
            name: "KafkaConsole",
            dependencies: ["StreamsKafka"],
            path: "Examples/KafkaConsole",
            swiftSettings: swiftSettings
        ),
        // A child process for crash tests: writes and commits to a store in a loop until SIGKILLed.
        .executableTarget(
            name: "StreamsTestSupportTools",
            dependencies: ["StreamsStateLMDB", "StreamsState", "StreamsEmbedded"],
            swiftSettings: swiftSettings
        ),
        // Helpers shared by the test targets (temporary directories, seeded randomness, built
        // executables); never part of a product.
        .target(
            name: "StreamsTestSupport",
            dependencies: ["DedupApp"],
            path: "Tests/StreamsTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StreamsLMDBTests",
            dependencies: ["StreamsLMDB", "StreamsTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StreamsStateTests",
            dependencies: [
                "StreamsStateLMDB", "StreamsState", "StreamsLMDB", "StreamsTestSupportTools", "StreamsTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StreamsEmbeddedTests",
            dependencies: [
                "StreamsStateLMDB", "StreamsEmbedded", "DedupApp", "StreamsState", "StreamsTestSupport", "StreamsCore",
                "StreamsTestKit",
            ],
            swiftSettings: swiftSettings
        ),
        // Runs the real `dedup` executable as a child process; depending on DedupCLI makes
        // `swift build --build-tests` build it (and lets the tests reach its parser).
        .testTarget(
            name: "DedupCLITests",
            dependencies: [
                "DedupCLI", "DedupApp", "StreamsEmbedded", "StreamsJSON", "StreamsKafka", "StreamsTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
        // Against a real broker (noida-db, started by Tests/StreamsTestSupport/KafkaBroker.swift).
        .testTarget(
            name: "StreamsKafkaTests",
            dependencies: [
                "StreamsKafka", "StreamsTestSupport", "StreamsCore", "StreamsState", "StreamsStateLMDB", "StreamsDedup",
                "StreamsTestKit", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StreamsJSONTests",
            dependencies: ["StreamsJSON", "StreamsTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StreamsCoreTests",
            dependencies: [
                "StreamsCore", "StreamsTestKit", "StreamsState", "StreamsStateLMDB",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StreamsDedupTests",
            dependencies: [
                "StreamsStateLMDB", "StreamsDedup", "StreamsTestKit", "StreamsCore", "StreamsState",
                "StreamsTestSupport",
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
