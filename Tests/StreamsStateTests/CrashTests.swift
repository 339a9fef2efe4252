@testable import StreamsStateLMDB
import Foundation
import Testing

@testable import StreamsState
import StreamsTestSupport

@Suite("Crash safety")
struct CrashTests {
    /// The helper executable built next to the test bundle.
    static var writerPath: String { BuiltExecutable.path("StreamsTestSupportTools") }

    @Test("a writer killed with SIGKILL at random moments leaves exactly its last commit")
    func sigkill() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let batch = 500
        let configuration = WindowStoreConfiguration(name: "crash", retention: .seconds(1_000_000_000))
        var rng = SplitMix64(seed: UInt64(Date().timeIntervalSince1970))
        var lastCommit = -1
        for round in 0..<6 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.writerPath)
            process.arguments = ["crash-writer", dir.path, String(batch)]
            try process.run()
            usleep(UInt32.random(in: 150_000...600_000, using: &rng))
            #expect(process.isRunning, "the writer stopped by itself in round \(round)")
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)

            let store = try LMDBWindowStore(directory: dir.path, configuration: configuration)
            #expect(store.integrity == .trusted)
            let commit = try #require(
                store.metadata(forKey: "commit").flatMap { Int(String(decoding: $0, as: UTF8.self)) })
            #expect(commit > lastCommit, "round \(round) made no progress")
            lastCommit = commit
            // Exactly the entries of commits 0...commit, nothing of the interrupted batch.
            let entries = try store.allEntries()
            #expect(entries.count == (commit + 1) * batch)
            for entry in entries {
                let ts = Int(entry.timestampMs)
                let expectedKey = Array("k\(ts / batch)-\(ts % batch)".utf8)
                #expect(entry.key == expectedKey)
                #expect(entry.value == Array("v\(ts / batch)".utf8))
            }
            #expect(try store.fetch(key: Array("k\(commit + 1)-0".utf8), from: 0, to: .max).isEmpty)
            try store.abort()
            // Reading must not mark a clean close: the next round reopens after another kill.
        }
    }
}
