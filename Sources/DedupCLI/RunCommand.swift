public import ArgumentParser
import Logging
import ServiceLifecycle
public import StreamsEmbedded
public import DedupApp
import UnixSignals
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension Dedup {
    /// `dedup run`: deduplicate inputs into an output, committing exactly once.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deduplicate JSON Lines inputs into an output file.",
            discussion: """
                Records from several inputs are processed smallest event time first (ties to the input \
                given first). A record is a duplicate iff an earlier kept record with the same key has a \
                time less than --window apart and is still within window + grace of the stream time. \
                Running the same command again with the same --state continues after the last commit.
                """
        )

        @Option(
            name: .customLong("input"), help: "A producer's JSON Lines file; repeat for several; - is standard input.")
        var inputs: [String]

        @Option(help: "Where kept records are appended; - is standard output.")
        var output: String

        @Option(
            name: .customLong("key"),
            help: "Dotted path of the business key field (order.id); repeat for a composite key.")
        var keys: [String]

        @Option(help: "The deduplication window: 250ms, 30s, 15m, 24h, 7d, 1h30m.")
        var window: DurationArgument

        @Option(help: "The state directory (store, changelog, checkpoint).")
        var state: String

        @Option(
            name: .customLong("time-field"),
            help: "Dotted path of the event time: epoch milliseconds or RFC 3339. Default: processing time.")
        var timeField: String?

        @Option(help: "How late a record may be and still match; 0 (the default) or a duration.")
        var grace: DurationArgument?

        @Option(help: "Where dropped duplicates are appended.")
        var duplicates: String?

        @Option(
            name: .customLong("on-invalid"),
            help: "fail (default) or skip lines that are not JSON objects, lack the key or have a bad time.")
        var onInvalid: DedupJobConfiguration.InvalidRecordPolicy = .fail

        @Option(help: "Where skipped invalid lines are appended (with --on-invalid skip).")
        var invalid: String?

        @Option(
            name: .customLong("max-future"),
            help:
                "Records whose event time is further ahead of the wall clock than this are invalid (default: no limit)."
        )
        var maxFuture: DurationArgument?

        @Option(help: "exactly-once (default) or at-least-once.")
        var guarantee: DedupJobConfiguration.Guarantee = .exactlyOnce

        @Option(
            name: .customLong("commit-interval"),
            help: "How often to commit (default 100ms exactly-once, 5s at-least-once).")
        var commitInterval: DurationArgument?

        @Option(help: ArgumentHelp("lmdb (default) or memory (no durability; for benchmarks).", visibility: .hidden))
        var store: DedupJobConfiguration.StoreKind = .lmdb

        @Option(
            name: .customLong("compaction-threshold"),
            help: ArgumentHelp(
                "Changelog size in bytes above which it is rewritten from the live entries (default 64 MiB).",
                visibility: .hidden
            )
        )
        var compactionThreshold: Int64?

        @Flag(help: "Keep reading as the inputs grow until SIGINT/SIGTERM, then commit and exit 0.")
        var follow = false

        @Flag(help: "Print a JSON summary on standard error at exit.")
        var stats = false

        @Flag(help: "No progress line.")
        var quiet = false

        func validate() throws {
            if inputs.isEmpty { throw ValidationError("give at least one --input") }
            if keys.isEmpty { throw ValidationError("give at least one --key field path, e.g. --key order.id") }
            _ = try window.checked(
                "--window", allowZero: false,
                whyPositive:
                    "; a record is a duplicate only of one less than the window apart, so a zero window would keep every record"
            )
            _ = try grace?.checked("--grace", allowZero: true)
            _ = try commitInterval?.checked("--commit-interval", allowZero: false)
            if inputs.filter({ $0 == "-" }).count > 1 {
                throw ValidationError("standard input (-) can be given only once")
            }
            if invalid != nil && onInvalid != .skip { throw ValidationError("--invalid needs --on-invalid skip") }
            if let compactionThreshold, compactionThreshold <= 0 {
                throw ValidationError("--compaction-threshold must be a positive number of bytes")
            }
            if follow && inputs.contains("-") == false && store == .memory {
                throw ValidationError("--follow needs the lmdb store")
            }
        }

        var jobConfiguration: DedupJobConfiguration {
            var configuration = DedupJobConfiguration(
                inputs: inputs,
                output: output,
                duplicatesOutput: duplicates,
                invalidOutput: invalid,
                keyFields: keys,
                timeField: timeField,
                window: window.duration,
                grace: grace?.duration ?? .zero,
                stateDirectory: state,
                onInvalid: onInvalid,
                maxFuture: maxFuture?.duration,
                guarantee: guarantee,
                commitInterval: commitInterval?.duration,
                follow: follow,
                store: store
            )
            if let compactionThreshold { configuration.compactionThresholdBytes = compactionThreshold }
            return configuration
        }

        func run() async throws {
            // Logs go to standard error (standard output may be the --output), warnings and up.
            LoggingSystem.bootstrap { _ in DedupLogHandler() }
            let logger = Logger(label: "dedup")
            let progress = ProgressPrinter(enabled: !quiet && isatty(STDERR_FILENO) == 1)
            let service = DedupService(configuration: jobConfiguration, progress: progress, logger: logger)
            try await service.runUntilDone(progress: progress, stats: stats, logger: logger)
        }
    }
}

extension DedupService {
    /// Runs the service in a group that stops it gracefully on SIGTERM/SIGINT, then prints the
    /// summary (`--stats`) or the error, and throws the exit status of a failure.
    func runUntilDone(progress: ProgressPrinter, stats: Bool, logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: self, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        progress.finish()
        switch outcome {
        case .success(let summary):
            if stats { printToStandardError(summary.json) }
        case .failure(let error):
            printToStandardError("dedup: \(error.message)")
            throw ExitCode(error.exitCode)
        case nil:
            throw ExitCode(70)
        }
    }
}

extension DedupJobConfiguration.InvalidRecordPolicy: ExpressibleByArgument {}
extension DedupJobConfiguration.Guarantee: ExpressibleByArgument {}
extension DedupJobConfiguration.StoreKind: ExpressibleByArgument {}
