// Expiring a segment of 1M entries: dropping its LMDB database at once against deleting its entries
// one by one (what a store without segments must do). Each iteration builds a fresh 1M-entry segment
// (every operation of the standard workload, repeats included, as plain puts) outside the measurement.
import Benchmark
import BenchmarkWorkload
import StreamsState
import StreamsStateLMDB

let benchmarks: @Sendable () -> Void = {
    let entries = 1_000_000
    let workload = Workload(count: entries)
    let parameters = WindowParameters.standard
    let segmentId = Workload.startMs / parameters.segmentIntervalMs

    /// A C LMDB store whose segment `segmentId` holds exactly `entries` entries.
    func segmentFixture(_ directory: ScratchDirectory) throws -> LMDBBaseline {
        let baseline = try LMDBBaseline(directory: directory.path)
        try baseline.put(workload, transactionSize: 50_000)
        let stored = try baseline.entryCount()
        precondition(stored == entries, "fixture holds \(stored) entries")
        return baseline
    }

    /// An LMDBWindowStore (baseline flags) whose segment `segmentId` holds exactly `entries` entries.
    func storeFixture(_ directory: ScratchDirectory) throws -> LMDBWindowStore {
        let store = try parameters.openStore(directory)
        try workload.put(into: store, transactionSize: 50_000)
        precondition(store.segmentIDs == [segmentId])
        let stored = try store.approximateEntryCount
        precondition(stored == entries, "fixture holds \(stored) entries")
        return store
    }

    // Stream time at which every entry of the segment has expired (and no later one exists).
    let segmentExpiredAtMs = (segmentId + 1) * parameters.segmentIntervalMs - 1 + parameters.retentionMs

    Benchmark("expire 1M-entry segment by drop: store", configuration: .bulk()) { benchmark in
        let directory = ScratchDirectory("store-drop")
        defer { directory.remove() }
        let store = try storeFixture(directory)
        try benchmark.measureOperations(entries) {
            try store.advanceStreamTime(to: segmentExpiredAtMs)
            try store.commit(metadata: [:])
        }
        precondition(store.segmentCount == 0)
    }

    Benchmark("expire 1M-entry segment by deletes, txn=50k: store", configuration: .bulk(iterations: 3)) { benchmark in
        let directory = ScratchDirectory("store-delete")
        defer { directory.remove() }
        let store = try storeFixture(directory)
        try benchmark.measureOperations(entries) {
            var sinceCommit = 0
            try workload.keys.withUnsafeBytes { keys in
                for i in 0..<entries {
                    let key = UnsafeRawBufferPointer(
                        rebasing: keys[i * Workload.keyLength..<(i + 1) * Workload.keyLength])
                    try store.delete(key: key, timestampMs: workload.timestampsMs[i])
                    sinceCommit += 1
                    if sinceCommit == 50_000 {
                        try store.commit(metadata: [:])
                        sinceCommit = 0
                    }
                }
            }
            try store.commit(metadata: [:])
        }
        let left = try store.approximateEntryCount
        precondition(left == 0, "\(left) entries left after deleting every one")
    }

    Benchmark("expire 1M-entry segment by drop: C LMDB", configuration: .bulk()) { benchmark in
        let directory = ScratchDirectory("c-drop")
        defer { directory.remove() }
        let baseline = try segmentFixture(directory)
        try benchmark.measureOperations(entries) { try baseline.dropSegment(segmentId) }
        let left = try baseline.entryCount()
        precondition(left == 0, "\(left) entries left after the drop")
    }

    Benchmark("expire 1M-entry segment by deletes, txn=50k: C LMDB", configuration: .bulk()) { benchmark in
        let directory = ScratchDirectory("c-delete")
        defer { directory.remove() }
        let baseline = try segmentFixture(directory)
        let deleted = try benchmark.measureOperations(entries) {
            try baseline.deleteEach(workload, transactionSize: 50_000)
        }
        precondition(deleted == entries)
    }
}
