import StreamsEmbedded
import StreamsState
import StreamsStateLMDB

/// The `embedded-writer STATE BATCH` child of the embedded crash tests.
///
/// Recovers like the engine will (checkpoint → cut output and changelog back → catch the store up
/// from the changelog), then commits batches forever in the protocol's order: output synced,
/// changelog synced, checkpoint replaced (the commit point), store committed with the changelog
/// position. Batch `n` (0-based) writes, for `i` in `0..<BATCH`:
/// - the output line `{"n":n,"i":i}`,
/// - the store entry `k<n>-<i>` at time `n * BATCH + i` with value `v<n>`,
/// - and deletes `k<n-1>-0` (a tombstone in the changelog).
/// The checkpoint's generation is the number of committed batches. Every third batch is flushed
/// in two halves, so a kill can fall between two writes of one batch.
enum EmbeddedWriter {
    static let configuration = WindowStoreConfiguration(name: "embedded-crash", retention: .seconds(1_000_000_000))

    static func run(state path: String, batch: Int) throws {
        let state = try StateDirectory(path: path)
        let checkpoint = try state.loadCheckpoint()
        let changelog = try state.openChangelog(committed: checkpoint?.changelog)
        let outputPath = path + "/out.jsonl"
        let output = try OutputFile(
            path: outputPath,
            mode: checkpoint.map { .resume(committedLength: $0.outputs[0].committedLength) } ?? .truncate
        )
        var store = try LMDBWindowStore(directory: state.storePath, configuration: configuration)
        let storePosition = try store.metadata(forKey: ChangelogFilePosition.metadataKey).flatMap(
            ChangelogFilePosition.init(metadataBytes:))
        switch changelog.recovery(forStoreAt: storePosition) {
        case .upToDate:
            break
        case .replay(let offset):
            try changelog.reader(from: offset).restore(into: store)
            try store.commit(metadata: [ChangelogFilePosition.metadataKey: changelog.position.metadataBytes])
        case .rebuild:
            try store.close()
            try LMDBWindowStore.destroy(directory: state.storePath)
            let fresh = try LMDBWindowStore(directory: state.storePath, configuration: configuration)
            try changelog.reader().restore(into: fresh)
            try fresh.commit(metadata: [ChangelogFilePosition.metadataKey: changelog.position.metadataBytes])
            store = fresh
        }
        let logged = ChangeLoggingWindowStore(store, changelog: changelog)
        var n = Int(checkpoint?.generation ?? 0)
        var line: [UInt8] = []
        while true {
            for i in 0..<batch {
                line.removeAll(keepingCapacity: true)
                line.append(contentsOf: "{\"n\":\(n),\"i\":\(i)}".utf8)
                try line.withUnsafeBytes { try output.appendLine($0) }
                try logged.put(
                    key: Array("k\(n)-\(i)".utf8), timestampMs: Int64(n * batch + i), value: Array("v\(n)".utf8))
                if i == batch / 2 && n % 3 == 0 {
                    try output.flush()
                    try changelog.flush()
                }
            }
            if n > 0 { try logged.delete(key: Array("k\(n - 1)-0".utf8), timestampMs: Int64((n - 1) * batch)) }
            try output.sync()
            try changelog.sync()
            try state.save(
                Checkpoint(
                    generation: UInt64(n + 1),
                    inputs: [],
                    outputs: [.init(path: outputPath, committedLength: output.length)],
                    changelog: changelog.position,
                    streamTimeMs: logged.streamTimeMs
                )
            )
            try logged.commit(metadata: [ChangelogFilePosition.metadataKey: changelog.position.metadataBytes])
            n += 1
        }
    }
}
