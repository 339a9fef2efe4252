import Foundation
import StreamsKafka
import StreamsTestSupport
import Testing

/// The librdkafka wrappers against a real broker process (noida-db), one broker per test.
@Suite("Kafka clients against noida-db", .enabled(if: KafkaBroker.isRunnable, KafkaBroker.skipMessage))
struct KafkaClientTests {
    @Test("records round-trip with keys, values, headers, timestamps, partitions and offsets")
    func roundTrip() async throws {
        try await KafkaBroker.with { broker in
            try broker.createTopics([KafkaNewTopic(name: "events", partitions: 2)])
            let producer = try KafkaProducer(configuration: broker.configuration(["acks": "all"]))
            let headers = [
                KafkaHeader(name: "source", text: "test"), KafkaHeader(name: "empty", value: nil),
                KafkaHeader(name: "source", value: [0, 255]),
            ]
            try producer.produce(
                topic: "events", partition: 0, key: Array("k1".utf8), value: Array("v1".utf8), timestampMs: 1_000,
                headers: headers)
            try producer.produce(topic: "events", partition: 0, key: nil, value: Array("v2".utf8), timestampMs: 2_000)
            try producer.produce(topic: "events", partition: 1, key: Array("k3".utf8), value: [], timestampMs: 3_000)
            try producer.produce(topic: "events", partition: 0, key: Array("k4".utf8), value: nil, timestampMs: 4_000)
            try producer.flush(timeout: patience)
            #expect(producer.deliveredCount == 4)

            let consumer = try broker.consumer(group: "round-trip")
            var events: [KafkaRebalanceEvent] = []
            try consumer.subscribe(topics: ["events"]) { _, event in events.append(event) }
            let received = try receive(4, from: consumer).sorted {
                ($0.partition, $0.offset) < ($1.partition, $1.offset)
            }
            try #require(received.count == 4)
            let p0 = KafkaTopicPartition(topic: "events", partition: 0)
            let p1 = KafkaTopicPartition(topic: "events", partition: 1)
            #expect(events.first == .assigned([p0, p1]))
            #expect(received.map(\.partition) == [0, 0, 0, 1])
            #expect(received.map(\.offset) == [0, 1, 2, 0])
            #expect(received.map(\.key) == ["k1", nil, "k4", "k3"])
            #expect(received.map(\.value) == ["v1", "v2", nil, ""])
            #expect(received.map(\.timestampMs) == [1_000, 2_000, 4_000, 3_000])
            #expect(received[0].headers == headers)
            #expect(received[1].headers.isEmpty)
            #expect(received.allSatisfy { $0.topic == "events" })

            #expect(try consumer.position([p0, p1]).map(\.offset) == [3, 1])
            #expect(
                try consumer.watermarks(topic: "events", partition: 0, timeout: patience)
                    == KafkaWatermarks(low: 0, high: 3))
            #expect(try consumer.assignment() == [p0, p1])
            #expect(consumer.rebalanceProtocol == "EAGER")
            try consumer.close()
            #expect(events.last == .revoked([p0, p1]))
        }
    }

    @Test(
        "startingOffsets places assigned partitions before they are assigned; one it leaves out starts at its committed offset"
    )
    func startingOffsets() async throws {
        try await KafkaBroker.with { broker in
            try broker.createTopics([KafkaNewTopic(name: "events", partitions: 2)])
            let producer = try KafkaProducer(configuration: broker.configuration(["acks": "all"]))
            for i in 0..<10 {
                for partition: Int32 in [0, 1] {
                    try producer.produce(
                        topic: "events", partition: partition, key: nil, value: Array("\(partition)-\(i)".utf8))
                }
            }
            try producer.flush(timeout: patience)
            let p0 = KafkaTopicPartition(topic: "events", partition: 0)
            let p1 = KafkaTopicPartition(topic: "events", partition: 1)
            // The group committed offset 4 on partition 1 (and nothing on partition 0) earlier.
            try broker.consumer(group: "starts").commit([KafkaTopicPartitionOffset(p1, offset: 4)])

            let consumer = try broker.consumer(group: "starts")
            var asked: [[KafkaTopicPartition]] = []
            var committedThen: [Int64?] = []
            try consumer.subscribe(
                topics: ["events"],
                startingOffsets: { consumer, partitions in
                    asked.append(partitions)
                    committedThen = (try? consumer.committed(partitions, timeout: patience).map(\.offset)) ?? []
                    return [KafkaTopicPartitionOffset(p0, offset: 7)]
                })
            let received = try receive(3 + 6, from: consumer)
            #expect(asked == [[p0, p1]])
            #expect(committedThen == [nil, 4], "committed offsets can be read before the assignment")
            #expect(received.filter { $0.partition == 0 }.map(\.offset) == [7, 8, 9])
            #expect(received.filter { $0.partition == 1 }.map(\.offset) == [4, 5, 6, 7, 8, 9])
            try consumer.close()
        }
    }

    @Test("a consumer released while a batch still holds its messages is destroyed with the batch, without hanging")
    func batchOutlivesItsConsumer() async throws {
        try await KafkaBroker.with { broker in
            try broker.createTopics([KafkaNewTopic(name: "held", partitions: 1)])
            let producer = try KafkaProducer(configuration: broker.configuration(["acks": "all"]))
            for i in 0..<5 { try producer.produce(topic: "held", key: nil, value: Array("v\(i)".utf8)) }
            try producer.flush(timeout: patience)
            // librdkafka's rd_kafka_destroy waits for every message of the consumer to be
            // destroyed: without the batch keeping its consumer alive, releasing the consumer
            // first blocked that thread forever.
            let done = DispatchSemaphore(value: 0)
            let thread = Thread {
                var batch = KafkaMessageBatch(capacity: 10)
                do {
                    var consumer: KafkaConsumer? = try broker.consumer(group: "held")
                    try consumer?.assign([KafkaTopicPartitionOffset(topic: "held", partition: 0, offset: 0)])
                    let deadline = ContinuousClock.now + patience
                    while batch.isEmpty && ContinuousClock.now < deadline {
                        try consumer?.poll(into: &batch, timeout: .milliseconds(200))
                    }
                    consumer = nil
                } catch {
                    Issue.record("\(error)")
                }
                let held = batch.count
                #expect(held > 0)
                _ = consume batch
                done.signal()
            }
            thread.start()
            #expect(done.wait(timeout: .now() + 60) == .success, "the consumer's destruction hung")
        }
    }

    @Test(
        "prepare learns a topic's partitions before the first record; a record produced to its handle then is delivered; another producer's handle is refused"
    )
    func prepareTopic() async throws {
        try await KafkaBroker.with { broker in
            try broker.createTopics([KafkaNewTopic(name: "three", partitions: 3)])
            let producer = try KafkaProducer(configuration: broker.configuration(["acks": "all"]))
            #expect(try producer.prepare(topic: "three", timeout: patience) == 3)
            #expect(try producer.prepare(topic: "three", timeout: patience) == 3, "a second call asks again")
            let topic = try producer.topic("three")
            #expect(topic.name == "three")
            try Array("k".utf8).withUnsafeBytes { key in
                try Array("v".utf8).withUnsafeBytes { value in try producer.produce(to: topic, key: key, value: value) }
            }
            try producer.flush(timeout: patience)
            #expect(producer.deliveredCount == 1)
            // Another producer's handle is refused, not sent through this one.
            let other = try KafkaProducer(configuration: broker.configuration())
            let error = try #require(throws: KafkaError.self) {
                try Array("v".utf8).withUnsafeBytes { value in try other.produce(to: topic, key: nil, value: value) }
            }
            #expect(error.code == .invalidArgument && error.errorClass == .permanent, "\(error)")
            #expect(error.message.contains("another producer's"), "\(error)")
        }
    }

    @Test("a committed transaction is visible to read_committed readers; an aborted one only to read_uncommitted")
    func transactionsAndIsolation() async throws {
        try await KafkaBroker.with { broker in
            try broker.createTopics([KafkaNewTopic(name: "out", partitions: 1)])
            let producer = try KafkaProducer(configuration: broker.configuration(["transactional.id": "tx-1"]))
            try producer.initTransactions(timeout: patience)
            func transaction(_ values: [String], commit: Bool) throws {
                try producer.beginTransaction()
                for value in values { try producer.produce(topic: "out", key: nil, value: Array(value.utf8)) }
                if commit {
                    try producer.commitTransaction(timeout: patience)
                } else {
                    try producer.flush(timeout: patience)  // the aborted records reach the log
                    try producer.abortTransaction(timeout: patience)
                }
            }
            try transaction(["c1", "c2"], commit: true)
            try transaction(["a1", "a2"], commit: false)
            try transaction(["c3"], commit: true)

            // The records of one partition arrive in order, so once "c3" is read an aborted record
            // a reader could see has been read too.
            let committed = try broker.consumer(group: "committed", isolation: "read_committed")
            try committed.subscribe(topics: ["out"])
            #expect(try receive(3, from: committed).map(\.value) == ["c1", "c2", "c3"])
            let uncommitted = try broker.consumer(group: "uncommitted", isolation: "read_uncommitted")
            try uncommitted.subscribe(topics: ["out"])
            #expect(try receive(5, from: uncommitted).map(\.value) == ["c1", "c2", "a1", "a2", "c3"])

            // Each transaction ends with a marker that takes an offset: 5 records + 3 markers.
            let marks = try committed.watermarks(topic: "out", partition: 0, timeout: patience)
            #expect(marks.high == 8)
            try committed.close()
            try uncommitted.close()
        }
    }

    @Test("send_offsets_to_transaction commits the group's offsets and metadata only when the transaction commits")
    func offsetsInTransactions() async throws {
        try await KafkaBroker.with { broker in
            try broker.createTopics([
                KafkaNewTopic(name: "in", partitions: 1), KafkaNewTopic(name: "out", partitions: 1),
            ])
            let input = try KafkaProducer(configuration: broker.configuration())
            for i in 0..<5 { try input.produce(topic: "in", key: nil, value: Array("r\(i)".utf8)) }
            try input.flush(timeout: patience)

            let partition = KafkaTopicPartition(topic: "in", partition: 0)
            let consumer = try broker.consumer(group: "app")
            try consumer.subscribe(topics: ["in"])
            let records = try receive(5, from: consumer)
            #expect(
                try consumer.committed([partition], timeout: patience) == [
                    KafkaTopicPartitionOffset(partition, offset: nil)
                ])

            let producer = try KafkaProducer(configuration: broker.configuration(["transactional.id": "app-0_0"]))
            try producer.initTransactions(timeout: patience)
            try producer.beginTransaction()
            for record in records { try producer.produce(topic: "out", key: nil, value: Array(record.value!.utf8)) }
            let next = records.last!.offset + 1
            try producer.sendOffsetsToTransaction(
                [KafkaTopicPartitionOffset(partition, offset: next, metadata: "streamTime=4000")],
                groupMetadata: consumer.groupMetadata(), timeout: patience)
            try producer.commitTransaction(timeout: patience)
            let expected = [KafkaTopicPartitionOffset(partition, offset: 5, metadata: "streamTime=4000")]
            #expect(try consumer.committed([partition], timeout: patience) == expected)

            // Offsets sent in an aborted transaction are not committed.
            try producer.beginTransaction()
            try producer.sendOffsetsToTransaction(
                [KafkaTopicPartitionOffset(partition, offset: 1, metadata: "aborted")],
                groupMetadata: consumer.groupMetadata(), timeout: patience)
            try producer.abortTransaction(timeout: patience)
            #expect(try consumer.committed([partition], timeout: patience) == expected)
            try consumer.close()

            // Another member of the group reads them back too.
            let successor = try broker.consumer(group: "app")
            #expect(try successor.committed([partition], timeout: patience) == expected)
            try successor.close()
        }
    }

    @Test("a second producer with the same transactional.id fences the first: class fenced, its records invisible")
    func fencing() async throws {
        try await KafkaBroker.with { broker in
            try broker.createTopics([KafkaNewTopic(name: "out", partitions: 1)])
            let configuration = broker.configuration(["transactional.id": "app-0_1"])
            let zombie = try KafkaProducer(configuration: configuration)
            try zombie.initTransactions(timeout: patience)
            try zombie.beginTransaction()
            try zombie.produce(topic: "out", key: nil, value: Array("zombie".utf8))
            try zombie.flush(timeout: patience)

            let successor = try KafkaProducer(configuration: configuration)
            try successor.initTransactions(timeout: patience)

            let error = #expect(throws: KafkaError.self) {
                try zombie.produce(topic: "out", key: nil, value: Array("zombie-2".utf8))
                try zombie.commitTransaction(timeout: patience)
            }
            #expect(error?.errorClass == .fenced, "\(String(describing: error))")
            #expect(["_FENCED", "PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH"].contains(error?.codeName ?? ""))
            // Once fenced, always fenced.
            #expect(throws: KafkaError.self) { try zombie.beginTransaction() }

            try successor.beginTransaction()
            try successor.produce(topic: "out", key: nil, value: Array("successor".utf8))
            try successor.commitTransaction(timeout: patience)
            let reader = try broker.consumer(group: "reader")
            try reader.subscribe(topics: ["out"])
            #expect(try receive(1, from: reader).map(\.value) == ["successor"])
            try reader.close()
        }
    }

    @Test("the first delivery error fails the commit (abortable); after the abort the next transaction commits")
    func deliveryErrorFailsCommit() async throws {
        try await KafkaBroker.with { broker in
            try broker.createTopics([KafkaNewTopic(name: "out", partitions: 1)])
            let producer = try KafkaProducer(configuration: broker.configuration(["transactional.id": "app-0_2"]))
            try producer.initTransactions(timeout: patience)
            try producer.beginTransaction()
            try producer.produce(topic: "out", partition: 0, key: nil, value: Array("fine".utf8))
            // The producer has no metadata for this topic yet: the record is queued and fails in
            // its delivery report when the topic turns out to have no partition 7.
            try producer.produce(topic: "elsewhere", partition: 7, key: nil, value: Array("lost".utf8))
            let error = #expect(throws: KafkaError.self) { try producer.commitTransaction(timeout: patience) }
            #expect(error?.errorClass == .abortable, "\(String(describing: error))")
            #expect(error?.code == .unknownPartition, "\(String(describing: error))")
            #expect(error?.operation.contains("elsewhere[7]") == true, "\(String(describing: error))")
            try producer.abortTransaction(timeout: patience)

            try producer.beginTransaction()
            try producer.produce(topic: "out", partition: 0, key: nil, value: Array("next".utf8))
            try producer.commitTransaction(timeout: patience)
            let reader = try broker.consumer(group: "reader")
            try reader.subscribe(topics: ["out"])
            #expect(try receive(1, from: reader).map(\.value) == ["next"])
            try reader.close()
        }
    }

    @Test(
        "a produce after the broker rejected a record of the transaction is abortable and names that record; after the aborts the producer commits again"
    )
    func produceAfterRejectedRecord() async throws {
        try await KafkaBroker.with { broker in
            try broker.createTopics([
                KafkaNewTopic(name: "small", partitions: 1, configs: ["max.message.bytes": "1000"])
            ])
            let producer = try KafkaProducer(configuration: broker.configuration(["transactional.id": "app-0_3"]))
            try producer.initTransactions(timeout: patience)
            try producer.beginTransaction()
            // Under librdkafka's message.max.bytes, over the topic's: the broker refuses it.
            try producer.produce(topic: "small", partition: 0, key: nil, value: Array(repeating: 120, count: 5_000))
            // Once its answer arrived, librdkafka has left InTransaction and refuses records (_STATE).
            var refused: KafkaError?
            let deadline = ContinuousClock.now + patience
            while refused == nil && ContinuousClock.now < deadline {
                usleep(50_000)
                do throws(KafkaError) {
                    try producer.produce(topic: "small", partition: 0, key: nil, value: Array("fine".utf8))
                } catch {
                    refused = error
                }
            }
            #expect(refused?.errorClass == .abortable, "\(String(describing: refused))")
            #expect(refused?.code == .messageSizeTooLarge, "\(String(describing: refused))")
            #expect(refused?.operation.contains("small[0]") == true, "\(String(describing: refused))")
            try producer.abortTransaction(timeout: patience)

            // The refused records took sequence numbers the broker never wrote: the next record to
            // that partition is out of order, an abortable error that needs an epoch bump, which
            // the abort makes (librdkafka's "requires epoch bump"); the transaction after commits.
            try producer.beginTransaction()
            try producer.produce(topic: "small", partition: 0, key: nil, value: Array("lost".utf8))
            let outOfOrder = #expect(throws: KafkaError.self) { try producer.commitTransaction(timeout: patience) }
            #expect(outOfOrder?.code.name == "OUT_OF_ORDER_SEQUENCE_NUMBER", "\(String(describing: outOfOrder))")
            #expect(outOfOrder?.errorClass == .abortable, "\(String(describing: outOfOrder))")
            try producer.abortTransaction(timeout: patience)
            try producer.beginTransaction()
            try producer.produce(topic: "small", partition: 0, key: nil, value: Array("next".utf8))
            try producer.commitTransaction(timeout: patience)
            let reader = try broker.consumer(group: "reader")
            try reader.subscribe(topics: ["small"])
            #expect(try receive(1, from: reader).map(\.value) == ["next"])
            try reader.close()
        }
    }

    @Test("the admin client creates a compacted topic with partitions and configs, and reports it")
    func adminCreatesCompactedTopic() async throws {
        try await KafkaBroker.with { broker in
            let admin = try KafkaAdminClient(configuration: broker.configuration())
            let topic = KafkaNewTopic(
                name: "app-store-changelog", partitions: 3,
                configs: ["cleanup.policy": "compact,delete", "retention.ms": "3600000"])
            try admin.createTopics([topic], timeout: patience)
            #expect(try admin.describeTopic("app-store-changelog", timeout: patience)?.partitions == [0, 1, 2])
            #expect(try admin.listTopics(timeout: patience).contains("app-store-changelog"))
            #expect(try admin.describeTopic("missing", timeout: patience) == nil)
            let configs = try admin.topicConfiguration("app-store-changelog", timeout: patience)
            #expect(configs["cleanup.policy"] == "compact,delete")
            #expect(configs["retention.ms"] == "3600000")

            let again = #expect(throws: KafkaError.self) { try admin.createTopics([topic], timeout: patience) }
            #expect(again?.code == .topicAlreadyExists)
            #expect(again?.errorClass == .permanent)
        }
    }
}

/// The wrappers' behaviour that needs no broker.
@Suite("Kafka clients without a broker")
struct KafkaClientOfflineTests {
    @Test("a bad property is a permanent error that names it")
    func badProperty() throws {
        let error = #expect(throws: KafkaError.self) {
            _ = try KafkaProducer(
                configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:1", ["no.such.property": "1"]))
        }
        #expect(error?.errorClass == .permanent)
        #expect(error?.description.contains("no.such.property") == true)
    }

    @Test("a consumer needs group.id")
    func consumerNeedsGroup() {
        #expect(throws: KafkaError.self) {
            _ = try KafkaConsumer(configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:1"))
        }
    }

    @Test("an undeliverable record fails flush with its delivery error, once")
    func deliveryErrorFailsFlush() throws {
        // Nothing listens on port 1: the record times out in message.timeout.ms.
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:1", ["message.timeout.ms": "200"]))
        try producer.produce(topic: "t", key: nil, value: [1])
        let error = #expect(throws: KafkaError.self) { try producer.flush(timeout: patience) }
        #expect(error?.code == .messageTimedOut)
        #expect(error?.errorClass == .retriable)
        #expect(producer.failedCount == 1)
        try producer.flush(timeout: .seconds(1))
    }
}
