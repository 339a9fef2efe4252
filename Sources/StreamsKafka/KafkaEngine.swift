internal import CStreamsRdKafka
package import Logging
package import StreamsCore
package import StreamsState

/// The Kafka engine: the runtime's engine seam (``StreamsEngine``) over librdkafka, with Kafka
/// Streams' `exactly_once_v2` semantics. ``KafkaStreams`` is its public face.
///
/// - **Input**: one consumer in group `<applicationId>`, subscribed to the topology's source
///   topics, `isolation.level=read_committed`, `enable.auto.commit=false`, eager `range`
///   assignor. Its rebalance callback runs inside ``poll(maxRecords:timeout:)`` and calls the
///   ``RebalanceListener`` (the ``TaskManager``): assigned → tasks created; revoked → tasks
///   committed and closed, then their producers closed; lost → tasks closed dirty.
/// - **A producer per task**, `transactional.id = <applicationId>-<taskId>`: created and
///   `init_transactions` when the task starts restoring (which fences a zombie with the same id and
///   ends its open transaction), *before* the task's committed offsets are read; the partitions
///   are then moved to those offsets. A transaction is begun at the task's first record after a
///   commit.
/// - **Output**: ``send(_:to:)`` produces to the sink's topic, partitioned by the record key with
///   `murmur2_random` (Java's partitioner: the same key lands where a Kafka Streams application
///   would put it; a record without key goes to a random partition).
/// - **Changelogs**: topic `<applicationId>-<store>-changelog`, created by the engine when the
///   task's restore starts with as many partitions as the task's input topics,
///   `cleanup.policy=compact,delete` and `retention.ms` = the window store's retention +
///   ``KafkaStreamsConfiguration/changelogRetentionMargin`` (`compact` only for other stores);
///   partition = the task's. Record key = store key + the entry's timestamp (8 bytes big-endian)
///   so compaction keeps every live window entry; value = the store's value, `nil` a tombstone.
/// - **Commit** per task: `send_offsets_to_transaction` (offset + 1, stream time in the offset
///   metadata) + `commit_transaction`; the changelog positions returned are the offset after the
///   last changelog record the broker acknowledged (from the delivery reports), or the restore's
///   end when nothing was written since.
/// - **Errors**: a fenced producer → ``StreamsError/Code/fenced`` for its task; an abortable
///   error → the transaction is aborted and ``StreamsError/Code/taskCorrupted`` makes the runtime
///   create the task again, which rewinds its partitions to the committed offsets and restores
///   its stores; a fatal producer error → the producer is dropped, and the same. A task that
///   starts again this way ``KafkaStreamsConfiguration/maxConsecutiveAborts`` times in a row
///   without committing its offsets in between (a record the broker refuses every time) stops the
///   engine instead: ``StreamsError/Code/engine``, naming the task, its committed offsets, the
///   error and the fix.
///
/// - Important: Not `Sendable`: the stream thread owns it (librdkafka's callbacks run on it).
package final class KafkaEngine: StreamsEngine {
    /// One task's producer and transaction.
    final class TaskProducer {
        let id: TaskId
        let producer: KafkaProducer
        var inTransaction = false
        /// The producer cannot be used any more (fenced or fatal): drop it at the task's abort.
        var broken = false
        /// The topics whose partitions the producer learned up front (``KafkaEngine/prepare(_:for:)``).
        var preparedTopics: Set<String> = []

        init(id: TaskId, producer: KafkaProducer) {
            self.id = id
            self.producer = producer
        }
    }

    /// A changelog this engine writes or restores.
    final class Changelog {
        let id: ChangelogID
        let topic: String
        let partition: Int32
        /// The delivery tag of its records (``KafkaProducer/lastDeliveredOffset(tag:)``).
        let tag: Int
        /// The position after the last durable entry known: the restore's end, then each commit's.
        var position: ChangelogPosition?
        /// At-least-once: the position committed with the input offsets (in their metadata). A
        /// restore stops there: the entries after it are of records processed after the last
        /// commit, which are processed again, and whose output may not have been delivered (a
        /// store restored with them would call those records duplicates and drop them).
        var committedEnd: Int64?

        init(id: ChangelogID, topic: String, partition: Int32, tag: Int) {
            self.id = id
            self.topic = topic
            self.partition = partition
            self.tag = tag
        }
    }

    /// Where a sink's or a changelog's records go: resolved on a task's first record, so that a
    /// record costs no dictionary lookup and no topic name; cleared when the task's producer goes.
    struct Route {
        let topic: String
        let task: TaskId
        /// The changelog, for a changelog's route.
        let changelog: ChangelogID?
        var producer: TaskProducer?
        var handle: KafkaProducer.Topic?
        var log: Changelog?

        init(topic: String, task: TaskId, changelog: ChangelogID?) {
            self.topic = topic
            self.task = task
            self.changelog = changelog
        }

        mutating func clear() {
            producer = nil
            handle = nil
            log = nil
        }
    }

    /// A task's aborts in a row (see ``KafkaStreamsConfiguration/maxConsecutiveAborts``).
    struct AbortStreak {
        /// Aborts since the task last committed its offsets.
        var count = 0
        /// This run of the task was counted (one abort may fail more than one call): cleared when
        /// the task starts again.
        var counted = false
        /// The last error, as `step: operation: message [code]`.
        var lastError = ""
        /// The last `MSG_SIZE_TOO_LARGE` of the streak: the broker refused a record (the usual
        /// cause; later aborts of the streak may show its aftermath, such as
        /// `OUT_OF_ORDER_SEQUENCE_NUMBER`).
        var tooLarge: String?
    }

    package let settings: KafkaStreamsConfiguration
    private let description: TopologyDescription
    private let logger: Logger
    private let consumer: KafkaConsumer
    private var batch = KafkaMessageBatch(capacity: 1_000)
    private var restoreConsumer: KafkaConsumer?
    private var restoreBatch = KafkaMessageBatch(capacity: 1_000)
    /// The changelog partition the restore consumer is assigned, and its next position.
    private var restoreAssignment: (topic: String, partition: Int32, next: Int64)?
    private var admin: KafkaAdminClient?
    private var producers: [TaskId: TaskProducer] = [:]
    /// Per sink handle (its index): the topic and task, and once resolved the producer and topic
    /// handle a record goes to (``route(sink:)``).
    private var sinks: [Route] = []
    /// Per changelog sink (``KafkaChangelogSink/route``): the same for changelog records.
    private var changelogRoutes: [Route] = []
    private var changelogs: [ChangelogID: Changelog] = [:]
    /// Changelog topics known to exist (created or checked), with their partition counts.
    private var changelogTopics: [String: Int32] = [:]
    private var topicPartitionCounts: [String: Int32] = [:]
    private weak var listener: (any RebalanceListener)?
    private var assigned: Set<TopicPartition> = []
    private var paused: Set<TopicPartition> = []
    /// Partitions whose end the consumer reached (no record since): ``InputPartitionStatus/caughtUp``.
    private var atEnd: Set<TopicPartition> = []
    /// Per partition the offset the task resumes at (its committed offset): records before it,
    /// fetched before the task's rewind, are dropped.
    private var resumeOffsets: [TopicPartition: Int64] = [:]
    /// Assigned partitions whose task has not read its committed offsets yet: their records are
    /// dropped (the task moves the partition to its committed offset and reads them again).
    private var awaitingStart: Set<TopicPartition> = []
    /// Per task, the committed offsets read at its assignment, where its partitions were assigned
    /// (``startingOffsets(of:)``): its start takes them instead of reading them and seeking again.
    private var assignedCommits: [TaskId: [KafkaTopicPartitionOffset]] = [:]
    /// Per partition the offset after the last record polled (or the committed offset after a rewind).
    package private(set) var positions: [TopicPartition: Int64] = [:]
    /// An error of a rebalance callback or of a call that cannot throw, thrown by the next poll.
    private var pendingError: StreamsError?
    private var committedStreamTimes: [TaskId: Int64] = [:]
    /// Per task, its aborts since it last committed offsets.
    private var abortStreaks: [TaskId: AbortStreak] = [:]
    /// Per input partition, the offset committed last (read at its task's start, or committed here).
    private var committedOffsets: [TopicPartition: Int64] = [:]
    /// At-least-once: the tasks none of whose partitions has a committed offset; their changelogs
    /// hold only entries of uncommitted work, so a restore reads none of them.
    private var tasksWithoutCommit: Set<TaskId> = []
    /// Topic names by librdkafka topic handle, so that a record's origin costs no string copy.
    private var topicNames: [(handle: OpaquePointer, name: String)] = []
    private var closed = false
    /// Where a partition without committed offset starts (`auto.offset.reset`).
    private let resetOffset: Int64

    /// Creates the consumer and subscribes to the topology's source topics; the group assigns
    /// partitions during later polls.
    ///
    /// - Throws: ``StreamsError`` with code ``StreamsError/Code/invalidConfiguration`` for a bad
    ///   property, ``StreamsError/Code/engine`` when librdkafka refuses the subscription.
    package init(settings: KafkaStreamsConfiguration, topology: Topology, logger: Logger) throws(StreamsError) {
        self.settings = settings
        self.description = topology.describe()
        self.logger = logger
        var properties = settings.clientProperties(prefix: "consumer.")
        properties["group.id"] = settings.applicationId
        properties["enable.auto.commit"] = "false"
        properties["enable.auto.offset.store"] = "false"
        properties["enable.partition.eof"] = "true"
        if properties["auto.offset.reset"] == nil { properties["auto.offset.reset"] = "earliest" }
        let reset = properties["auto.offset.reset"] ?? "earliest"
        resetOffset =
            ["latest", "end", "largest"].contains(reset)
            ? KafkaTopicPartitionOffset.end : KafkaTopicPartitionOffset.beginning
        if settings.guarantee == .exactlyOnce || properties["isolation.level"] == nil {
            properties["isolation.level"] = "read_committed"
        }
        let topics = description.subtopologies.flatMap { $0.filter { $0.kind == "Source" }.flatMap(\.topics) }
        do {
            consumer = try KafkaConsumer(
                configuration: KafkaConfiguration(bootstrapServers: settings.bootstrapServers, properties))
        } catch {
            throw StreamsError(.invalidConfiguration, "the Kafka consumer: \(error)", underlying: error)
        }
        do {
            try consumer.subscribe(
                topics: topics, onRebalance: { [unowned self] _, event in self.rebalanced(event) },
                startingOffsets: { [unowned self] _, partitions in self.startingOffsets(of: partitions) })
        } catch {
            throw StreamsError(.engine, "cannot subscribe to \(topics): \(error)", underlying: error)
        }
    }

    deinit {
        close()
    }

    /// Leaves the group (without calling the listener: the tasks are closed by then) and drops
    /// every producer; an open transaction is aborted.
    package func close() {
        guard !closed else { return }
        closed = true
        listener = nil
        restoreBatch.removeAll()
        batch.removeAll()
        do { try consumer.close() } catch { logger.debug("closing the Kafka consumer: \(error)") }
        for task in producers.values where task.inTransaction && !task.broken {
            try? task.producer.abortTransaction(timeout: settings.requestTimeout)
        }
        producers.removeAll()
        for i in sinks.indices { sinks[i].clear() }
        for i in changelogRoutes.indices { changelogRoutes[i].clear() }
        if let restoreConsumer { try? restoreConsumer.close() }
        restoreConsumer = nil
    }

    // MARK: Tasks

    /// The task owning `partition`: `<subtopology reading its topic>_<partition>`.
    private func task(of partition: TopicPartition) -> TaskId? {
        description.subtopology(readingTopic: partition.topic).map {
            TaskId(subtopology: $0, partition: partition.partition)
        }
    }

    /// The input partitions of `task`, in source declaration order.
    private func inputs(of task: TaskId) -> [TopicPartition] {
        description.sourceTopics(ofSubtopology: task.subtopology).map {
            TopicPartition(topic: $0, partition: task.partition)
        }
    }

    /// The task's producer, created (and under exactly-once initialized: `init_transactions`) on
    /// first use.
    private func producer(for task: TaskId) throws(StreamsError) -> TaskProducer {
        if let existing = producers[task] { return existing }
        var properties = settings.clientProperties(prefix: "producer.")
        if properties["partitioner"] == nil { properties["partitioner"] = "murmur2_random" }
        if settings.guarantee == .exactlyOnce {
            properties["transactional.id"] = settings.transactionalId(task: "\(task)")
        } else {
            properties["transactional.id"] = nil
        }
        let producer: KafkaProducer
        do {
            producer = try KafkaProducer(
                configuration: KafkaConfiguration(bootstrapServers: settings.bootstrapServers, properties))
        } catch {
            throw StreamsError(.invalidConfiguration, "the producer of task \(task): \(error)", underlying: error)
        }
        if settings.guarantee == .exactlyOnce {
            try retrying("init_transactions for task \(task)", task: task) { () throws(KafkaError) in
                try producer.initTransactions(timeout: settings.requestTimeout)
            }
        }
        let state = TaskProducer(id: task, producer: producer)
        producers[task] = state
        let changelogTopics = changelogs.values.filter { $0.id.taskId == task && self.changelogTopics[$0.topic] != nil }
        for topic in Set(sinks.filter { $0.task == task }.map(\.topic) + changelogTopics.map(\.topic)).sorted() {
            prepare(topic, for: state)
        }
        return state
    }

    /// Has the task's producer learn `topic`'s partitions now (``KafkaProducer/prepare(topic:timeout:)``),
    /// so that its first transaction does not wait for them. Only for a topic that exists: asking
    /// for the metadata of one that does not would create it on a broker that auto-creates topics,
    /// before the task has anything to write there. A failure is left to the first record
    /// produced there, which reports it.
    private func prepare(_ topic: String, for task: TaskProducer) {
        guard task.preparedTopics.insert(topic).inserted else { return }
        do {
            guard try partitionCount(topic) != nil else { return }
            try task.producer.prepare(topic: topic, timeout: settings.requestTimeout)
        } catch {
            logger.debug("the metadata of \(topic) for task \(task.id): \(error)")
        }
    }

    /// Begins the task's transaction if none is open (exactly-once only).
    @inline(__always)
    private func beginIfNeeded(_ task: TaskProducer) throws(StreamsError) {
        guard settings.guarantee == .exactlyOnce, !task.inTransaction else { return }
        do { try task.producer.beginTransaction() } catch { throw failure(error, task: task, "begin_transaction") }
        task.inTransaction = true
    }

    /// Runs `body`, repeating it while it fails with a retriable error, up to the request timeout.
    private func retrying(_ what: String, task: TaskId?, _ body: () throws(KafkaError) -> Void) throws(StreamsError) {
        let deadline = ContinuousClock.now + settings.requestTimeout
        while true {
            do {
                try body()
                return
            } catch  where error.errorClass == .retriable && ContinuousClock.now < deadline {
                logger.debug("\(what): \(error); retrying")
            } catch {
                if let task, let state = producers[task] { throw failure(error, task: state, what) }
                throw StreamsError(.engine, "\(what): \(error)", underlying: error, taskId: task)
            }
        }
    }

    /// The runtime's error for a producer's error (see the type's documentation).
    private func failure(_ error: KafkaError, task: TaskProducer, _ what: String) -> StreamsError {
        switch error.errorClass {
        case .fenced:
            task.broken = true
            return StreamsError(
                .fenced, "task \(task.id) was fenced by another instance (\(what)): \(error)", underlying: error,
                taskId: task.id)
        case .fatal:
            task.broken = true
            if let stop = countAbort(of: task.id, error, what) { return stop }
            return StreamsError(
                .taskCorrupted, "the producer of task \(task.id) failed (\(what)): \(error); the task starts again",
                underlying: error, taskId: task.id)
        case .abortable:
            abortTransaction(task)
            if let stop = countAbort(of: task.id, error, what) { return stop }
            return StreamsError(
                .taskCorrupted,
                "the transaction of task \(task.id) was aborted (\(what)): \(error); the task starts again from its last commit",
                underlying: error, taskId: task.id)
        case .retriable, .permanent:
            return StreamsError(.engine, "task \(task.id): \(what): \(error)", underlying: error)
        }
    }

    /// Counts an abort that makes task `id` start again; returns the error that stops the engine
    /// when the task has aborted ``KafkaStreamsConfiguration/maxConsecutiveAborts`` times without
    /// committing in between.
    private func countAbort(of id: TaskId, _ error: KafkaError, _ what: String) -> StreamsError? {
        var streak = abortStreaks[id] ?? AbortStreak()
        if !streak.counted {
            streak.count += 1
            streak.counted = true
        }
        let step = what == error.operation ? what : "\(what): \(error.operation)"
        streak.lastError = "\(step): \(error.message) [\(error.codeName)]"
        if error.code == .messageSizeTooLarge { streak.tooLarge = streak.lastError }
        abortStreaks[id] = streak
        guard streak.count >= max(1, settings.maxConsecutiveAborts) else { return nil }
        let offsets = inputs(of: id).map { "\($0)@\(committedOffsets[$0].map(String.init) ?? "none committed")" }
        let cause: String
        let fix: String
        if let tooLarge = streak.tooLarge {
            cause = "the broker refuses one of its records every time (\(tooLarge))"
            fix =
                "raise that topic's max.message.bytes (or the brokers' message.max.bytes) to fit the record, or lower the producers' message.max.bytes (property producer.message.max.bytes) to at most that limit so that the client refuses such records itself"
        } else {
            cause = "the last error: \(streak.lastError)"
            fix = "fix what the error names, then run again"
        }
        return StreamsError(
            .engine,
            "task \(id) aborted its transaction \(streak.count) times in a row without committing, each time starting again from its committed offsets (\(offsets.joined(separator: ", "))): \(cause); stopped rather than reprocess without end: \(fix)",
            underlying: KafkaAbortStreakError(
                taskId: id, aborts: streak.count, recordTooLarge: streak.tooLarge != nil, lastError: error),
            taskId: id)
    }

    private func abortTransaction(_ task: TaskProducer) {
        guard task.inTransaction else { return }
        task.inTransaction = false
        guard !task.broken else { return }
        do { try task.producer.abortTransaction(timeout: settings.requestTimeout) } catch {
            logger.warning("abort_transaction of task \(task.id): \(error)")
            if error.errorClass == .fenced || error.errorClass == .fatal { task.broken = true }
        }
    }

    // MARK: Rebalance

    package func setRebalanceListener(_ listener: (any RebalanceListener)?) { self.listener = listener }

    /// The consumer's rebalance callback, inside ``poll(maxRecords:timeout:)``.
    private func rebalanced(_ event: KafkaRebalanceEvent) {
        switch event {
        case .assigned(let partitions):
            let tps = partitions.map { TopicPartition(topic: $0.topic, partition: $0.partition) }
            logger.info("assigned \(tps.map(\.description).joined(separator: ", "))")
            assigned.formUnion(tps)
            // Partitions assigned at their task's committed offsets are read from there on.
            awaitingStart.formUnion(tps.filter { tp in task(of: tp).map { assignedCommits[$0] == nil } ?? true })
            for tp in tps { atEnd.remove(tp) }
            do { try listener?.partitionsAssigned(tps) } catch { pendingError = pendingError ?? error }
        case .revoked(let partitions):
            let tps = partitions.map { TopicPartition(topic: $0.topic, partition: $0.partition) }
            logger.info("revoked \(tps.map(\.description).joined(separator: ", "))")
            do { try listener?.partitionsRevoked(tps) } catch { pendingError = pendingError ?? error }
            forget(tps)
        case .lost(let partitions):
            let tps = partitions.map { TopicPartition(topic: $0.topic, partition: $0.partition) }
            logger.warning("lost \(tps.map(\.description).joined(separator: ", "))")
            listener?.partitionsLost(tps)
            forget(tps)
        case .failed(let error):
            logger.warning("rebalance failed: \(error)")
        }
    }

    /// At assignment, before the partitions are assigned: per new task, its producer (with
    /// `init_transactions`, which ends a zombie's open transaction), then its committed offsets,
    /// where its partitions start. The consumer then fetches from there at once, instead of from
    /// librdkafka's own committed-offset fetch (made before `init_transactions`) and then again
    /// after the task's seek: on a broker that answers a fetch with a whole partition, that
    /// throws a partition's worth away. A task whose offsets cannot be read here reads them when
    /// it starts, as after an abort.
    private func startingOffsets(of partitions: [KafkaTopicPartition]) -> [KafkaTopicPartitionOffset] {
        let tps = partitions.map { TopicPartition(topic: $0.topic, partition: $0.partition) }
        var starts: [KafkaTopicPartitionOffset] = []
        for id in Set(tps.compactMap(task(of:))).sorted() {
            let owned = inputs(of: id).filter(tps.contains)
            do {
                _ = try producer(for: id)
                let committed = try readCommitted(owned, task: id)
                var taskStarts: [KafkaTopicPartitionOffset] = []
                for entry in committed {
                    var start = entry.offset ?? resetOffset
                    if start == KafkaTopicPartitionOffset.beginning {
                        // The first offset itself: librdkafka looks a logical offset up once the
                        // partition's leader is known, and retries only on a timer (500 ms later).
                        start = try watermarks(entry.topicPartition.topic, entry.topicPartition.partition, task: id).low
                    }
                    taskStarts.append(KafkaTopicPartitionOffset(entry.topicPartition, offset: start))
                }
                // All or nothing per task: a task placed here skips its start's read and seek.
                assignedCommits[id] = committed
                for entry in committed {
                    let tp = TopicPartition(
                        topic: entry.topicPartition.topic, partition: entry.topicPartition.partition)
                    resumeOffsets[tp] = entry.offset
                    positions[tp] = entry.offset ?? 0
                }
                starts += taskStarts
            } catch {
                logger.debug("task \(id) reads its committed offsets when it starts: \(error)")
            }
        }
        return starts
    }

    /// The committed offsets (and metadata) of `partitions` of task `id`.
    private func readCommitted(_ partitions: [TopicPartition], task id: TaskId) throws(StreamsError)
        -> [KafkaTopicPartitionOffset]
    {
        var committed: [KafkaTopicPartitionOffset] = []
        try retrying("committed offsets of task \(id)", task: nil) { () throws(KafkaError) in
            committed = try consumer.committed(
                partitions.map { KafkaTopicPartition(topic: $0.topic, partition: $0.partition) },
                timeout: settings.requestTimeout)
        }
        return committed
    }

    /// Drops what the engine keeps for partitions that left, and the producers of their tasks.
    private func forget(_ partitions: [TopicPartition]) {
        assigned.subtract(partitions)
        awaitingStart.subtract(partitions)
        paused.subtract(partitions)
        for tp in partitions {
            atEnd.remove(tp)
            resumeOffsets[tp] = nil
            positions[tp] = nil
            committedOffsets[tp] = nil
        }
        for id in Set(partitions.compactMap(task(of:))) {
            if let task = dropProducer(of: id) { abortTransaction(task) }
            committedStreamTimes[id] = nil
            abortStreaks[id] = nil
            assignedCommits[id] = nil
            for (changelog, _) in changelogs where changelog.taskId == id { changelogs[changelog] = nil }
        }
    }

    // MARK: RecordPoller

    package func poll(maxRecords: Int, timeout: Duration) throws(StreamsError) -> [InputBatch] {
        if let error = pendingError {
            pendingError = nil
            throw error
        }
        // Wait for records only when no task has any buffered (all assigned partitions resumed).
        let wait = paused.isEmpty ? max(timeout, settings.pollTimeout) : timeout
        do {
            try consumer.poll(into: &batch, maxMessages: max(1, min(maxRecords, batch.capacity)), timeout: wait)
        } catch  where error.codeName == "FENCED_INSTANCE_ID" {
            throw StreamsError(
                .engine,
                "the consumer was fenced by another member of group \(settings.applicationId) with the same group.instance.id, which took over its partitions (\(error)); every instance needs its own group.instance.id: this one stops, its open transactions aborted",
                underlying: error)
        } catch {
            throw StreamsError(.engine, "polling Kafka failed: \(error)", underlying: error)
        }
        if let error = pendingError {
            pendingError = nil
            throw error
        }
        for error in batch.errors { logger.warning("Kafka consumer: \(error)") }
        let batches = batch.count > 0 ? makeBatches() : []
        // After the records: an end reported in the same poll as records before it still counts.
        for end in batch.partitionEnds {
            let tp = TopicPartition(topic: end.topicPartition.topic, partition: end.topicPartition.partition)
            if (end.offset ?? 0) >= (positions[tp] ?? 0) { atEnd.insert(tp) }
        }
        return batches
    }

    /// The polled messages as records, per partition in offset order, keys and values in one buffer.
    private func makeBatches() -> [InputBatch] {
        var size = 0
        for i in 0..<batch.count {
            let message = batch[i].message.pointee
            size += message.key_len + message.len
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        var spans: [(partition: Int, key: Range<Int>?, value: Range<Int>)] = []
        spans.reserveCapacity(batch.count)
        var keep: [Int] = []
        keep.reserveCapacity(batch.count)
        // Per partition of this poll: what is looked up once (records come in runs of one
        // partition, so a record costs no hashing of its topic name).
        var partitions: [TopicPartition] = []
        var dropped: [Bool] = []
        var resumes: [Int64?] = []
        var counts: [Int] = []
        var lastOffsets: [Int64] = []
        var current = (handle: OpaquePointer?.none, partition: Int32(-1), index: -1)
        for i in 0..<batch.count {
            let message = batch[i]
            let handle = message.message.pointee.rkt
            if handle != current.handle || message.partition != current.partition {
                let tp = TopicPartition(topic: topicName(handle), partition: message.partition)
                let index =
                    partitions.firstIndex(of: tp)
                    ?? {
                        partitions.append(tp)
                        dropped.append(awaitingStart.contains(tp))  // read again once the task starts
                        resumes.append(resumeOffsets[tp])
                        counts.append(0)
                        lastOffsets.append(-1)
                        return partitions.count - 1
                    }()
                current = (handle, message.partition, index)
            }
            let index = current.index
            if dropped[index] { continue }
            if let resume = resumes[index], message.offset < resume { continue }  // fetched before the rewind
            var keyRange: Range<Int>?
            if let key = message.key {
                let start = bytes.count
                bytes.append(contentsOf: key)
                keyRange = start..<bytes.count
            }
            let start = bytes.count
            if let value = message.value { bytes.append(contentsOf: value) }
            spans.append((index, keyRange, start..<bytes.count))
            keep.append(i)
            counts[index] += 1
            lastOffsets[index] = message.offset
        }
        var batches = partitions.indices.map { InputBatch(partition: partitions[$0], records: []) }
        for index in partitions.indices where counts[index] > 0 {
            batches[index].records.reserveCapacity(counts[index])
            atEnd.remove(partitions[index])
            positions[partitions[index]] = lastOffsets[index] + 1
        }
        for (n, i) in keep.enumerated() {
            let message = batch[i]
            let span = spans[n]
            var headers: [RecordHeader] = []
            var cHeaders: OpaquePointer?
            if rd_kafka_message_headers(message.message, &cHeaders) == RD_KAFKA_RESP_ERR_NO_ERROR, cHeaders != nil {
                headers = message.headers.map { RecordHeader(name: $0.name, value: $0.value) }
            }
            batches[span.partition].records.append(
                Record(
                    key: span.key.map { bytes[$0] },
                    value: bytes[span.value],
                    timestampMs: message.timestampMs ?? 0,
                    headers: headers,
                    origin: RecordOrigin(partition: partitions[span.partition], offset: message.offset)
                ))
        }
        return batches.filter { !$0.records.isEmpty }
    }

    private func topicName(_ handle: OpaquePointer?) -> String {
        guard let handle else { return "" }
        for entry in topicNames where entry.handle == handle { return entry.name }
        let name = String(cString: rd_kafka_topic_name(handle))
        topicNames.append((handle, name))
        return name
    }

    /// ``InputPartitionStatus/caughtUp`` at the partition's end (or when it is not assigned here),
    /// ``InputPartitionStatus/active`` otherwise.
    package func status(of partition: TopicPartition) -> InputPartitionStatus {
        assigned.contains(partition) && !atEnd.contains(partition) ? .active : .caughtUp
    }

    package func pause(_ partitions: [TopicPartition]) {
        let owned = partitions.filter { assigned.contains($0) }
        paused.formUnion(owned)
        guard !owned.isEmpty else { return }
        do { try consumer.pause(owned.map { KafkaTopicPartition(topic: $0.topic, partition: $0.partition) }) } catch {
            logger.debug("pause: \(error)")
        }
    }

    package func resume(_ partitions: [TopicPartition]) {
        let owned = partitions.filter { paused.contains($0) }
        paused.subtract(owned)
        guard !owned.isEmpty else { return }
        do { try consumer.resume(owned.map { KafkaTopicPartition(topic: $0.topic, partition: $0.partition) }) } catch {
            logger.debug("resume: \(error)")
        }
    }

    // MARK: RecordCollector

    package func sinkHandle(topic: String, sink: String, task: TaskId) throws(StreamsError) -> SinkHandle {
        sinks.append(Route(topic: topic, task: task, changelog: nil))
        if let producer = producers[task] { prepare(topic, for: producer) }
        return SinkHandle(sinks.count - 1)
    }

    package func send(_ record: Record, to handle: SinkHandle) throws(StreamsError) {
        let (task, topic) = try route(sink: handle.index)
        try beginIfNeeded(task)
        let headers = record.headers.isEmpty ? [] : record.headers.map { KafkaHeader(name: $0.name, value: $0.value) }
        let result = withBytes(record.key) { key in
            withBytes(record.value) { value in
                Result { () throws(KafkaError) in
                    try task.producer.produce(
                        to: topic, key: key, value: value,
                        timestampMs: record.timestampMs >= 0 ? record.timestampMs : nil, headers: headers)
                }
            }
        }
        if case .failure(let error) = result {
            throw failure(error, task: task, "produce to \(sinks[handle.index].topic)")
        }
    }

    /// The producer and topic handle of sink `index`, resolved on its first record.
    @inline(__always)
    private func route(sink index: Int) throws(StreamsError) -> (TaskProducer, KafkaProducer.Topic) {
        if let producer = sinks[index].producer, !producer.broken, let handle = sinks[index].handle {
            return (producer, handle)
        }
        let task = try producer(for: sinks[index].task)
        let handle: KafkaProducer.Topic
        do { handle = try task.producer.topic(sinks[index].topic) } catch {
            throw failure(error, task: task, "produce to \(sinks[index].topic)")
        }
        sinks[index].producer = task
        sinks[index].handle = handle
        return (task, handle)
    }

    /// Removes task `id`'s producer and the routes that reach it (its records resolve them again,
    /// with the task's next producer). Returns the producer.
    @discardableResult
    private func dropProducer(of id: TaskId) -> TaskProducer? {
        for i in sinks.indices where sinks[i].task == id { sinks[i].clear() }
        for i in changelogRoutes.indices where changelogRoutes[i].task == id { changelogRoutes[i].clear() }
        return producers.removeValue(forKey: id)
    }

    // MARK: ChangelogWriter

    package func changelogSink(for changelog: ChangelogID) -> any ChangelogSink {
        changelogRoutes.append(
            Route(
                topic: settings.changelogTopic(store: changelog.storeName), task: changelog.taskId, changelog: changelog
            ))
        return KafkaChangelogSink(engine: self, route: changelogRoutes.count - 1)
    }

    /// The changelog's state, made on first use (its topic is created at the restore's start).
    func changelog(_ id: ChangelogID) -> Changelog {
        if let existing = changelogs[id] { return existing }
        // Tags number the changelogs of one task (one producer): 1, 2, …
        let tag = changelogs.keys.filter { $0.taskId == id.taskId }.count + 1
        let made = Changelog(
            id: id, topic: settings.changelogTopic(store: id.storeName), partition: id.taskId.partition, tag: tag)
        changelogs[id] = made
        return made
    }

    /// Produces one changelog record in the task's transaction (key = store key + timestamp), for
    /// the changelog of route `index` (``changelogSink(for:)``).
    func appendChangelog(route index: Int, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?)
        throws(StateStoreError)
    {
        do {
            let (task, handle, log) = try route(changelog: index)
            try beginIfNeeded(task)
            do {
                try task.producer.produce(to: handle, partition: log.partition, key: key, value: value, tag: log.tag)
            } catch {
                throw failure(error, task: task, "produce to \(log.topic)")
            }
        } catch {
            // The engine's error stays underneath: a fenced or failed producer is the task's
            // error (the runtime closes or restarts that task), not a failed store.
            throw StateStoreError(
                .storage,
                "cannot write the changelog \(changelogRoutes[index].topic)[\(changelogRoutes[index].task.partition)]: \(error)",
                underlying: error)
        }
    }

    /// The producer, topic handle and changelog of changelog route `index`, resolved on its first
    /// record (as ``route(sink:)``).
    @inline(__always)
    private func route(changelog index: Int) throws(StreamsError) -> (TaskProducer, KafkaProducer.Topic, Changelog) {
        if let producer = changelogRoutes[index].producer, !producer.broken,
            let handle = changelogRoutes[index].handle, let log = changelogRoutes[index].log
        {
            return (producer, handle, log)
        }
        let log = changelog(changelogRoutes[index].changelog!)
        let task = try producer(for: changelogRoutes[index].task)
        let handle: KafkaProducer.Topic
        do { handle = try task.producer.topic(log.topic) } catch {
            throw failure(error, task: task, "produce to \(log.topic)")
        }
        changelogRoutes[index].producer = task
        changelogRoutes[index].handle = handle
        changelogRoutes[index].log = log
        return (task, handle, log)
    }

    // MARK: ChangelogReader

    package func changelogEnd(_ id: ChangelogID) throws(StreamsError) -> ChangelogPosition? {
        let log = changelog(id)
        try ensureChangelogTopic(log)
        if let producer = producers[id.taskId] { prepare(log.topic, for: producer) }
        if log.committedEnd == nil && tasksWithoutCommit.contains(id.taskId) { log.committedEnd = 0 }
        let watermarks = try watermarks(log.topic, log.partition, task: id.taskId)
        let end = ChangelogPosition(min(watermarks.high, log.committedEnd ?? .max))
        logger.debug("restoring \(log.topic)[\(log.partition)] up to \(end)")
        log.position = end
        return end
    }

    /// `<topic>[<partition>]` of the changelog.
    package func describe(_ id: ChangelogID) -> String {
        "\(settings.changelogTopic(store: id.storeName))[\(id.taskId.partition)]"
    }

    package func readChangelog(_ id: ChangelogID, from position: ChangelogPosition, maxEntries: Int)
        throws(StreamsError) -> ChangelogBatch
    {
        let log = changelog(id)
        let reader = try restoreReader()
        if restoreAssignment?.topic != log.topic || restoreAssignment?.partition != log.partition
            || restoreAssignment?.next != position.offset
        {
            let range = try watermarks(log.topic, log.partition, task: id.taskId)
            guard position.offset <= range.high else {
                throw StreamsError(
                    .taskCorrupted,
                    "the store '\(id.storeName)' of task \(id.taskId) is at changelog position \(position), past the end \(range.high) of \(log.topic)[\(log.partition)] (was the topic recreated?); the store is rebuilt",
                    taskId: id.taskId)
            }
            // Records before the low watermark were deleted by retention (older than every window
            // the store keeps) or compacted away (superseded by later records of the same key):
            // reading on from the low watermark gives the same store.
            let start = max(position.offset, range.low)
            // The fetch starts at the low watermark, not at `start`; the records before `start`
            // are read and dropped (`next`). A read_committed fetch that starts past the marker
            // of an aborted transaction may get that transaction in its aborted list anyway
            // (noida-db 0.2.3 does), and librdkafka then skips every later batch of its producer
            // id (the task's, whatever its epoch), up to an abort marker that never comes: the
            // committed entries after the store's position would be lost. From the low watermark
            // every abort marker is read, which ends the skipping.
            do {
                try reader.assign([
                    KafkaTopicPartitionOffset(topic: log.topic, partition: log.partition, offset: range.low)
                ])
            } catch {
                throw StreamsError(.engine, "cannot read the changelog \(log.topic): \(error)", underlying: error)
            }
            restoreAssignment = (log.topic, log.partition, start)
        }
        do {
            try reader.poll(
                into: &restoreBatch, maxMessages: max(1, min(maxEntries, restoreBatch.capacity)),
                timeout: .milliseconds(50))
        } catch {
            throw StreamsError(.engine, "cannot read the changelog \(log.topic): \(error)", underlying: error)
        }
        var next = restoreAssignment?.next ?? position.offset
        var entries: [ChangelogEntry] = []
        entries.reserveCapacity(restoreBatch.count)
        for i in 0..<restoreBatch.count {
            let message = restoreBatch[i]
            guard message.partition == log.partition, message.offset >= next,
                message.offset < log.committedEnd ?? .max, let key = message.key, key.count >= 8
            else { continue }
            var timestamp: Int64 = 0
            for byte in key[(key.count - 8)...] { timestamp = timestamp << 8 | Int64(byte) }
            entries.append(
                ChangelogEntry(
                    key: Array(key[..<(key.count - 8)]), timestampMs: timestamp, value: message.value.map { Array($0) })
            )
            next = message.offset + 1
        }
        // The end of the partition (read_committed: its last stable offset) lies past any
        // transaction marker after the last record: the consumer's position moves past markers.
        for end in restoreBatch.partitionEnds
        where end.topicPartition.topic == log.topic && end.topicPartition.partition == log.partition {
            if let offset = end.offset, offset > next { next = offset }
        }
        if entries.isEmpty,
            let position = try? reader.position([KafkaTopicPartition(topic: log.topic, partition: log.partition)])
                .first?.offset, position > next
        {
            next = position
        }
        if let limit = log.committedEnd, next > limit { next = max(limit, position.offset) }
        restoreBatch.removeAll()
        logger.trace("read \(entries.count) entries of \(log.topic)[\(log.partition)] from \(position): next \(next)")
        restoreAssignment?.next = next
        return ChangelogBatch(entries: entries, nextPosition: ChangelogPosition(next))
    }

    private func restoreReader() throws(StreamsError) -> KafkaConsumer {
        if let restoreConsumer { return restoreConsumer }
        var properties = settings.clientProperties(prefix: "consumer.")
        properties["group.id"] = "\(settings.applicationId)-restore"
        properties["group.instance.id"] = nil
        properties["enable.auto.commit"] = "false"
        properties["enable.partition.eof"] = "true"
        properties["isolation.level"] = "read_committed"
        properties["auto.offset.reset"] = "earliest"
        do {
            let made = try KafkaConsumer(
                configuration: KafkaConfiguration(bootstrapServers: settings.bootstrapServers, properties))
            restoreConsumer = made
            return made
        } catch {
            throw StreamsError(.invalidConfiguration, "the restore consumer: \(error)", underlying: error)
        }
    }

    private func watermarks(_ topic: String, _ partition: Int32, task: TaskId) throws(StreamsError) -> KafkaWatermarks {
        var result = KafkaWatermarks(low: 0, high: 0)
        try retrying("watermarks of \(topic)[\(partition)]", task: nil) { () throws(KafkaError) in
            result = try consumer.watermarks(topic: topic, partition: partition, timeout: settings.requestTimeout)
        }
        return result
    }

    /// Creates the changelog's topic unless it exists (see the type's documentation).
    private func ensureChangelogTopic(_ log: Changelog) throws(StreamsError) {
        if let partitions = changelogTopics[log.topic], partitions > log.partition { return }
        let admin = try adminClient()
        var inputPartitions: Int32 = log.partition + 1
        for topic in description.sourceTopics(ofSubtopology: log.id.taskId.subtopology) {
            let count = try partitionCount(topic) ?? 0
            inputPartitions = max(inputPartitions, count)
        }
        var configs = ["cleanup.policy": "compact"]
        let windowStore =
            (listener as? TaskManager)?.tasks.first(where: { $0.id == log.id.taskId })?
            .store(named: log.id.storeName) as? any WindowStore
        if let windowStore {
            let margin = settings.changelogRetentionMargin.components.seconds * 1_000
            let (retention, overflow) = windowStore.retentionMs.addingReportingOverflow(margin)
            configs = ["cleanup.policy": "compact,delete", "retention.ms": overflow ? "-1" : "\(retention)"]
        }
        do {
            try admin.createTopics(
                [KafkaNewTopic(name: log.topic, partitions: inputPartitions, configs: configs)],
                timeout: settings.requestTimeout)
            logger.info("created changelog topic \(log.topic) (\(inputPartitions) partitions, \(configs))")
            changelogTopics[log.topic] = inputPartitions
        } catch  where error.code == .topicAlreadyExists {
            let existing = try partitionCount(log.topic, refresh: true) ?? 0
            guard existing > log.partition else {
                throw StreamsError(
                    .invalidConfiguration,
                    "the changelog topic \(log.topic) has \(existing) partitions, task \(log.id.taskId) needs partition \(log.partition); delete the topic (it is rebuilt) or give it \(inputPartitions) partitions"
                )
            }
            changelogTopics[log.topic] = existing
            if let windowStore { checkRetention(of: log.topic, keeps: windowStore.retentionMs, admin: admin) }
        } catch {
            throw StreamsError(.engine, "cannot create the changelog topic \(log.topic): \(error)", underlying: error)
        }
    }

    /// Warns when an existing changelog topic deletes records sooner than its window store keeps
    /// entries (`retention.ms` lowered by hand, or a topic made by someone else): a store rebuilt
    /// from it would miss the entries deleted in between, and let their keys' repeats through.
    private func checkRetention(of topic: String, keeps storeRetentionMs: Int64, admin: KafkaAdminClient) {
        let configuration: [String: String]
        do { configuration = try admin.topicConfiguration(topic, timeout: settings.requestTimeout) } catch {
            logger.debug("the configuration of \(topic): \(error)")
            return
        }
        guard configuration["cleanup.policy"]?.contains("delete") ?? false,
            let retention = configuration["retention.ms"].flatMap({ Int64($0) }), retention >= 0,
            retention < storeRetentionMs
        else { return }
        logger.warning(
            "the changelog topic \(topic) deletes records after \(retention) ms (retention.ms), sooner than its window store keeps entries (\(storeRetentionMs) ms): a store rebuilt from it misses older entries and lets their repeats through; raise the topic's retention.ms to at least \(storeRetentionMs)"
        )
    }

    private func partitionCount(_ topic: String, refresh: Bool = false) throws(StreamsError) -> Int32? {
        if !refresh, let known = topicPartitionCounts[topic] { return known }
        let admin = try adminClient()
        var described: KafkaTopicDescription?
        try retrying("describe topic \(topic)", task: nil) { () throws(KafkaError) in
            described = try admin.describeTopic(topic, timeout: settings.requestTimeout)
        }
        guard let described else { return nil }
        topicPartitionCounts[topic] = Int32(described.partitions.count)
        return Int32(described.partitions.count)
    }

    private func adminClient() throws(StreamsError) -> KafkaAdminClient {
        if let admin { return admin }
        do {
            let made = try KafkaAdminClient(
                configuration: KafkaConfiguration(
                    bootstrapServers: settings.bootstrapServers, settings.clientProperties(prefix: "producer.")))
            admin = made
            return made
        } catch {
            throw StreamsError(.invalidConfiguration, "the Kafka admin client: \(error)", underlying: error)
        }
    }

    // MARK: CommitCoordinator

    /// At-least-once: in the committed offsets' metadata, after the stream time, each
    /// changelog's position as `;changelog.<store>=<offset>`.
    static let changelogMetadataPrefix = "changelog."

    package func commit(_ unit: CommitUnit) throws(StreamsError) -> [ChangelogID: ChangelogPosition] {
        var positions: [ChangelogID: ChangelogPosition] = [:]
        for part in unit.tasks {
            let task = try producer(for: part.taskId)
            let metadata = part.streamTimeMs == .min ? nil : String(part.streamTimeMs)
            let offsets = part.consumedOffsets.sorted { $0.key < $1.key }.map {
                KafkaTopicPartitionOffset(
                    topic: $0.key.topic, partition: $0.key.partition, offset: $0.value + 1, metadata: metadata)
            }
            switch settings.guarantee {
            case .exactlyOnce:
                if !offsets.isEmpty || task.inTransaction {
                    try beginIfNeeded(task)
                    if !offsets.isEmpty {
                        let group = consumer.groupMetadata()
                        try retrying("send_offsets_to_transaction", task: part.taskId) { () throws(KafkaError) in
                            try task.producer.sendOffsetsToTransaction(
                                offsets, groupMetadata: group, timeout: settings.requestTimeout)
                        }
                    }
                    try retrying("commit_transaction", task: part.taskId) { () throws(KafkaError) in
                        try task.producer.commitTransaction(timeout: settings.requestTimeout)
                    }
                    task.inTransaction = false
                }
                if !offsets.isEmpty { committed(offsets, task: part.taskId) }
            case .atLeastOnce:
                try retrying("flush", task: part.taskId) { () throws(KafkaError) in
                    try task.producer.flush(timeout: settings.requestTimeout)
                }
                if !offsets.isEmpty {
                    // The changelogs' positions after the flush go with the offsets (see
                    // `Changelog.committedEnd`).
                    var described = metadata ?? ""
                    for id in part.changelogs.sorted(by: { $0.storeName < $1.storeName }) {
                        let log = changelog(id)
                        let end = max(
                            log.position?.offset ?? 0, (task.producer.lastDeliveredOffset(tag: log.tag) ?? -1) + 1)
                        described += ";\(Self.changelogMetadataPrefix)\(id.storeName)=\(end)"
                    }
                    let offsets = offsets.map {
                        KafkaTopicPartitionOffset($0.topicPartition, offset: $0.offset, metadata: described)
                    }
                    do { try consumer.commit(offsets) } catch {
                        throw StreamsError(
                            .taskMigrated, "cannot commit the offsets of task \(part.taskId): \(error)",
                            underlying: error, taskId: part.taskId)
                    }
                    committed(offsets, task: part.taskId)
                }
            }
            if part.streamTimeMs != .min { committedStreamTimes[part.taskId] = part.streamTimeMs }
            for id in part.changelogs {
                let log = changelog(id)
                if let last = task.producer.lastDeliveredOffset(tag: log.tag),
                    last + 1 > (log.position?.offset ?? 0)
                {
                    log.position = ChangelogPosition(last + 1)
                }
                positions[id] = log.position ?? .beginning
            }
        }
        return positions
    }

    /// Notes offsets committed for `task`, which ends its streak of aborts (it made progress).
    private func committed(_ offsets: [KafkaTopicPartitionOffset], task: TaskId) {
        abortStreaks[task] = nil
        for entry in offsets {
            committedOffsets[
                TopicPartition(topic: entry.topicPartition.topic, partition: entry.topicPartition.partition)] =
                entry.offset
        }
    }

    package func abort() {
        for task in producers.values { abort(task: task.id) }
    }

    package func abort(task id: TaskId) {
        guard let task = producers[id] else { return }
        abortTransaction(task)
        if task.broken { dropProducer(of: id) }
    }

    /// The task's committed offsets (after `init_transactions`, so that a zombie's open
    /// transaction is over): those read at its assignment, where its partitions were assigned, or
    /// else read now, with its partitions moved to them. Returns the largest stream time
    /// committed with them. Errors are thrown by the next poll, for the task.
    package func committedStreamTimeMs(for id: TaskId) -> Int64? {
        let partitions = inputs(of: id).filter { assigned.contains($0) }
        do {
            _ = try producer(for: id)
            let atAssignment = assignedCommits.removeValue(forKey: id)
            let committed: [KafkaTopicPartitionOffset]
            if let atAssignment {
                committed = atAssignment
            } else {
                committed = try readCommitted(partitions, task: id)
            }
            var streamTime: Int64?
            var seeks: [KafkaTopicPartitionOffset] = []
            for (changelog, log) in changelogs where changelog.taskId == id { log.committedEnd = nil }
            abortStreaks[id]?.counted = false
            if settings.guarantee == .atLeastOnce && committed.allSatisfy({ $0.offset == nil }) {
                tasksWithoutCommit.insert(id)
            } else {
                tasksWithoutCommit.remove(id)
            }
            for entry in committed {
                let tp = TopicPartition(topic: entry.topicPartition.topic, partition: entry.topicPartition.partition)
                if atAssignment == nil {
                    atEnd.remove(tp)
                    awaitingStart.remove(tp)
                    if let offset = entry.offset {
                        seeks.append(entry)
                        resumeOffsets[tp] = offset
                    } else {
                        // No commit yet: from where auto.offset.reset says (records fetched meanwhile
                        // were dropped while the task started).
                        resumeOffsets[tp] = nil
                        seeks.append(.init(entry.topicPartition, offset: resetOffset))
                    }
                    positions[tp] = entry.offset ?? 0
                }
                committedOffsets[tp] = entry.offset
                let fields = entry.metadata?.split(separator: ";", omittingEmptySubsequences: false) ?? []
                if let time = fields.first.flatMap({ Int64($0) }) { streamTime = max(streamTime ?? .min, time) }
                if settings.guarantee == .atLeastOnce {
                    for field in fields.dropFirst() where field.hasPrefix(Self.changelogMetadataPrefix) {
                        guard let equals = field.lastIndex(of: "="),
                            let end = Int64(field[field.index(after: equals)...])
                        else { continue }
                        let store = String(
                            field[field.index(field.startIndex, offsetBy: Self.changelogMetadataPrefix.count)..<equals])
                        let log = changelog(ChangelogID(taskId: id, storeName: store))
                        log.committedEnd = min(log.committedEnd ?? .max, end)
                    }
                }
            }
            // Read now (a task started again after an abort, or whose offsets could not be read at
            // its assignment): move the partitions explicitly. librdkafka's own committed-offset
            // fetch ran before init_transactions (a zombie's transaction may have been open), and
            // noida-db answers its require-stable fetch with no offset (it would start over).
            let moves = seeks
            if !moves.isEmpty {
                try retrying("seek task \(id) to its committed offsets", task: nil) { () throws(KafkaError) in
                    try consumer.seek(
                        moves.map { .init($0.topicPartition, offset: $0.offset) }, timeout: settings.requestTimeout)
                }
            }
            if let streamTime { committedStreamTimes[id] = streamTime }
            return streamTime ?? committedStreamTimes[id]
        } catch {
            var error = error
            if error.taskId == nil {
                error = StreamsError(
                    .taskCorrupted, "task \(id) cannot start: \(error.message)", underlying: error, taskId: id)
            }
            pendingError = pendingError ?? error
            return nil
        }
    }

    // MARK: Tests

    /// Raises `code` as the fatal error of `task`'s producer (``KafkaProducer/raiseFatalErrorForTesting(_:reason:)``):
    /// its next produce, begin or commit fails as after a fatal error from the broker.
    package func raiseFatalErrorForTesting(task: TaskId, _ code: KafkaError.Code, reason: String) {
        producers[task]?.producer.raiseFatalErrorForTesting(code, reason: reason)
    }

    /// Records fetched by the consumer and not polled yet (tests wait for them).
    package var queuedEventCount: Int { consumer.queuedEventCount }

    /// The assigned input partitions.
    package var assignedPartitions: Set<TopicPartition> { assigned }
}

/// A store's changelog: each mutation becomes a record of the task's transaction.
final class KafkaChangelogSink: ChangelogSink {
    /// The engine outlives the task's stores (it closes after the tasks).
    unowned let engine: KafkaEngine
    /// The engine's route of this changelog (``KafkaEngine/appendChangelog(route:key:value:)``).
    let route: Int
    private var key: [UInt8] = []

    init(engine: KafkaEngine, route: Int) {
        self.engine = engine
        self.route = route
    }

    func append(key: UnsafeRawBufferPointer, timestampMs: Int64, value: UnsafeRawBufferPointer?) throws(StateStoreError)
    {
        self.key.removeAll(keepingCapacity: true)
        self.key.append(contentsOf: key)
        // The timestamp, 8 bytes big-endian, in one append.
        withUnsafeBytes(of: timestampMs.bigEndian) { self.key.append(contentsOf: $0) }
        let result = self.key.withUnsafeBytes { bytes in
            withBytes(value) { value in
                Result { () throws(StateStoreError) in
                    try engine.appendChangelog(route: route, key: bytes, value: value)
                }
            }
        }
        try result.get()
    }
}

/// A byte to point at for empty keys and values (a null pointer would mean "none").
nonisolated(unsafe) private let emptyBytes = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)

/// `bytes` as a buffer for librdkafka: `nil` stays `nil`, empty gets a non-null pointer.
@inline(__always)
func withBytes<R>(_ bytes: ArraySlice<UInt8>?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { buffer in
        body(buffer.baseAddress == nil ? UnsafeRawBufferPointer(start: emptyBytes, count: 0) : buffer)
    }
}

/// `bytes` as a buffer for librdkafka: `nil` stays `nil`, empty gets a non-null pointer.
@inline(__always)
func withBytes<R>(_ bytes: UnsafeRawBufferPointer?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return body(bytes.baseAddress == nil ? UnsafeRawBufferPointer(start: emptyBytes, count: 0) : bytes)
}
