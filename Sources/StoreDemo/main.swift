// A walk through the LMDB window store, run by `make demo` until the `dedup` CLI lands:
// deduplicate a stream of events with duplicates, commit in batches, reopen the store as after
// a restart, rebuild it from its changelog, and print what happened at each step.
import StreamsState

#if canImport(Glibc)
    import Glibc
#endif

let directory = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "demo-output/store"
let events = 200_000
let window = Duration.seconds(60)
let configuration = WindowStoreConfiguration(name: "dedup", retention: window)

/// A deterministic generator, so every run prints the same counts.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// `seconds` with two decimals.
func seconds(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
}

do {
    try? LMDBWindowStore.destroy(directory: directory)
    let changelog = InMemoryChangelog()
    let store = try LMDBWindowStore(directory: directory, configuration: configuration)
    store.changelog = changelog
    print("1. Opened a new LMDB window store in \(directory) (retention \(window), integrity: \(store.integrity))")

    // Events one millisecond apart; about 10% repeat an order id seen in the last ~30 s.
    var rng = SplitMix64(state: 42)
    var recent: [UInt64] = []
    var emitted = 0
    var duplicates = 0
    let start = monotonicSeconds()
    for i in 0..<events {
        let ts = Int64(1_700_000_000_000 + i)
        let orderID: UInt64
        if i > 0 && rng.next() % 10 == 0 {
            orderID = recent[Int(rng.next() % UInt64(recent.count))]
        } else {
            orderID = rng.next()
            recent.append(orderID)
            if recent.count > 30_000 { recent.removeFirst(10_000) }
        }
        let key = withUnsafeBytes(of: orderID.bigEndian) { Array($0) }
        let windowMs = configuration.retentionMs
        let first = try store.insertIfAbsent(key: key, timestampMs: ts, value: [], conflictRange: (ts - windowMs + 1)...(ts + windowMs - 1))
        if first == nil { emitted += 1 } else { duplicates += 1 }
        try store.advanceStreamTime(to: ts)
        if i % 1_000 == 999 { try store.commit(metadata: ["position": Array(String(i + 1).utf8)]) }
    }
    try store.commit(metadata: ["position": Array(String(events).utf8)])
    let elapsed = monotonicSeconds() - start
    print(
        "2. Deduplicated \(events) events in \(seconds(elapsed)) s (\(Int(Double(events) / elapsed)) events/s, one LMDB transaction per 1,000): \(emitted) kept, \(duplicates) duplicates dropped"
    )
    print("   live entries \(try store.approximateEntryCount) in segments \(store.segmentIDs.first!)...\(store.segmentIDs.last!); older segments were dropped whole")
    try store.close()

    let reopened = try LMDBWindowStore(directory: directory, configuration: configuration)
    let position = try reopened.metadata(forKey: "position").map { String(decoding: $0, as: UTF8.self) } ?? "none"
    print("3. Reopened as after a restart: integrity \(reopened.integrity), committed position \(position), stream time \(reopened.streamTimeMs)")
    let count = try reopened.approximateEntryCount
    try reopened.close()

    try LMDBWindowStore.destroy(directory: directory)
    let rebuilt = try LMDBWindowStore(directory: directory, configuration: configuration)
    let restoreStart = monotonicSeconds()
    try rebuilt.restore(from: changelog.entries)
    try rebuilt.commit(metadata: ["position": Array(position.utf8)])
    let restoreElapsed = monotonicSeconds() - restoreStart
    let rebuiltCount = try rebuilt.approximateEntryCount
    print(
        "4. Deleted the store and rebuilt it from its changelog (\(changelog.entries.count) entries) in \(seconds(restoreElapsed)) s: \(rebuiltCount) entries (before: \(count)) \(rebuiltCount == count ? "- identical" : "- DIFFERENT")"
    )
    try rebuilt.close()
    print("The store's files are in \(directory)/ (data.mdb, lock.mdb).")
} catch {
    print("demo failed: \(error)")
    exit(1)
}
