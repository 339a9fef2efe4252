internal import StreamsEmbedded
public import Logging
internal import StreamsCore
internal import StreamsDedup
internal import StreamsKafka
internal import StreamsState
internal import StreamsStateLMDB

/// One `dedup kafka`: the same topology as `dedup run` (``DedupTopology``: the JSON key and time
/// extractors, the ``Deduplicator`` on an LMDB window store, sinks), run on Kafka topics by the
/// Kafka engine (``KafkaStreams``) as a member of the consumer group `applicationId`, until asked
/// to stop. Each input partition is a task with its own store under
/// `STATE/<applicationId>/<task>/`, backed by the changelog topic
/// `<applicationId>-dedup-store-changelog`; under exactly-once each task's output, changelog
/// records and input offsets commit in one transaction every commit interval.
public final class KafkaDedupJob {
    /// The settings.
    public let configuration: KafkaDedupJobConfiguration
    private let logger: Logger

    /// How long the start may wait for the cluster's metadata (the input topics) before giving up.
    static let metadataTimeout: Duration = .seconds(30)

    /// Checks the settings; nothing connects until ``run(progress:shouldStop:)``.
    ///
    /// - Throws: ``DedupJobError`` (usage) naming the flag that is wrong.
    public init(configuration: KafkaDedupJobConfiguration, logger: Logger) throws(DedupJobError) {
        if let problem = configuration.problem() { throw DedupJobError(.usage, problem) }
        _ = try configuration.recordLimits(storeKeyBytes: DedupJob.maxKeyBytes).get()
        try DedupJobConfiguration.checkDeduplication(
            keyFields: configuration.keyFields, timeField: configuration.timeField, window: configuration.window,
            grace: configuration.grace, commitInterval: configuration.commitInterval)
        self.configuration = configuration
        self.logger = logger
    }

    /// Joins the group and deduplicates until `shouldStop` returns true, then commits, leaves the
    /// group and returns.
    ///
    /// - Parameters:
    ///   - progress: Called at most every 250 ms with a snapshot, on the job's thread.
    ///   - shouldStop: Polled once per iteration (at least every 100 ms); true commits and returns.
    /// - Returns: What this run did.
    /// - Throws: ``DedupJobError``: usage (a bad flag or `-X` property, a missing input topic),
    ///   invalid data (an invalid record under `--on-invalid fail`, named `topic-partition@offset`,
    ///   after the records before it were committed), I/O (the cluster cannot be reached, a
    ///   commit failed, a task was fenced by another instance, a store failed).
    public func run(
        progress: ((DedupJobProgress) -> Void)? = nil,
        shouldStop: () -> Bool = { false }
    ) throws(DedupJobError) -> DedupJobSummary {
        let started = monotonicSeconds()
        let state: StateDirectory
        do { state = try StateDirectory(path: configuration.stateDirectory) } catch {
            var error = error
            if error.code == .locked { error.message += " (--state)" }
            throw DedupJobError(error)
        }
        defer { state.unlock() }
        let topicLimits = try checkTopics()
        // The longest business key and record, and the note their messages end with.
        let limits = try configuration.recordLimits(storeKeyBytes: DedupJob.maxKeyBytes, topicLimits: topicLimits)
            .get()

        let statistics = DeduplicationStatisticsCollector()
        let logger = self.logger
        // A damaged store, or one that cannot be trusted after an operating-system crash, is
        // deleted: the task then restores it from its changelog topic.
        let store = WindowStoreFactory { storeConfiguration, directory in
            try DedupJob.openStore(at: directory, configuration: storeConfiguration, changelog: nil, logger: logger)
        }
        let topology = DedupTopology(
            inputTopics: configuration.inputTopics, keyFields: configuration.keyFields,
            timeField: configuration.timeField, maxFuture: nil, window: configuration.window,
            grace: configuration.grace, outputTopic: configuration.outputTopic,
            duplicatesTopic: configuration.duplicatesTopic, invalidTopic: configuration.deadLetterTopic
        ).make(
            maxKeyBytes: limits.key, maxRecordBytes: limits.record, limitNote: limits.note, store: store,
            statistics: statistics)
        let streams = KafkaStreams(
            configuration: KafkaStreamsConfiguration(
                bootstrapServers: configuration.bootstrapServers, applicationId: configuration.applicationId,
                properties: Self.routed(configuration.properties),
                guarantee: configuration.guarantee == .exactlyOnce ? .exactlyOnce : .atLeastOnce),
            logger: logger)
        let streamsConfiguration = StreamsConfiguration(
            applicationId: configuration.applicationId,
            commitInterval: configuration.effectiveCommitInterval,
            deserializationErrorPolicy: configuration.onInvalid == .fail
                ? .fail
                : configuration.deadLetterTopic == nil ? .skip : .deadLetter(sink: DedupTopology.invalidSinkName),
            stateDirectory: state.path
        )

        // The engine and thread themselves (not `KafkaStreams.run`), so that the job sees its
        // tasks: their invalid-record counts, and a partition left without a task (fenced).
        let engine: KafkaEngine
        let thread: StreamThread
        do { (engine, thread) = try streams.makeThread(topology, configuration: streamsConfiguration) } catch {
            throw failure(error)
        }
        defer { engine.close() }
        var recordsRead = 0
        var restoredEntries = 0
        var tasksSeen: [StreamTask] = []
        var orphaned: DedupJobError?
        var lastProgress = started
        do throws(StreamsError) {
            _ = try thread.run(shouldStop: { orphaned != nil || shouldStop() }) { iteration in
                recordsRead += iteration.processed
                restoredEntries += iteration.restored
                let tasks = thread.taskManager.tasks
                for task in tasks where !tasksSeen.contains(where: { $0 === task }) { tasksSeen.append(task) }
                // A task closed after an error that is its own (fenced, its partitions moved) leaves
                // its partitions assigned here with nothing processing them: stop, commit the others
                // and say so rather than sit idle.
                let covered = Set(tasks.flatMap(\.inputs))
                if orphaned == nil,
                    let partition = engine.assignedPartitions.sorted(by: { $0.description < $1.description }).first(
                        where: { !covered.contains($0) })
                {
                    orphaned = DedupJobError(
                        .io,
                        "the task of \(partition) was closed after an error (see the warning above: typically fenced by another instance with --application-id \(configuration.applicationId) that took it over); this instance committed its other tasks and stopped: run it again to rejoin the group"
                    )
                }
                guard let progress else { return }
                let now = monotonicSeconds()
                guard now - lastProgress >= 0.25 else { return }
                lastProgress = now
                let phase: DedupJobProgress.Phase
                if thread.taskManager.hasTasksToRestore {
                    phase = .restoring(entries: restoredEntries)
                } else if tasks.isEmpty || (iteration.polled == 0 && iteration.processed == 0) {
                    phase = .waiting
                } else {
                    phase = .running
                }
                progress(
                    DedupJobProgress(
                        phase: phase, recordsRead: recordsRead, duplicates: statistics.snapshot.duplicates,
                        recordsPerSecond: Double(recordsRead) / max(now - started, 0.001),
                        position: Self.position(engine)))
            }
        } catch {
            throw failure(error)
        }
        if let orphaned { throw orphaned }
        let final = statistics.snapshot
        return DedupJobSummary(
            recordsRead: recordsRead,
            emitted: final.emitted,
            duplicates: final.duplicates,
            invalid: tasksSeen.reduce(0) { $0 + $1.invalidRecordCount },
            liveKeys: final.storeEntries,
            restoredEntries: restoredEntries,
            elapsedSeconds: monotonicSeconds() - started
        )
    }

    /// Consumer-only properties given without prefix go to the consumers only, so that librdkafka
    /// does not warn about them for every producer (`-X group.instance.id=…` is the common one).
    static let consumerProperties: Set<String> = [
        "group.instance.id", "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms",
        "partition.assignment.strategy", "auto.offset.reset", "fetch.wait.max.ms", "fetch.min.bytes",
        "fetch.max.bytes", "max.partition.fetch.bytes", "queued.min.messages", "queued.max.messages.kbytes",
    ]

    static func routed(_ properties: [String: String]) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in properties {
            result[consumerProperties.contains(name) ? "consumer." + name : name] = value
        }
        return result
    }

    /// `topic-partition@next offset` of each assigned partition, or what the job waits for.
    private static func position(_ engine: KafkaEngine) -> String {
        let positions = engine.positions.sorted { $0.key.description < $1.key.description }
        guard !positions.isEmpty else { return "no partitions assigned yet" }
        return positions.map { "\($0.key)@\($0.value)" }.joined(separator: " ")
    }

    /// Refuses to start when the cluster cannot be reached or an input topic does not exist, or
    /// the input topics' partition counts differ (their partitions would not pair up into tasks).
    /// Returns the `max.message.bytes` of the output topics that exist: a record over the
    /// smallest is invalid to the job (``KafkaDedupJobConfiguration/recordLimits(storeKeyBytes:topicLimits:)``)
    /// rather than refused by the brokers at every try.
    private func checkTopics() throws(DedupJobError) -> [(topic: String, maxMessageBytes: Int)] {
        var properties: [String: String] = [:]
        for (name, value) in Self.routed(configuration.properties) where !name.hasPrefix("consumer.") {
            properties[name.hasPrefix("producer.") ? String(name.dropFirst("producer.".count)) : name] = value
        }
        let admin: KafkaAdminClient
        do {
            admin = try KafkaAdminClient(
                configuration: KafkaConfiguration(bootstrapServers: configuration.bootstrapServers, properties))
        } catch {
            throw DedupJobError(.usage, "\(error) (-X)")
        }
        var counts: [(topic: String, partitions: Int)] = []
        for topic in configuration.inputTopics {
            let description: KafkaTopicDescription?
            do { description = try admin.describeTopic(topic, timeout: Self.metadataTimeout) } catch {
                throw DedupJobError(
                    .io,
                    "cannot read the metadata of the Kafka cluster at \(configuration.bootstrapServers) (--bootstrap-servers) within \(Self.metadataTimeout): \(error); check that the brokers run and the address is right"
                )
            }
            guard let description else {
                throw DedupJobError(
                    .usage,
                    "the input topic \(topic) does not exist on \(configuration.bootstrapServers) (--input-topic); create it first, with as many partitions as the job should run tasks"
                )
            }
            counts.append((topic, description.partitions.count))
        }
        if let first = counts.first, let other = counts.first(where: { $0.partitions != first.partitions }) {
            throw DedupJobError(
                .usage,
                "the input topics \(first.topic) (\(first.partitions) partitions) and \(other.topic) (\(other.partitions)) differ in partitions; inputs merged into one deduplication must be co-partitioned (same partition count, keyed alike)"
            )
        }
        var limits: [(topic: String, maxMessageBytes: Int)] = []
        for (flag, topic) in configuration.outputTopics {
            // A topic that does not exist yet is created by the brokers' defaults at the first
            // record (auto.create.topics.enable), or the produce fails: nothing to read here.
            guard (try? admin.describeTopic(topic, timeout: Self.metadataTimeout)) != nil else { continue }
            let bytes: Int
            do {
                guard
                    let text = try admin.topicConfiguration(topic, timeout: Self.metadataTimeout)["max.message.bytes"],
                    let value = Int(text)
                else { continue }
                bytes = value
            } catch {
                logger.warning(
                    "cannot read the configuration of \(topic) (\(flag)): \(error); records over its max.message.bytes are refused by the brokers"
                )
                continue
            }
            if bytes < KafkaDedupJobConfiguration.minimumTopicLimitBytes {
                logger.warning(
                    "\(topic) (\(flag)) takes records of at most \(bytes) bytes (max.message.bytes), too few to fit records to; the brokers refuse larger ones, and the job stops when a task aborted \(KafkaStreamsConfiguration.defaultMaxConsecutiveAborts) times in a row for one"
                )
            }
            limits.append((topic, bytes))
        }
        return limits
    }

    /// Sorts a runtime error into the exit-status classes, with messages naming the flags.
    private func failure(_ error: StreamsError) -> DedupJobError {
        switch error.code {
        case .deserialization, .invalidRecord:
            let place = error.origin.map { "\($0): " } ?? ""
            return DedupJobError(
                .invalidData,
                "\(place)\(error.message); fix the record, or run with --on-invalid skip (and --dead-letter-topic TOPIC to keep such records)"
            )
        case .invalidConfiguration:
            return DedupJobError(.usage, "\(error.message) (check the -X properties)")
        case .engine where error.underlying is KafkaAbortStreakError:
            // A task that aborted again and again without committing (a record the broker
            // refuses every time): the job's own way to the fix.
            let tooLarge = (error.underlying as? KafkaAbortStreakError)?.recordTooLarge == true
            return DedupJobError(
                .io,
                error.message
                    + (tooLarge
                        ? "; here: -X producer.message.max.bytes=N (N at most the topic's max.message.bytes) makes such an input record invalid, handled by --on-invalid"
                        : "")
            )
        case .fenced, .taskMigrated, .taskCorrupted:
            // A task's error that reached the stop (its commit there failed): the others are closed.
            return DedupJobError(
                .io,
                "\(error.message); this instance stopped: run it again to rejoin the group of --application-id \(configuration.applicationId)"
            )
        default:
            return DedupJobError(error)
        }
    }
}
