import Foundation
import Logging
import StreamsState
import StreamsStateLMDB
import StreamsTestSupport
import Testing

@testable import DedupApp
@testable import StreamsEmbedded

@Suite("DedupVerification")
struct DedupVerificationTests {
    static let t0: Int64 = 1_767_225_600_000

    /// The store key of the string business key `id` (`KeyExtractor.recordKey` around the
    /// canonical JSON string component).
    static func storeKey(_ id: String) -> [UInt8] {
        let inner = [UInt8(ascii: "s"), UInt8(id.utf8.count)] + Array(id.utf8)
        return [UInt8(ascii: "k"), UInt8(inner.count)] + inner
    }

    /// Runs a job over 100 distinct keys and returns the state directory.
    static func state(in dir: TemporaryDirectory) throws -> String {
        let lines = (0..<100).map { i in #"{"id":"key-\#(i)","ts":\#(t0 + Int64(i) * 10)}"# }
        Files.write(lines, to: dir.file("in.jsonl"))
        let configuration = DedupJobConfiguration(
            inputs: [dir.file("in.jsonl")], output: dir.file("out.jsonl"), keyFields: ["id"], timeField: "ts",
            window: .seconds(3600), stateDirectory: dir.file("state"))
        _ = try DedupJob(configuration: configuration, logger: .init(label: "test")).run()
        return dir.file("state")
    }

    /// Changes the store through its own API, without the changelog, and commits.
    static func edit(_ state: String, _ body: (LMDBWindowStore) throws -> Void) throws {
        let store = try LMDBWindowStore(
            directory: state + "/store", configuration: WindowStoreConfiguration(name: "s", retention: .seconds(3600)))
        try body(store)
        try store.commit(metadata: [:])
        try store.close()
    }

    static func verify(_ state: String) -> DedupJobError? {
        do {
            _ = try DedupVerification(stateDirectory: state)
            return nil
        } catch {
            return error
        }
    }

    @Test("an entry deleted from the store is found missing")
    func deletedEntry() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let state = try Self.state(in: dir)
        #expect(Self.verify(state) == nil)
        try Self.edit(state) { try $0.delete(key: Self.storeKey("key-7"), timestampMs: Self.t0 + 70) }
        let error = try #require(Self.verify(state))
        #expect(error.exitCode == 65)
        #expect(error.message.contains(#"the changelog holds key "key-7" at"#), "\(error)")
        #expect(error.message.contains("1 difference (1 missing from the store, 0 not in the changelog)"), "\(error)")
    }

    @Test("an entry the changelog does not hold is found, and so is a changed stream time")
    func bogusEntry() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let state = try Self.state(in: dir)
        try Self.edit(state) { try $0.put(key: Self.storeKey("bogus"), timestampMs: Self.t0 + 5, value: [1]) }
        let error = try #require(Self.verify(state))
        #expect(error.exitCode == 65)
        #expect(error.message.contains(#"the store holds key "bogus" at"#), "\(error)")

        let other = TemporaryDirectory()
        defer { other.remove() }
        let second = try Self.state(in: other)
        try Self.edit(second) { try $0.advanceStreamTime(to: Self.t0 + 5_000) }
        let time = try #require(Self.verify(second))
        #expect(time.exitCode == 65)
        #expect(time.message.contains("its stream time is"), "\(time)")
    }
}
