import Foundation
import StreamsTestSupport
import Testing

/// A user's own topology (their processor + the Deduplicator) on files through the public
/// embedded engine: README's example program (`file-orders-example`, Examples/FileOrders), run
/// as a real process and killed with SIGKILL at random moments.
@Suite("A user's topology on files (README example)")
struct UserTopologyTests {
    static var examplePath: String { BuiltExecutable.path("file-orders-example") }

    /// Two producers' order events: ids repeat across both (business duplicates), some are test
    /// orders, event times interleave.
    static func writeInputs(in dir: TemporaryDirectory, count: Int) -> [String] {
        var a: [String] = []
        var b: [String] = []
        for i in 0..<count {
            let ts = 1_767_225_600_000 + Int64(i) * 1_000
            let test = i % 17 == 0 ? #","test":true"# : ""
            a.append(#"{"order":{"id":\#(i % 700)\#(test)},"ts":\#(ts),"from":"a"}"#)
            b.append(#"{"order":{"id":\#((i + 350) % 700)},"ts":\#(ts + 500),"from":"b"}"#)
        }
        Files.write(a, to: dir.file("a.jsonl"))
        Files.write(b, to: dir.file("b.jsonl"))
        return [dir.file("a.jsonl"), dir.file("b.jsonl")]
    }

    static func run(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: examplePath)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test("SIGKILLed at random moments and restarted, it writes exactly the output of one uninterrupted run")
    func exactlyOnceAcrossKills() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.examplePath) else {
            Issue.record("build file-orders-example first (swift build --build-tests): \(Self.examplePath) is missing")
            return
        }
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let inputs = Self.writeInputs(in: dir, count: 60_000)

        let reference = try Self.run([dir.file("ref-state"), dir.file("ref-unique"), dir.file("ref-dups")] + inputs)
        reference.waitUntilExit()
        #expect(reference.terminationStatus == 0)
        let unique = Files.lines(dir.file("ref-unique"))
        let duplicates = Files.lines(dir.file("ref-dups"))
        // The user's processor ran (no test order passed) and the deduplicator too.
        #expect(!unique.isEmpty && !duplicates.isEmpty)
        #expect(!unique.contains { $0.contains(#""test":true"#) })
        #expect(unique.count + duplicates.count < 120_000)

        var rng = SplitMix64(seed: UInt64(Date().timeIntervalSince1970))
        var kills = 0
        for _ in 0..<4 {
            let process = try Self.run([dir.file("state"), dir.file("unique"), dir.file("dups")] + inputs)
            usleep(UInt32.random(in: 100_000...700_000, using: &rng))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                kills += 1
            }
            process.waitUntilExit()
        }
        let last = try Self.run([dir.file("state"), dir.file("unique"), dir.file("dups")] + inputs)
        last.waitUntilExit()
        #expect(last.terminationStatus == 0)
        #expect(kills > 0, "every run finished before its kill; the test proved nothing")
        let same = Files.read(dir.file("unique")) == Files.read(dir.file("ref-unique"))
        #expect(same, "the unique orders differ from the uninterrupted run's after \(kills) kills")
        let sameDuplicates = Files.read(dir.file("dups")) == Files.read(dir.file("ref-dups"))
        #expect(sameDuplicates, "the duplicates differ from the uninterrupted run's after \(kills) kills")
    }
}
