import ArgumentParser
import Logging
import DedupApp

#if canImport(Glibc)
    import Glibc
#endif

extension Dedup {
    /// `dedup kafka`: deduplicate Kafka topics into a topic, exactly once, as a consumer group member.
    struct Kafka: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deduplicate Kafka topics of JSON records into an output topic, exactly once.",
            discussion: """
                Joins the consumer group --application-id (start several processes with the same id to \
                share the partitions) and runs until SIGINT/SIGTERM, then commits and exits 0. Partition p \
                of each input topic is one task with its own store in --state, backed by the changelog topic \
                <application-id>-dedup-store-changelog. Read the output with isolation.level=read_committed.
                """
        )

        @Option(name: .customLong("bootstrap-servers"), help: "The Kafka cluster: HOST:PORT[,HOST:PORT...].")
        var bootstrapServers: String

        @Option(
            name: .customLong("application-id"),
            help: "The consumer group, transactional id prefix and changelog topic prefix.")
        var applicationId: String

        @Option(name: .customLong("input-topic"), help: "A topic of JSON records; repeat for several (co-partitioned).")
        var inputTopics: [String] = []

        @Option(name: .customLong("output-topic"), help: "Where kept records are produced (keyed by the business key).")
        var outputTopic: String

        @Option(name: .customLong("duplicates-topic"), help: "Where dropped duplicates are produced.")
        var duplicatesTopic: String?

        @Option(
            name: .customLong("key"),
            help: "Dotted path of the business key field (order.id); repeat for a composite key.")
        var keys: [String] = []

        @Option(help: "The deduplication window: 250ms, 30s, 15m, 24h, 7d, 1h30m.")
        var window: DurationArgument

        @Option(help: "The state directory (the tasks' stores; rebuilt from the changelog topic when lost).")
        var state: String

        @Option(
            name: .customLong("time-field"),
            help: "Dotted path of the event time: epoch milliseconds or RFC 3339. Default: the record's timestamp.")
        var timeField: String?

        @Option(help: "How late a record may be and still match; 0 (the default) or a duration.")
        var grace: DurationArgument?

        @Option(help: "exactly-once (default, Kafka transactions) or at-least-once.")
        var guarantee: DedupJobConfiguration.Guarantee = .exactlyOnce

        @Option(
            name: .customLong("commit-interval"),
            help: "How often to commit (default 100ms exactly-once, 5s at-least-once).")
        var commitInterval: DurationArgument?

        @Option(
            name: .customShort("X", allowingJoined: true),
            help:
                "A librdkafka property name=value for every client (consumer.NAME / producer.NAME: only those); repeat."
        )
        var properties: [String] = []

        @Option(
            name: .customLong("on-invalid"),
            help: "fail (default) or skip records that are not JSON objects, lack the key or have a bad time.")
        var onInvalid: DedupJobConfiguration.InvalidRecordPolicy = .fail

        @Option(
            name: .customLong("dead-letter-topic"),
            help: "Where skipped invalid records are produced, unchanged, with error headers (with --on-invalid skip).")
        var deadLetterTopic: String?

        @Flag(help: "Print a JSON summary on standard error at exit.")
        var stats = false

        @Flag(help: "No progress line.")
        var quiet = false

        /// Properties the engine sets itself; giving them would silently change nothing or break
        /// the guarantee.
        static let engineProperties = [
            "bootstrap.servers": "--bootstrap-servers", "group.id": "--application-id",
            "transactional.id": "--application-id (each task's is <application-id>-<task>)",
            "enable.auto.commit": "--commit-interval", "isolation.level": "--guarantee",
        ]

        func validate() throws {
            if inputTopics.isEmpty { throw ValidationError("give at least one --input-topic") }
            if keys.isEmpty { throw ValidationError("give at least one --key field path, e.g. --key order.id") }
            if applicationId.isEmpty { throw ValidationError("--application-id must not be empty") }
            _ = try window.checked(
                "--window", allowZero: false,
                whyPositive:
                    "; a record is a duplicate only of one less than the window apart, so a zero window would keep every record"
            )
            _ = try grace?.checked("--grace", allowZero: true)
            _ = try commitInterval?.checked("--commit-interval", allowZero: false)
            for property in properties {
                guard let equals = property.firstIndex(of: "="), equals != property.startIndex else {
                    throw ValidationError("-X \(property): give name=value, e.g. -X group.instance.id=node-1")
                }
                var name = String(property[..<equals])
                for prefix in ["consumer.", "producer."] where name.hasPrefix(prefix) { name.removeFirst(prefix.count) }
                if let flag = Self.engineProperties[name] {
                    throw ValidationError("-X \(property): dedup kafka sets \(name) itself; use \(flag)")
                }
            }
            if deadLetterTopic != nil && onInvalid != .skip {
                throw ValidationError("--dead-letter-topic needs --on-invalid skip")
            }
        }

        var jobConfiguration: KafkaDedupJobConfiguration {
            var librdkafka: [String: String] = [:]
            for property in properties {
                let equals = property.firstIndex(of: "=")!
                librdkafka[String(property[..<equals])] = String(property[property.index(after: equals)...])
            }
            return KafkaDedupJobConfiguration(
                bootstrapServers: bootstrapServers,
                applicationId: applicationId,
                inputTopics: inputTopics,
                outputTopic: outputTopic,
                duplicatesTopic: duplicatesTopic,
                deadLetterTopic: deadLetterTopic,
                keyFields: keys,
                timeField: timeField,
                window: window.duration,
                grace: grace?.duration ?? .zero,
                stateDirectory: state,
                onInvalid: onInvalid,
                guarantee: guarantee,
                commitInterval: commitInterval?.duration,
                properties: librdkafka
            )
        }

        func run() async throws {
            LoggingSystem.bootstrap { _ in DedupLogHandler() }
            let logger = Logger(label: "dedup")
            let progress = ProgressPrinter(enabled: !quiet && isatty(STDERR_FILENO) == 1)
            let configuration = jobConfiguration
            let service = DedupService(progress: progress) { (progress, shouldStop) throws(DedupJobError) in
                let job = try KafkaDedupJob(configuration: configuration, logger: logger)
                return try job.run(progress: { progress.show($0) }, shouldStop: shouldStop)
            }
            try await service.runUntilDone(progress: progress, stats: stats, logger: logger)
        }
    }
}
