import Foundation
import StreamsKafka
import StreamsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `dedup kafka`, the real executable, against a real broker (noida-db): the `read_committed`
/// output equals the model, also after SIGKILLs at random moments, and invalid records follow
/// `--on-invalid`. The process is stopped with SIGTERM once the group's committed offsets reached
/// the end of every input partition (Kafka inputs do not end): that also checks the graceful stop.
@Suite("dedup kafka", .enabled(if: KafkaBroker.isRunnable, KafkaBroker.skipMessage))
struct KafkaCommandTests {
    /// 3 producers' events, `ts` one second apart: new ids, and one in three a copy of an earlier
    /// event from another producer (its own `seq` and `producer`), up to 15 minutes later, so that
    /// with a 10-minute window some copies are duplicates and some are kept again.
    /// The event time of the tests' first event: a day ago, on the hour. The output records carry
    /// their event time as their Kafka timestamp, and noida-db applies a topic's retention (7 days
    /// by default) to it: records timestamped in 2023 were deleted while a test read them back.
    static let baseMs: Int64 = (Int64(Date().timeIntervalSince1970) / 3_600 - 24) * 3_600_000

    static func events(count: Int, seed: UInt64) -> [Event] {
        var random = SplitMix64(seed: seed)
        var events: [Event] = []
        var nextId = 0
        for seq in 0..<count {
            let ts = baseMs + Int64(seq) * 1_000
            let producer = ["a", "b", "c"][seq % 3]
            if seq >= 10 && random.next() % 3 == 0 {
                let back = Int(random.next() % UInt64(min(seq, 900))) + 1
                events.append(Event(id: events[seq - back].id, seq: seq, ts: ts, producer: producer))
            } else {
                events.append(Event(id: "o-\(nextId)", seq: seq, ts: ts, producer: producer))
                nextId += 1
            }
        }
        return events
    }

    struct Event {
        var id: String
        var seq: Int
        var ts: Int64
        var producer: String
        var json: String { #"{"order":{"id":"\#(id)"},"seq":\#(seq),"ts":\#(ts),"producer":"\#(producer)"}"# }
    }

    /// The contract's result for events of one partition each key (keyed by id) with growing times:
    /// a record is kept unless an earlier kept one of its key is less than `windowMs` older.
    static func model(_ events: [Event], windowMs: Int64) -> (kept: [String], duplicates: [String]) {
        var lastKept: [String: Int64] = [:]
        var kept: [String] = []
        var duplicates: [String] = []
        for event in events {
            if let t0 = lastKept[event.id], event.ts - t0 < windowMs {
                duplicates.append(event.json)
            } else {
                lastKept[event.id] = event.ts
                kept.append(event.json)
            }
        }
        return (kept.sorted(), duplicates.sorted())
    }

    static let windowMs: Int64 = 600_000

    /// A run's setting: topic `events` (3 partitions) created, `count` events of `seed` made (not
    /// produced), and a temporary directory named `directory` (the caller removes it).
    static func setUp(
        _ broker: KafkaBroker, count: Int = 3_000, seed: UInt64, directory: String
    ) throws -> (events: [Event], directory: TemporaryDirectory) {
        try broker.createTopics(["events": 3])
        return (events(count: count, seed: seed), TemporaryDirectory(directory))
    }

    /// The command line of a run of application `app` over `events`.
    static func arguments(
        _ broker: KafkaBroker, app: String, state: String, inputs: [String] = ["events"], extra: [String] = []
    ) -> [String] {
        ["kafka", "--bootstrap-servers", broker.bootstrapServers, "--application-id", app]
            + inputs.flatMap { ["--input-topic", $0] }
            + [
                "--output-topic", "\(app)-unique", "--key", "order.id", "--time-field", "ts", "--window", "10m",
                "--state", state, "--stats", "-X", "reconnect.backoff.max.ms=500", "-X",
                "consumer.fetch.wait.max.ms=20",
            ] + extra
    }

    @Test(
        "end to end: 3 partitions, cross-producer duplicates; read_committed output = the model; SIGTERM commits and exits 0"
    )
    func endToEnd() async throws {
        try await onBroker { try Self.endToEnd($0) }
    }

    static func endToEnd(_ broker: KafkaBroker) throws {
        let (events, directory) = try setUp(broker, seed: 13, directory: "kafka-cli-e2e")
        defer { directory.remove() }
        try broker.produce(events.map { ($0.id, $0.json) }, to: "events")
        let app = "e2e"
        let (process, _, stderr) = try DedupCLI.launch(
            arguments(broker, app: app, state: directory.file("state"), extra: ["--duplicates-topic", "e2e-dups"]),
            in: directory.path)
        let errors = try stopWhenCommitted(broker, app: app, process: process, stderr: stderr)

        let expected = model(events, windowMs: windowMs)
        let output = try broker.readAll("e2e-unique")
        #expect(output.count == expected.kept.count)
        #expect(output.map(\.value).sorted() == expected.kept)
        #expect(try broker.readAll("e2e-dups").map(\.value).sorted() == expected.duplicates)
        // Keyed by the canonical business key: each copy of a key in one partition.
        let partitionsPerKey = Dictionary(grouping: output, by: \.key).mapValues { Set($0.map(\.partition)).count }
        #expect(partitionsPerKey.values.allSatisfy { $0 == 1 })
        let stats = try statistics(errors)
        #expect(stats["recordsRead"] as? Int == events.count)
        #expect(stats["emitted"] as? Int == expected.kept.count)
        #expect(stats["duplicates"] as? Int == expected.duplicates.count)
    }

    @Test(
        "state directory deleted between runs: the store is rebuilt from the changelog topic (restoredEntries > 0), output still the model"
    )
    func stateDirectoryLost() async throws {
        try await onBroker { try Self.stateDirectoryLost($0) }
    }

    static func stateDirectoryLost(_ broker: KafkaBroker) throws {
        let (events, directory) = try setUp(broker, seed: 31, directory: "kafka-cli-lost")
        defer { directory.remove() }
        let app = "lost"
        try broker.createTopics(["lost-unique": 3], configs: ["retention.ms": "-1"])
        let state = directory.file("state")
        let arguments = arguments(broker, app: app, state: state)
        let half = events.count / 2
        var restored: [Int] = []
        for (round, part) in [events[..<half], events[half...]].enumerated() {
            if round == 1 {
                // Every store of the first run goes; the changelog topic is all that is left of it.
                try FileManager.default.removeItem(atPath: state)
            }
            try broker.produce(part.map { ($0.id, $0.json) }, to: "events")
            let (process, _, stderr) = try DedupCLI.launch(arguments, in: directory.path)
            let errors = try stopWhenCommitted(broker, app: app, process: process, stderr: stderr)
            restored.append(try statistics(errors)["restoredEntries"] as? Int ?? -1)
        }
        #expect(restored[0] == 0)
        #expect(restored[1] > 0, "the second run did not restore from the changelog topic: \(restored)")
        let output = try broker.readAll("lost-unique").map(\.value)
        #expect(Set(output).count == output.count, "no record twice")
        #expect(output.sorted() == model(events, windowMs: windowMs).kept)
    }

    @Test(
        "a state directory ahead of its changelog (another cluster's) is wiped and rebuilt, saying so: the output is a fresh state's"
    )
    func stateAheadOfChangelog() async throws {
        try await onBroker { try Self.stateAheadOfChangelog($0) }
    }

    static func stateAheadOfChangelog(_ first: KafkaBroker) throws {
        let (firstEvents, directory) = try setUp(first, count: 1_500, seed: 43, directory: "kafka-cli-ahead")
        defer { directory.remove() }
        let app = "ahead"
        let state = directory.file("state")
        try first.createTopics(["ahead-unique": 3], configs: ["retention.ms": "-1"])
        try first.produce(firstEvents.map { ($0.id, $0.json) }, to: "events")
        var (process, _, stderr) = try DedupCLI.launch(arguments(first, app: app, state: state), in: directory.path)
        _ = try stopWhenCommitted(first, app: app, process: process, stderr: stderr)
        #expect(try first.readAll("ahead-unique").count == model(firstEvents, windowMs: windowMs).kept.count)

        // Another cluster (a new data directory: the changelog topic is new, its end 0), other
        // events with the same ids and times, the same state directory: its stores are at the
        // first cluster's changelog positions, past the new changelog's end.
        let second = try KafkaBroker.start("stateAheadOfChangelog-second")
        defer { second.stop() }
        let events = Self.events(count: 1_500, seed: 44)
        try second.createTopics(["events": 3])
        try second.createTopics(["ahead-unique": 3], configs: ["retention.ms": "-1"])
        try second.produce(events.map { ($0.id, $0.json) }, to: "events")
        (process, _, stderr) = try DedupCLI.launch(arguments(second, app: app, state: state), in: directory.path)
        let errors = try stopWhenCommitted(second, app: app, process: process, stderr: stderr)
        let expected = model(events, windowMs: windowMs).kept
        let output = try second.readAll("ahead-unique").map(\.value)
        let lost = Set(expected).subtracting(output)
        #expect(lost.isEmpty, "\(lost.count) of \(expected.count) suppressed by the other cluster's state")
        #expect(output.sorted() == expected)
        #expect(
            errors.contains("past the end 0 of its changelog ahead-dedup-store-changelog[")
                && errors.contains("store 'dedup-store' of task 0_"), "\(errors)")
        #expect(errors.contains("wiped the state of task"), "\(errors)")
    }

    @Test(
        "at-least-once: 3 partitions; without a crash the output and duplicates equal the model, offsets committed, exit 0"
    )
    func atLeastOnce() async throws {
        try await onBroker { try Self.atLeastOnce($0) }
    }

    static func atLeastOnce(_ broker: KafkaBroker) throws {
        let (events, directory) = try setUp(broker, seed: 21, directory: "kafka-cli-alo")
        defer { directory.remove() }
        let app = "alo"
        // The events' times become the output records' timestamps, and the broker's time retention
        // (7 days by default) applies to them: keep them whatever the clock says.
        try broker.createTopics(["alo-unique": 3, "alo-dups": 3], configs: ["retention.ms": "-1"])
        // The default commit interval of at-least-once (5 s); half the events before the start,
        // half while it runs.
        try broker.produce(events[..<1_500].map { ($0.id, $0.json) }, to: "events")
        let (process, _, stderr) = try DedupCLI.launch(
            arguments(
                broker, app: app, state: directory.file("state"),
                extra: ["--guarantee", "at-least-once", "--duplicates-topic", "alo-dups"]),
            in: directory.path)
        try broker.waitUntil("a first commit", process: process, stderr: stderr) {
            try broker.committedTotal(group: app, topics: ["events"]) > 0
        }
        try broker.produce(events[1_500...].map { ($0.id, $0.json) }, to: "events")
        let errors = try stopWhenCommitted(broker, app: app, process: process, stderr: stderr)

        let expected = model(events, windowMs: windowMs)
        let output = try broker.readAll("alo-unique").map(\.value)
        #expect(output.count == expected.kept.count, "no record twice without a crash")
        #expect(output.sorted() == expected.kept)
        #expect(try broker.readAll("alo-dups").map(\.value).sorted() == expected.duplicates)
        let stats = try statistics(errors)
        #expect(stats["recordsRead"] as? Int == events.count)
        #expect(stats["emitted"] as? Int == expected.kept.count)
    }

    @Test(
        "at-least-once: a run that dies with its changelog delivered and its output not loses no first occurrence on restart"
    )
    func atLeastOnceUndelivered() async throws {
        try await onBroker { try Self.atLeastOnceUndelivered($0) }
    }

    static func atLeastOnceUndelivered(_ broker: KafkaBroker) throws {
        let (events, directory) = try setUp(broker, count: 2_000, seed: 29, directory: "kafka-cli-alo-undelivered")
        defer { directory.remove() }
        let keep = ["retention.ms": "-1"]
        try broker.createTopics(["alou-unique": 3], configs: keep)
        let app = "alou"
        let arguments = arguments(
            broker, app: app, state: directory.file("state"),
            extra: ["--guarantee", "at-least-once", "--commit-interval", "100ms", "-X", "group.instance.id=alou-1"])
        let model = model(events, windowMs: windowMs).kept

        // 1. The first half, committed; SIGTERM.
        try broker.produce(events[..<1_000].map { ($0.id, $0.json) }, to: "events")
        var (process, _, stderr) = try DedupCLI.launch(arguments, in: directory.path)
        _ = try stopWhenCommitted(broker, app: app, process: process, stderr: stderr)
        var output = try broker.readAll("alou-unique").map(\.value)
        let changelog = "\(app)-dedup-store-changelog"
        let changelogBefore = try broker.readAll(changelog).count

        // 2. The output topic now refuses every record (max.message.bytes 100) while the changelog
        // takes them: the second half is processed, its changelog records delivered, its output
        // not; the flush before the offsets' commit fails: exit 74, nothing committed after step 1.
        let admin = try KafkaAdminClient(
            configuration: KafkaConfiguration(bootstrapServers: broker.bootstrapServers, [:]))
        try admin.deleteTopics(["alou-unique"], timeout: KafkaBroker.patience)
        try broker.createTopics(["alou-unique": 3], configs: ["max.message.bytes": "100"])
        let committed = try broker.committedTotal(group: app, topics: ["events"])
        try broker.produce(events[1_000...].map { ($0.id, $0.json) }, to: "events")
        let failed = try DedupCLI.run(arguments, in: directory.path, timeout: 120)
        #expect(failed.status == 74, "\(failed)")
        #expect(failed.stderr.contains("alou-unique"), "\(failed.stderr)")
        #expect(try broker.committedTotal(group: app, topics: ["events"]) == committed)
        #expect(try broker.readAll(changelog).count > changelogBefore)

        // 3. The output topic takes records again: the restart processes the second half again,
        // from a store restored up to step 1's commit (not to the changelog's end, where the
        // second half's keys would make their first occurrences duplicates).
        try admin.deleteTopics(["alou-unique"], timeout: KafkaBroker.patience)
        try broker.createTopics(["alou-unique": 3], configs: keep)
        (process, _, stderr) = try DedupCLI.launch(arguments, in: directory.path)
        _ = try stopWhenCommitted(broker, app: app, process: process, stderr: stderr)
        output += try broker.readAll("alou-unique").map(\.value)
        #expect(output.count == model.count, "no record twice, none lost")
        #expect(output.sorted() == model)
    }

    @Test(
        "scale out and in: a second instance joins mid-stream and leaves with SIGTERM; tasks move both ways, output exactly the model"
    )
    func scaleOutAndIn() async throws {
        try await onBroker { try Self.scaleOutAndIn($0) }
    }

    static func scaleOutAndIn(_ broker: KafkaBroker) throws {
        let (events, directory) = try setUp(broker, seed: 31, directory: "kafka-cli-scale")
        defer { directory.remove() }
        let app = "scale"
        // Dynamic members (no group.instance.id): a member that closes leaves the group at once.
        func instance(_ name: String) throws -> (Process, String) {
            let (process, _, stderr) = try DedupCLI.launch(
                arguments(broker, app: app, state: directory.file(name), extra: ["--duplicates-topic", "scale-dups"]),
                in: directory.path)
            return (process, stderr)
        }
        let third = events.count / 3
        let (first, firstErrors) = try instance("a")
        try broker.produce(events[..<third].map { ($0.id, $0.json) }, to: "events")
        try broker.waitUntilCommitted(group: app, topics: ["events"], process: first, stderr: firstErrors)

        // Scale out: the second instance takes over some tasks, restoring their stores.
        let (second, secondErrors) = try instance("b")
        // Once it has a task (its directory under STATE/<application id>/), the rest of this third.
        try broker.waitUntil("the second instance has a task", process: second, stderr: secondErrors) {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: directory.file("b/\(app)"))) ?? []
            return !tasks.isEmpty
        }
        for batch in stride(from: third, to: 2 * third, by: 100) {
            try broker.produce(events[batch..<(batch + 100)].map { ($0.id, $0.json) }, to: "events")
            usleep(100_000)
        }
        try broker.waitUntilCommitted(group: app, topics: ["events"], process: second, stderr: secondErrors)
        #expect(first.isRunning)

        // Scale in: it leaves; the first takes its tasks back, restoring what it processed.
        kill(second.processIdentifier, SIGTERM)
        DedupCLI.wait(second)
        let secondLog = Files.text(secondErrors)
        #expect(second.terminationStatus == 0, "\(secondLog)")
        try broker.produce(events[(2 * third)...].map { ($0.id, $0.json) }, to: "events")
        let firstLog = try stopWhenCommitted(broker, app: app, process: first, stderr: firstErrors)

        let expected = model(events, windowMs: windowMs)
        let output = try broker.readAll("scale-unique").map(\.value)
        #expect(output.count == expected.kept.count, "no record twice")
        #expect(output.sorted() == expected.kept)
        #expect(try broker.readAll("scale-dups").map(\.value).sorted() == expected.duplicates)
        let a = try statistics(firstLog)
        let b = try statistics(secondLog)
        let readA = a["recordsRead"] as? Int ?? 0
        let readB = b["recordsRead"] as? Int ?? 0
        #expect(readB > 0, "the second instance processed nothing: \(secondLog)")
        #expect(readA + readB >= events.count)
        // Tasks moved both ways, each restoring the other's work from the changelog topic.
        #expect(b["restoredEntries"] as? Int ?? 0 > 0, "\(b)")
        #expect(a["restoredEntries"] as? Int ?? 0 > 0, "\(a)")
    }

    @Test(
        "fencing: a second instance with the same group.instance.id takes the tasks over; the first stops (exit 74, fenced), none of its open transactions' output is visible, output exactly the model"
    )
    func fencing() async throws {
        try await onBroker { try Self.fencing($0) }
    }

    static func fencing(_ broker: KafkaBroker) throws {
        let (events, directory) = try setUp(broker, seed: 37, directory: "kafka-cli-fence")
        defer { directory.remove() }
        let app = "fence"
        // The same static member id: B's join replaces A in the group, B gets A's partitions and
        // its tasks' init_transactions (same transactional.id) fence A's producers. A commits every
        // 5 s, so that it has open transactions with output when B takes over (with 2 s, a B that
        // took more than that to start under heavy load found A's transaction empty).
        func instance(_ name: String, commitInterval: String) throws -> (Process, String) {
            let (process, _, stderr) = try DedupCLI.launch(
                arguments(
                    broker, app: app, state: directory.file(name),
                    extra: [
                        "--duplicates-topic", "fence-dups", "--commit-interval", commitInterval, "-X",
                        "group.instance.id=fence-1",
                    ]),
                in: directory.path)
            return (process, stderr)
        }
        let third = events.count / 3
        // The events' times are the output's timestamps: keep them from the time retention.
        try broker.createTopics(["fence-unique": 3, "fence-dups": 3], configs: ["retention.ms": "-1"])
        let (first, firstErrors) = try instance("a", commitInterval: "5s")
        try broker.produce(events[..<third].map { ($0.id, $0.json) }, to: "events")
        try broker.waitUntilCommitted(group: app, topics: ["events"], process: first, stderr: firstErrors)

        // The second third while A runs: A processes it into open transactions; B starts midway.
        var second: (process: Process, stderr: String)?
        for batch in stride(from: third, to: 2 * third, by: 100) {
            try broker.produce(events[batch..<(batch + 100)].map { ($0.id, $0.json) }, to: "events")
            usleep(50_000)
            if batch == third + 500 { second = try instance("b", commitInterval: "100ms") }
        }
        let (secondProcess, secondErrors) = try #require(second)

        // A stops by itself, within a bound: never a hang.
        let fencedAt = ContinuousClock.now
        DedupCLI.wait(first, timeout: 20)
        let firstLog = Files.text(firstErrors)
        #expect(first.terminationReason == .exit && first.terminationStatus == 74, "\(firstLog)")
        // The last line: what stopped it, naming the fencing and what to do. Which fence comes
        // first depends on timing: a producer's (B's init_transactions) or the consumer's (the
        // broker gives B the static member id).
        let reason = firstLog.split(separator: "\n").last.map(String.init) ?? ""
        let producerFenced = reason.contains("fenced by another instance") && reason.contains("run it again")
        let consumerFenced =
            reason.contains("the consumer was fenced by another member of group fence with the same group.instance.id")
        #expect(reason.hasPrefix("dedup: ") && (producerFenced || consumerFenced), "\(firstLog)")
        #expect(ContinuousClock.now - fencedAt < .seconds(20))

        // B goes on with the last third and commits everything.
        try broker.produce(events[(2 * third)...].map { ($0.id, $0.json) }, to: "events")
        let secondLog = try stopWhenCommitted(broker, app: app, process: secondProcess, stderr: secondErrors)

        let expected = model(events, windowMs: windowMs)
        let output = try broker.readAll("fence-unique").map(\.value)
        let lost = Set(expected.kept).subtracting(output)
        let extra = Set(output).subtracting(expected.kept)
        #expect(lost.isEmpty, "\(lost.count) of \(expected.kept.count) lost, e.g. \(lost.sorted().prefix(3))")
        #expect(extra.isEmpty, "\(extra.count) not in the model, e.g. \(extra.sorted().prefix(3))")
        #expect(output.count == expected.kept.count, "no record twice")
        let duplicates = try broker.readAll("fence-dups").map(\.value).sorted()
        #expect(
            duplicates == expected.duplicates, "\(duplicates.count) duplicates, the model \(expected.duplicates.count)")
        // A's open transactions did write output, which the fence aborted: a read_uncommitted
        // reader sees more than the model.
        let everything = try broker.readAll("fence-unique", isolation: "read_uncommitted")
        #expect(everything.count > expected.kept.count, "A had no output in flight when fenced: \(firstLog)")
        #expect(try statistics(secondLog)["recordsRead"] as? Int ?? 0 > 0, "\(secondLog)")
    }

    @Test(
        "fencing one task: a producer with its transactional.id fences task 0_0; the instance closes only that task and exits 74 naming it; a restart ends exactly at the model"
    )
    func fencingOneTask() async throws {
        try await onBroker { try Self.fencingOneTask($0) }
    }

    static func fencingOneTask(_ broker: KafkaBroker) throws {
        let (events, directory) = try setUp(broker, seed: 41, directory: "kafka-cli-fence-one")
        defer { directory.remove() }
        let app = "fence1"
        try broker.createTopics(["fence1-unique": 3], configs: ["retention.ms": "-1"])
        let arguments = arguments(
            broker, app: app, state: directory.file("state"), extra: ["-X", "group.instance.id=fence1-1"])
        let half = events.count / 2
        var (process, _, stderr) = try DedupCLI.launch(arguments, in: directory.path)
        try broker.produce(events[..<half].map { ($0.id, $0.json) }, to: "events")
        try broker.waitUntilCommitted(group: app, topics: ["events"], process: process, stderr: stderr)

        // Another producer takes over task 0_0's transactional.id (`<application id>-<task>`), as
        // a second instance's task would: the instance's next produce or commit for it is fenced.
        let usurper = try KafkaProducer(
            configuration: KafkaConfiguration(
                bootstrapServers: broker.bootstrapServers, ["transactional.id": "\(app)-0_0"]))
        try usurper.initTransactions(timeout: KafkaBroker.patience)
        let fencedAt = ContinuousClock.now
        try broker.produce(events[half...].map { ($0.id, $0.json) }, to: "events")
        DedupCLI.wait(process, timeout: 20)
        let log = Files.text(stderr)
        #expect(ContinuousClock.now - fencedAt < .seconds(20))
        #expect(process.terminationReason == .exit && process.terminationStatus == 74, "\(log)")
        // Only that task closed: the job saw its partition without a task and stopped, naming it.
        let reason = log.split(separator: "\n").last.map(String.init) ?? ""
        #expect(
            reason.hasPrefix("dedup: the task of events-0 was closed after an error") && reason.contains("fenced")
                && reason.contains("run it again"), "\(log)")
        #expect(log.contains("closing task 0_0 dirty: fenced"), "\(log)")

        // Run again: it takes the task back (fencing the other producer) from the committed offsets.
        (process, _, stderr) = try DedupCLI.launch(arguments, in: directory.path)
        _ = try stopWhenCommitted(broker, app: app, process: process, stderr: stderr)
        let expected = model(events, windowMs: windowMs).kept
        let output = try broker.readAll("fence1-unique").map(\.value)
        let lost = Set(expected).subtracting(output)
        #expect(lost.isEmpty, "\(lost.count) of \(expected.count) lost, e.g. \(lost.sorted().prefix(3))")
        #expect(output.count == expected.count, "no record twice")
    }

    @Test(
        "crash: SIGKILL at random moments, restart with the same state and group.instance.id: output exactly the model")
    func crashes() async throws {
        try await onBroker { try Self.crashes($0) }
    }

    static func crashes(_ broker: KafkaBroker) throws {
        let (events, directory) = try setUp(broker, seed: 5, directory: "kafka-cli-crash")
        defer { directory.remove() }
        let app = "crash"
        let arguments = arguments(
            broker, app: app, state: directory.file("state"),
            extra: ["-X", "group.instance.id=crash-1", "--commit-interval", "50ms"])
        var random = SplitMix64(seed: 99)
        let rounds = 5
        let chunk = events.count / (rounds + 1)
        let batches = 20
        var produced = 0
        var killedMidWork = 0
        for round in 0..<rounds {
            // Each instance gets its round's events in 20 batches while it runs, and is killed at a
            // random batch once it has made progress (a commit past the previous instance's), so
            // that the kill lands while records are being processed and committed.
            let before = try broker.committedTotal(group: app, topics: ["events"])
            let (process, _, stderr) = try DedupCLI.launch(arguments, in: directory.path)
            let killAt = 4 + Int(random.next() % 12)
            for batch in 0..<batches {
                let size = chunk / batches
                try broker.produce(events[produced..<(produced + size)].map { ($0.id, $0.json) }, to: "events")
                produced += size
                usleep(20_000)
                guard batch == killAt else { continue }
                try broker.waitUntil("round \(round): a commit past \(before)", process: process, stderr: stderr) {
                    try broker.committedTotal(group: app, topics: ["events"]) > before
                }
                // Fresh input just before the kill, so that it lands while records are in flight
                // (the commit interval is 50 ms; the wait above may have let every record commit).
                let extra = min(size, events.count - produced)
                try broker.produce(events[produced..<(produced + extra)].map { ($0.id, $0.json) }, to: "events")
                produced += extra
                usleep(UInt32(random.next() % 20_000))
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                #expect(process.terminationReason == .uncaughtSignal, "\(Files.text(stderr))")
                if try broker.committedTotal(group: app, topics: ["events"]) < produced { killedMidWork += 1 }
            }
        }
        #expect(killedMidWork > 0, "every kill landed after the instance had committed all it was given")
        try broker.produce(events[produced...].map { ($0.id, $0.json) }, to: "events")
        let (process, _, stderr) = try DedupCLI.launch(arguments, in: directory.path)
        _ = try stopWhenCommitted(broker, app: app, process: process, stderr: stderr)

        let output = try broker.readAll("crash-unique").map(\.value)
        #expect(Set(output).count == output.count, "no record twice")
        #expect(output.sorted() == model(events, windowMs: windowMs).kept)
    }

    @Test("invalid records: --on-invalid fail exits 65 naming topic-partition@offset; skip dead-letters them")
    func invalidRecords() async throws {
        try await onBroker { try Self.invalidRecords($0) }
    }

    static func invalidRecords(_ broker: KafkaBroker) throws {
        try broker.createTopics(["bad-json": 1, "bad-key": 1])
        let good = Self.events(count: 6, seed: 1)
        let json: [(String?, String)] = [
            ("o-0", good[0].json), ("o-1", good[1].json), ("x", "not json {"), ("o-2", good[2].json),
        ]
        let key: [(String?, String)] = [
            ("o-3", good[3].json), (nil, #"{"order":{},"ts":\#(baseMs + 3_500)}"#), ("o-4", good[4].json),
        ]
        try broker.produce(json, to: "bad-json")
        try broker.produce(key, to: "bad-key")
        let directory = TemporaryDirectory("kafka-cli-invalid")
        defer { directory.remove() }

        for (topic, place, before) in [("bad-json", "bad-json-0@2", 2), ("bad-key", "bad-key-0@1", 1)] {
            let app = "fail-\(topic)"
            let result = try DedupCLI.run(
                arguments(broker, app: app, state: directory.file(app), inputs: [topic]), in: directory.path,
                timeout: 60)
            #expect(result.status == 65, "\(result)")
            #expect(result.stderr.contains(place), "\(result.stderr)")
            #expect(result.stderr.contains("--on-invalid skip"), "\(result.stderr)")
            // The records before it were committed.
            #expect(try broker.readAll("\(app)-unique").count == before)
        }

        let app = "skip"
        let (process, _, stderr) = try DedupCLI.launch(
            arguments(
                broker, app: app, state: directory.file(app), inputs: ["bad-json", "bad-key"],
                extra: ["--on-invalid", "skip", "--dead-letter-topic", "skip-dlq"]),
            in: directory.path)
        try broker.waitUntilCommitted(group: app, topics: ["bad-json", "bad-key"], process: process, stderr: stderr)
        kill(process.processIdentifier, SIGTERM)
        DedupCLI.wait(process)
        let errors = Files.text(stderr)
        #expect(process.terminationStatus == 0, "\(errors)")
        let dead = try broker.readAll("skip-dlq")
        #expect(dead.map(\.value).sorted() == [#"{"order":{},"ts":\#(baseMs + 3_500)}"#, "not json {"].sorted())
        #expect(dead.allSatisfy { $0.headers["streams.error.origin"] != nil })
        #expect(try broker.readAll("skip-unique").map(\.value).sorted() == good[0..<5].map(\.json).sorted())
        #expect(try statistics(errors)["invalid"] as? Int == 2)
    }

    @Test(
        "oversized records: a 2 MiB key or a value past message.max.bytes follows --on-invalid (fail 65, skip dead-letters them cut to fit); -X message.max.bytes raises the limit"
    )
    func oversizedRecords() async throws {
        try await onBroker { try Self.oversizedRecords($0) }
    }

    static func oversizedRecords(_ broker: KafkaBroker) throws {
        // The broker takes records up to 10 MB in these topics (the input, and the output where the
        // raised limit lets a 1.2 MB record through).
        try broker.createTopics(["big": 1, "fail-raised-unique": 1], configs: ["max.message.bytes": "10000000"])
        let good = Self.events(count: 3, seed: 1).map(\.json)
        // 1.2 MB of value under a small key; a 2 MiB key (its value a little more).
        let bigValue =
            #"{"order":{"id":"o-big"},"ts":\#(baseMs + 500),"pad":""# + String(repeating: "v", count: 1_200_000)
            + #""}"#
        let bigKey = #"{"order":{"id":""# + String(repeating: "k", count: 2 << 20) + #""},"ts":\#(baseMs + 1_500)}"#
        // big-0@0 good, @1 big value, @2 good, @3 big key, @4 good.
        try broker.produce(
            [(nil, good[0]), (nil, bigValue), (nil, good[1]), (nil, bigKey), (nil, good[2])], to: "big",
            properties: ["message.max.bytes": "10000000"])
        let directory = TemporaryDirectory("kafka-cli-big")
        defer { directory.remove() }

        // The default limit (librdkafka's message.max.bytes, 1,000,000, less 1,024): the big value fails first.
        let failing = try DedupCLI.run(
            arguments(broker, app: "fail-default", state: directory.file("fail-default"), inputs: ["big"]),
            in: directory.path, timeout: 60)
        #expect(failing.status == 65, "\(failing)")
        #expect(failing.stderr.contains("big-0@1"), "\(failing.stderr)")
        #expect(failing.stderr.contains("more than the limit of 998976 bytes"), "\(failing.stderr)")
        #expect(failing.stderr.contains("-X message.max.bytes"), "\(failing.stderr)")
        #expect(failing.stderr.contains("--on-invalid skip"), "\(failing.stderr)")
        #expect(try broker.readAll("fail-default-unique").map(\.value) == [good[0]])

        // Raised to 3,000,000: the big value is kept; the record of the 2 MiB key (4 MiB with its
        // value) fails.
        let raised = try DedupCLI.run(
            arguments(
                broker, app: "fail-raised", state: directory.file("fail-raised"), inputs: ["big"],
                extra: ["-X", "message.max.bytes=3000000"]),
            in: directory.path, timeout: 60)
        #expect(raised.status == 65, "\(raised)")
        #expect(raised.stderr.contains("big-0@3"), "\(raised.stderr)")
        #expect(raised.stderr.contains("(key 2097157, "), "\(raised.stderr)")
        #expect(raised.stderr.contains("more than the limit of 2998976 bytes"), "\(raised.stderr)")
        #expect(
            try broker.readAll("fail-raised-unique").map(\.value).sorted() == [good[0], bigValue, good[1]].sorted())

        // skip with a dead-letter topic: both dead-lettered, each cut to fit, with its length.
        let app = "skip-big"
        let (process, _, stderr) = try DedupCLI.launch(
            arguments(
                broker, app: app, state: directory.file(app), inputs: ["big"],
                extra: ["--on-invalid", "skip", "--dead-letter-topic", "big-dlq"]),
            in: directory.path)
        try broker.waitUntilCommitted(group: app, topics: ["big"], process: process, stderr: stderr)
        kill(process.processIdentifier, SIGTERM)
        DedupCLI.wait(process)
        let errors = Files.text(stderr)
        #expect(process.terminationStatus == 0, "\(errors)")
        #expect(try broker.readAll("skip-big-unique").map(\.value).sorted() == good.sorted())
        let dead = try broker.readAll("big-dlq")
        #expect(dead.count == 2)
        for (record, original) in zip(dead, [bigValue, bigKey]) {
            #expect(original.hasPrefix(record.value) && record.value.utf8.count < original.utf8.count)
            #expect(record.value.utf8.count > 990_000)
            #expect(record.headers["streams.error.value.bytes"] == String(original.utf8.count))
            let size =
                record.value.utf8.count + record.headers.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
            #expect(size <= 998_976)
        }
        #expect(dead.map { $0.headers["streams.error.origin"] } == ["big-0@1", "big-0@3"])
        // The key's canonical encoding: 5 bytes of type and length before the 2 MiB.
        #expect(
            dead.last?.headers["streams.error.message"]?.hasPrefix(
                "the key is 2097157 bytes, more than the limit of 998976 bytes") == true,
            "\(dead.last?.headers ?? [:])")
        #expect(try statistics(errors)["invalid"] as? Int == 2)
    }

    @Test(
        "a record the broker refuses every time (over the output topic's max.message.bytes): the job stops in bounded time, exit 74 naming the task, its committed offsets, MSG_SIZE_TOO_LARGE and the fix; the records before it committed; with the fix (-X producer.message.max.bytes, --on-invalid skip) it goes on"
    )
    func brokerRefusesARecordEveryTime() async throws {
        try await onBroker { try Self.brokerRefusesARecordEveryTime($0) }
    }

    static func brokerRefusesARecordEveryTime(_ broker: KafkaBroker) throws {
        let (events, directory) = try setUp(broker, count: 300, seed: 53, directory: "kafka-cli-poison")
        defer { directory.remove() }
        let app = "poison"
        let arguments = arguments(
            broker, app: app, state: directory.file("state"), extra: ["--commit-interval", "100ms"])
        var (process, _, stderr) = try DedupCLI.launch(arguments, in: directory.path)
        // The output topic takes batches up to 100,000 bytes. It is created once the job is past
        // its start (its changelog topic exists), so the job's limit stays librdkafka's (998,976
        // bytes for a record) as for a topic whose limit is lowered while the job runs: a
        // 200,000-byte record is valid to the job, sent, and refused by the broker
        // (MSG_SIZE_TOO_LARGE) every time.
        let admin = try KafkaAdminClient(configuration: broker.client())
        let started = ContinuousClock.now
        while try admin.describeTopic("\(app)-dedup-store-changelog", timeout: KafkaBroker.patience) == nil {
            guard ContinuousClock.now - started < .seconds(60) else {
                throw KafkaCommandFailure("the job did not create its changelog topic in 60 s: \(Files.text(stderr))")
            }
            usleep(50_000)
        }
        try broker.createTopics(["poison-unique": 3], configs: ["retention.ms": "-1", "max.message.bytes": "100000"])
        try broker.produce(events.map { ($0.id, $0.json) }, to: "events")
        try broker.waitUntilCommitted(group: app, topics: ["events"], process: process, stderr: stderr)

        let big =
            #"{"order":{"id":"o-big"},"ts":\#(baseMs + 400_000),"pad":""# + String(repeating: "x", count: 200_000)
            + #""}"#
        let poisonedAt = ContinuousClock.now
        try broker.produce([("o-big", big)], to: "events")
        // Bounded: without the limit on aborts in a row, the job aborts and starts the task again
        // without end (the wait kills it and records the failure).
        DedupCLI.wait(process, timeout: 90)
        let log = Files.text(stderr)
        #expect(ContinuousClock.now - poisonedAt < .seconds(90))
        #expect(process.terminationReason == .exit && process.terminationStatus == 74, "\(log)")
        let reason = log.split(separator: "\n").last.map(String.init) ?? ""
        #expect(reason.hasPrefix("dedup: task 0_"), "\(log)")
        #expect(reason.contains(" aborted its transaction 5 times in a row without committing"), "\(reason)")
        #expect(reason.contains("[MSG_SIZE_TOO_LARGE]") && reason.contains("poison-unique"), "\(reason)")
        #expect(
            reason.contains("raise that topic's max.message.bytes")
                && reason.contains("-X producer.message.max.bytes=N") && reason.contains("--on-invalid"), "\(reason)")
        // Its committed offsets, as the group has them: `events-<p>@<offset>`.
        let partition = try #require(reason.firstMatch(of: /task 0_(\d)/).map { String($0.1) })
        #expect(reason.contains("(events-\(partition)@"), "\(reason)")
        #expect(log.components(separatedBy: "dirty: taskCorrupted").count - 1 == 4, "\(log)")
        // The records before it committed and visible; the big one not.
        #expect(try broker.committedTotal(group: app, topics: ["events"]) == Int64(events.count))
        let expected = model(events, windowMs: windowMs).kept
        #expect(try broker.readAll("poison-unique").map(\.value).sorted() == expected)

        // The fix the message names: the producers' limit at the topic's makes the record invalid
        // to the job, which skips it and goes on (the job now also reads the topic's limit at its
        // start).
        (process, _, stderr) = try DedupCLI.launch(
            arguments + ["-X", "producer.message.max.bytes=100000", "--on-invalid", "skip"], in: directory.path)
        let errors = try stopWhenCommitted(broker, app: app, process: process, stderr: stderr)
        #expect(try statistics(errors)["invalid"] as? Int == 1, "\(errors)")
        #expect(try broker.readAll("poison-unique").map(\.value).sorted() == expected)
    }

    @Test(
        "the output topics' max.message.bytes is read at the start: a record over it follows --on-invalid (fail exits 65 naming the limit; skip dead-letters it cut to fit) instead of being refused by the broker"
    )
    func outputTopicLimitReadAtStart() async throws {
        try await onBroker { try Self.outputTopicLimitReadAtStart($0) }
    }

    static func outputTopicLimitReadAtStart(_ broker: KafkaBroker) throws {
        let (events, directory) = try setUp(broker, count: 300, seed: 59, directory: "kafka-cli-topic-limit")
        defer { directory.remove() }
        // Both output topics take batches up to 100,000 bytes; librdkafka's limit is 1,000,000.
        try broker.createTopics(
            ["limit-fail-unique": 3, "limit-unique": 3], configs: ["retention.ms": "-1", "max.message.bytes": "100000"])
        let big =
            #"{"order":{"id":"o-big"},"ts":\#(baseMs + 400_000),"pad":""# + String(repeating: "x", count: 200_000)
            + #""}"#
        try broker.produce(events.map { ($0.id, $0.json) } + [("o-big", big)], to: "events")

        let failed = try DedupCLI.run(
            arguments(broker, app: "limit-fail", state: directory.file("fail")), in: directory.path, timeout: 90)
        #expect(failed.status == 65, "\(failed)")
        #expect(
            failed.stderr.contains("the topic limit-fail-unique's max.message.bytes, 100000, less 1024"),
            "\(failed.stderr)")
        #expect(!failed.stderr.contains("MSG_SIZE_TOO_LARGE"), "\(failed.stderr)")

        let app = "limit"
        let (process, _, stderr) = try DedupCLI.launch(
            arguments(
                broker, app: app, state: directory.file("skip"),
                extra: ["--on-invalid", "skip", "--dead-letter-topic", "limit-dlq"]),
            in: directory.path)
        let errors = try stopWhenCommitted(broker, app: app, process: process, stderr: stderr)
        #expect(try statistics(errors)["invalid"] as? Int == 1, "\(errors)")
        #expect(try broker.readAll("limit-unique").map(\.value).sorted() == model(events, windowMs: windowMs).kept)
        let dead = try broker.readAll("limit-dlq")
        #expect(dead.count == 1)
        #expect(dead.allSatisfy { $0.value.utf8.count <= 100_000 - 1_024 }, "cut to fit the smallest output topic")
    }

    @Test(
        "an existing changelog topic that deletes records sooner than the window: the job warns, naming the topic, both durations and the fix, and runs"
    )
    func changelogRetentionBelowWindow() async throws {
        try await onBroker { try Self.changelogRetentionBelowWindow($0) }
    }

    static func changelogRetentionBelowWindow(_ broker: KafkaBroker) throws {
        let (events, directory) = try setUp(broker, count: 300, seed: 61, directory: "kafka-cli-short-changelog")
        defer { directory.remove() }
        let app = "short"
        // Made beforehand (by hand, or by another tool) with a retention of 1 minute; the window is 10.
        try broker.createTopics(
            ["\(app)-dedup-store-changelog": 3], configs: ["cleanup.policy": "compact,delete", "retention.ms": "60000"])
        try broker.produce(events.map { ($0.id, $0.json) }, to: "events")
        let (process, _, stderr) = try DedupCLI.launch(
            arguments(broker, app: app, state: directory.file("state")), in: directory.path)
        let errors = try stopWhenCommitted(broker, app: app, process: process, stderr: stderr)
        #expect(
            errors.contains(
                "the changelog topic short-dedup-store-changelog deletes records after 60000 ms (retention.ms), sooner than its window store keeps entries (600000 ms)"
            ), "\(errors)")
        #expect(errors.contains("raise the topic's retention.ms to at least 600000"), "\(errors)")
        #expect(try broker.readAll("short-unique").map(\.value).sorted() == model(events, windowMs: windowMs).kept)
    }

    /// The `--stats` JSON: the last line of standard error.
    /// Stops `process` with SIGTERM once group `app` has committed every record of topic
    /// `events`, checks that it exited 0, and returns what it wrote to `stderr`.
    static func stopWhenCommitted(
        _ broker: KafkaBroker, app: String, process: Process, stderr: String
    ) throws -> String {
        try broker.waitUntilCommitted(group: app, topics: ["events"], process: process, stderr: stderr)
        kill(process.processIdentifier, SIGTERM)
        DedupCLI.wait(process)
        let errors = Files.text(stderr)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(errors)")
        return errors
    }

    static func statistics(_ stderr: String) throws -> [String: Any] {
        let line = stderr.split(separator: "\n").last.map(String.init) ?? ""
        return try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(stderr)")
    }
}

/// Runs `body` on a thread of its own: the Kafka tests block for seconds (see docs/kafka.md).
/// Runs `body` with a fresh broker (named after the calling test) on a thread of its own.
private func onBroker(_ label: String = #function, _ body: @escaping @Sendable (KafkaBroker) throws -> Void)
    async throws
{
    try await KafkaBroker.with(label) { broker in try await runOnThread { try body(broker) } }
}

private func runOnThread<R: Sendable>(_ body: @escaping @Sendable () throws -> R) async throws -> R {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// A record as read back.
struct ReadRecord {
    var partition: Int32
    var key: String?
    var value: String
    var headers: [String: String]
}

extension KafkaBroker {
    static let patience: Duration = .seconds(60)

    func client(_ properties: [String: String] = [:]) -> KafkaConfiguration {
        KafkaConfiguration(
            bootstrapServers: bootstrapServers,
            ["reconnect.backoff.ms": "20", "reconnect.backoff.max.ms": "500"].merging(properties) { _, new in new })
    }

    func createTopics(_ topics: [String: Int32], configs: [String: String] = [:]) throws {
        try KafkaAdminClient(configuration: client()).createTopics(
            topics.map { KafkaNewTopic(name: $0.key, partitions: $0.value, configs: configs) }, timeout: Self.patience)
    }

    /// Produces `records` (key, value) in order, idempotently (so a retry never reorders them).
    func produce(_ records: [(String?, String)], to topic: String, properties: [String: String] = [:]) throws {
        let producer = try KafkaProducer(
            configuration: client(
                ["acks": "all", "enable.idempotence": "true", "partitioner": "murmur2_random"].merging(properties) {
                    _, new in new
                }))
        for (key, value) in records {
            try producer.produce(topic: topic, key: key.map { Array($0.utf8) }, value: Array(value.utf8))
        }
        try producer.flush(timeout: Self.patience)
    }

    /// The high watermarks of every partition of `topics`.
    private func ends(_ topics: [String], consumer: KafkaConsumer) throws -> [KafkaTopicPartition: Int64] {
        let admin = try KafkaAdminClient(configuration: client())
        var ends: [KafkaTopicPartition: Int64] = [:]
        for topic in topics {
            for partition in try #require(try admin.describeTopic(topic, timeout: Self.patience)).partitions {
                ends[KafkaTopicPartition(topic: topic, partition: partition)] =
                    try consumer.watermarks(topic: topic, partition: partition, timeout: Self.patience).high
            }
        }
        return ends
    }

    /// The group's committed offsets of every partition of `topics` (0 where none).
    private func committed(group: String, _ partitions: [KafkaTopicPartition]) throws -> [KafkaTopicPartition: Int64] {
        let consumer = try KafkaConsumer(configuration: client(["group.id": group, "enable.auto.commit": "false"]))
        defer { try? consumer.close() }
        var result: [KafkaTopicPartition: Int64] = [:]
        for entry in try consumer.committed(partitions, timeout: Self.patience) {
            result[entry.topicPartition] = entry.offset ?? 0
        }
        return result
    }

    /// The sum of the group's committed offsets over `topics`.
    func committedTotal(group: String, topics: [String]) throws -> Int64 {
        let reader = try KafkaConsumer(configuration: client(["group.id": "watermarks-\(group)"]))
        defer { try? reader.close() }
        return try committed(group: group, Array(ends(topics, consumer: reader).keys)).values.reduce(0, +)
    }

    /// Waits until `group` committed the end of every partition of `topics` (the inputs are
    /// produced without transactions, so the end is the high watermark).
    func waitUntilCommitted(group: String, topics: [String], process: Process, stderr: String) throws {
        let reader = try KafkaConsumer(configuration: client(["group.id": "watermarks-\(group)"]))
        defer { try? reader.close() }
        let ends = try ends(topics, consumer: reader)
        try waitUntil("\(group) committed \(ends)", process: process, stderr: stderr) {
            try committed(group: group, Array(ends.keys)) == ends
        }
    }

    /// Polls `condition` every 50 ms; fails when the process exits or after `patience`.
    func waitUntil(_ what: String, process: Process, stderr: String, _ condition: () throws -> Bool) throws {
        let deadline = ContinuousClock.now + Self.patience
        while try !condition() {
            guard process.isRunning else {
                throw KafkaCommandFailure(
                    "dedup exited (\(process.terminationStatus)) before \(what): \(Files.text(stderr))")
            }
            guard ContinuousClock.now < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw KafkaCommandFailure("not within \(Self.patience): \(what); dedup's stderr: \(Files.text(stderr))")
            }
            usleep(50_000)
        }
    }

    /// Every record a `read_committed` reader sees in `topic`, all partitions, to their ends.
    func readAll(_ topic: String, isolation: String = "read_committed") throws -> [ReadRecord] {
        let admin = try KafkaAdminClient(configuration: client())
        guard let description = try admin.describeTopic(topic, timeout: Self.patience) else { return [] }
        let consumer = try KafkaConsumer(
            configuration: client([
                "group.id": "reader-\(UUID().uuidString)", "isolation.level": isolation,
                "enable.partition.eof": "true", "enable.auto.commit": "false",
            ]))
        defer { try? consumer.close() }
        try consumer.assign(
            description.partitions.map {
                KafkaTopicPartitionOffset(topic: topic, partition: $0, offset: KafkaTopicPartitionOffset.beginning)
            })
        var ended: Set<Int32> = []
        var records: [ReadRecord] = []
        var batch = KafkaMessageBatch(capacity: 500)
        let deadline = ContinuousClock.now + Self.patience
        while ended.count < description.partitions.count {
            guard ContinuousClock.now < deadline else { throw KafkaCommandFailure("reading \(topic): no end seen") }
            try consumer.poll(into: &batch, timeout: .milliseconds(50))
            for i in 0..<batch.count {
                let message = batch[i]
                var headers: [String: String] = [:]
                for header in message.headers {
                    headers[header.name] = header.value.map { String(decoding: $0, as: UTF8.self) }
                }
                records.append(
                    ReadRecord(
                        partition: message.partition, key: message.keyBytes.map { String(decoding: $0, as: UTF8.self) },
                        value: String(decoding: message.valueBytes ?? [], as: UTF8.self), headers: headers))
                ended.remove(message.partition)
            }
            for end in batch.partitionEnds { ended.insert(end.topicPartition.partition) }
        }
        return records
    }
}

struct KafkaCommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
