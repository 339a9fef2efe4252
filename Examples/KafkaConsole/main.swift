// kafka-console: the few Kafka commands README's "Kafka quick start" needs, on StreamsKafka's
// public client API (no other Kafka tool is needed on the machine).
//
//   kafka-console create-topic BOOTSTRAP TOPIC PARTITIONS [NAME=VALUE ...]   (topic configs, e.g. retention.ms=-1)
//   kafka-console produce BOOTSTRAP TOPIC [KEY-FIELD.PATH] < records.jsonl   (one record per line,
//       keyed by the JSON field's text so that copies of a key share a partition)
//   kafka-console consume BOOTSTRAP TOPIC    (read_committed, every partition to its end, one value per line)
import Foundation
import StreamsKafka

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("kafka-console: \(message)\n".utf8))
    exit(64)
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 3 else {
    fail("usage: kafka-console create-topic|produce|consume BOOTSTRAP TOPIC [PARTITIONS|KEY-FIELD]")
}
let (command, bootstrap, topic) = (arguments[0], arguments[1], arguments[2])
let timeout: Duration = .seconds(30)

do {
    switch command {
    case "create-topic":
        guard arguments.count >= 4, let partitions = Int32(arguments[3]) else { fail("create-topic needs PARTITIONS") }
        var configs: [String: String] = [:]
        for setting in arguments.dropFirst(4) {
            guard let equals = setting.firstIndex(of: "=") else { fail("a topic config is NAME=VALUE: \(setting)") }
            configs[String(setting[..<equals])] = String(setting[setting.index(after: equals)...])
        }
        try KafkaAdminClient(configuration: KafkaConfiguration(bootstrapServers: bootstrap))
            .createTopics([KafkaNewTopic(name: topic, partitions: partitions, configs: configs)], timeout: timeout)
    case "produce":
        let path = arguments.count > 3 ? arguments[3].split(separator: ".").map(String.init) : []
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration(
                bootstrapServers: bootstrap,
                ["enable.idempotence": "true", "partitioner": "murmur2_random", "linger.ms": "20"]))
        var count = 0
        while let line = readLine(), !line.isEmpty {
            var key: [UInt8]?
            if !path.isEmpty, let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) {
                var field: Any? = object
                for name in path { field = (field as? [String: Any])?[name] }
                key = field.map { Array("\($0)".utf8) }
            }
            try producer.produce(topic: topic, key: key, value: Array(line.utf8))
            count += 1
        }
        try producer.flush(timeout: timeout)
        FileHandle.standardError.write(Data("kafka-console: produced \(count) records to \(topic)\n".utf8))
    case "consume":
        guard
            let description = try KafkaAdminClient(configuration: KafkaConfiguration(bootstrapServers: bootstrap))
                .describeTopic(topic, timeout: timeout)
        else { fail("no topic \(topic)") }
        let consumer = try KafkaConsumer(
            configuration: KafkaConfiguration(
                bootstrapServers: bootstrap,
                [
                    "group.id": "kafka-console-\(UUID().uuidString)", "isolation.level": "read_committed",
                    "enable.partition.eof": "true", "enable.auto.commit": "false",
                ]))
        try consumer.assign(
            description.partitions.map {
                KafkaTopicPartitionOffset(topic: topic, partition: $0, offset: KafkaTopicPartitionOffset.beginning)
            })
        var ended: Set<Int32> = []
        var batch = KafkaMessageBatch(capacity: 1_000)
        var read = 0
        let deadline = ContinuousClock.now + .seconds(120)
        while ended.count < description.partitions.count {
            guard ContinuousClock.now < deadline else {
                FileHandle.standardError.write(
                    Data(
                        "kafka-console: read \(read) records of \(topic) but not every partition to its end in 120 s\n"
                            .utf8))
                exit(74)
            }
            try consumer.poll(into: &batch, timeout: .milliseconds(200))
            read += batch.count
            for i in 0..<batch.count {
                print(String(decoding: batch[i].valueBytes ?? [], as: UTF8.self))
                ended.remove(batch[i].partition)
            }
            for end in batch.partitionEnds { ended.insert(end.topicPartition.partition) }
        }
        batch.removeAll()
        try consumer.close()
    default:
        fail("unknown command \(command): create-topic, produce or consume")
    }
} catch {
    FileHandle.standardError.write(Data("kafka-console: \(error)\n".utf8))
    exit(74)
}
