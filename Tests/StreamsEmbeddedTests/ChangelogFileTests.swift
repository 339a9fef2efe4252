import Foundation
import StreamsCore
@testable import StreamsEmbedded
import StreamsState
import StreamsStateLMDB
import Testing
import StreamsTestSupport

@Suite("ChangelogFile")
struct ChangelogFileTests {
    static func sampleEntries(_ count: Int, seed: UInt64 = 1) -> [ChangelogEntry] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { i in
            let key = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let value: [UInt8]? =
                i % 5 == 0
                ? nil : (0..<Int.random(in: 0...60, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            return ChangelogEntry(
                key: key, timestampMs: Int64.random(in: -1_000...Int64.max / 2, using: &rng), value: value)
        }
    }

    /// A new changelog in `dir` holding `entries`, synced (committed).
    static func changelog(in dir: TemporaryDirectory, committing entries: ArraySlice<ChangelogEntry>) throws
        -> ChangelogFile
    {
        let changelog = try ChangelogFile(directory: dir.path, committed: nil)
        for entry in entries { changelog.append(entry) }
        try changelog.sync()
        return changelog
    }

    static func readAll(_ reader: ChangelogFileReader, batch: Int = 100) throws -> [ChangelogEntry] {
        var all: [ChangelogEntry] = []
        while true {
            let next = try reader.nextBatch(maxEntries: batch)
            if next.isEmpty { return all }
            #expect(next.count <= batch)
            all += next
        }
    }

    @Test("CRC-32C matches the standard check value")
    func crc() {
        #expect(CRC32C.checksum("123456789") == 0xE306_9283)
        #expect(CRC32C.checksum("") == 0)
    }

    @Test("the CRC-32C instruction and the software tables agree at every length, offset and chaining")
    func crcHardwareMatchesSoftware() {
        var rng = SplitMix64(seed: 42)
        let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &rng) }
        bytes.withUnsafeBytes { all in
            for offset in 0..<8 {
                for length in 0...(all.count - offset) where length < 40 || length % 7 == 0 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + length)])
                    let expected = CRC32C.softwareChecksum(slice)
                    #expect(CRC32C.checksum(slice) == expected, "offset \(offset), length \(length)")
                    let split = length / 3
                    let chained = CRC32C.checksum(
                        UnsafeRawBufferPointer(rebasing: slice[split...]),
                        continuing: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: slice[..<split])))
                    #expect(chained == expected, "offset \(offset), length \(length), split \(split)")
                }
            }
        }
        // Where the instruction exists (x86-64 since 2008), the first comparisons tested it.
        #if arch(x86_64)
            #expect(CRC32C.hardwareAvailable)
        #endif
    }

    @Test("entries round-trip exactly: values, tombstones, empty keys, a value larger than the read chunk")
    func roundTrip() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var entries = Self.sampleEntries(2_000)
        entries.append(
            ChangelogEntry(key: Array("big".utf8), timestampMs: 7, value: [UInt8](repeating: 9, count: 3 << 20)))
        entries.append(ChangelogEntry(key: [], timestampMs: .min, value: []))
        let changelog = try ChangelogFile(directory: dir.path, committed: nil)
        #expect(changelog.position == ChangelogFilePosition(generation: 1, offset: Int64(ChangelogHeader.size)))
        for entry in entries.prefix(1_000) { changelog.append(entry) }
        #expect(Files.size(changelog.path) == Int64(ChangelogHeader.size), "append wrote before flush")
        try changelog.sync()
        for entry in entries.dropFirst(1_000) { changelog.append(entry) }
        #expect(changelog.bufferedRecordCount == entries.count - 1_000)
        try changelog.sync()
        #expect(changelog.position.offset == Files.size(changelog.path))
        #expect(try Self.readAll(changelog.reader()) == entries)

        // Reopened at its position, and read from an intermediate position.
        let position = changelog.position
        changelog.close()
        let reopened = try ChangelogFile(directory: dir.path, committed: position)
        #expect(try Self.readAll(reopened.reader()) == entries)
        let reader = try ChangelogFileReader(path: reopened.path, chunkSize: 4_096)
        _ = try reader.nextBatch(maxEntries: 10)
        let tenth = reader.validLength
        #expect(try Self.readAll(reopened.reader(from: tenth)) == Array(entries.dropFirst(10)))
    }

    @Test(
        "a torn tail (partial record, garbage, bad CRC) stops the reader at the last complete record",
        arguments: ["partial", "garbage", "badCRC", "zeros", "hugeLength"]
    )
    func tornTail(kind: String) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let entries = Self.sampleEntries(300, seed: 7)
        let changelog = try ChangelogFile(directory: dir.path, committed: nil)
        for entry in entries { changelog.append(entry) }
        try changelog.sync()
        let committed = changelog.position
        // One more record, then damage it.
        changelog.append(ChangelogEntry(key: Array("tail".utf8), timestampMs: 1, value: Array("value".utf8)))
        try changelog.flush()
        changelog.close()
        let full = Files.size(changelog.path)
        switch kind {
        case "partial": Files.truncate(changelog.path, to: full - 3)
        case "garbage": Files.append(Array("not a record at all".utf8), to: changelog.path)
        case "badCRC":
            var bytes = Files.read(changelog.path)
            bytes[bytes.count - 2] ^= 0xFF
            Files.write(bytes, to: changelog.path)
        case "zeros":
            Files.truncate(changelog.path, to: committed.offset)
            Files.append([UInt8](repeating: 0, count: 4_096), to: changelog.path)
        default:
            Files.truncate(changelog.path, to: committed.offset)
            Files.append([0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3, 4, 5], to: changelog.path)
        }
        let reader = try ChangelogFileReader(path: changelog.path)
        let read = try Self.readAll(reader, batch: 64)
        let expectedCount = kind == "garbage" ? entries.count + 1 : entries.count
        #expect(
            read
                == Array(
                    (entries + [ChangelogEntry(key: Array("tail".utf8), timestampMs: 1, value: Array("value".utf8))])
                        .prefix(expectedCount)))
        #expect(reader.tornTail != nil)
        #expect(reader.validLength == (kind == "garbage" ? full : committed.offset))

        // Recovery: reopening at the checkpoint's position cuts the tail off.
        let recovered = try ChangelogFile(directory: dir.path, committed: committed)
        #expect(Files.size(recovered.path) == committed.offset)
        let clean = try ChangelogFileReader(path: recovered.path)
        #expect(try Self.readAll(clean) == entries)
        #expect(clean.tornTail == nil)
    }

    @Test("damage inside the committed length is an error naming the file, not a torn tail")
    func damagedCommittedData() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let changelog = try ChangelogFile(directory: dir.path, committed: nil)
        for entry in Self.sampleEntries(100) { changelog.append(entry) }
        try changelog.sync()
        var bytes = Files.read(changelog.path)
        bytes[ChangelogHeader.size + 200] ^= 0x01
        Files.write(bytes, to: changelog.path)
        let error = #expect(throws: EmbeddedError.self) { _ = try Self.readAll(changelog.reader()) }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains(changelog.path) == true)
        #expect(error?.message.contains("committed") == true)

        // A file shorter than the checkpoint says is refused on open.
        let position = changelog.position
        Files.truncate(changelog.path, to: position.offset - 1)
        let short = #expect(throws: EmbeddedError.self) { try ChangelogFile(directory: dir.path, committed: position) }
        #expect(short?.code == .corrupt)
        #expect(short?.message.contains(changelog.path) == true)

        // A bad header too.
        Files.write(Array("definitely not a changelog header, and long enough to be one.....".utf8), to: changelog.path)
        let header = #expect(throws: EmbeddedError.self) { try ChangelogFileReader(path: changelog.path) }
        #expect(header?.code == .corrupt)

        // And a missing file the checkpoint names.
        let missing = #expect(throws: EmbeddedError.self) {
            try ChangelogFile(directory: dir.path, committed: ChangelogFilePosition(generation: 9, offset: 100))
        }
        #expect(missing?.code == .corrupt)
        #expect(missing?.message.contains("changelog-00000000000000000009.log") == true)
    }

    @Test("a failed commit is rolled back to the synced position")
    func discardUncommitted() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let entries = Self.sampleEntries(20)
        let changelog = try Self.changelog(in: dir, committing: entries.prefix(10))
        for entry in entries.suffix(10) { changelog.append(entry) }
        try changelog.flush()
        try changelog.discardUncommitted()
        #expect(changelog.appendedPosition == changelog.position)
        #expect(try Self.readAll(changelog.reader()) == Array(entries.prefix(10)))
    }

    @Test("write-ahead writes past the threshold only, commits nothing, and is cut off on reopen")
    func writeAhead() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let entries = Self.sampleEntries(400)
        let changelog = try Self.changelog(in: dir, committing: entries.prefix(100))
        let committed = changelog.position
        for entry in entries.suffix(300) { changelog.append(entry) }
        let appended = changelog.appendedPosition
        try changelog.writeAhead(threshold: Int(appended.offset - committed.offset) + 1)  // below: no write
        #expect(Files.size(changelog.path) == committed.offset)
        try changelog.writeAhead(threshold: 1_024)
        #expect(Files.size(changelog.path) == appended.offset)
        #expect(changelog.position == committed)
        #expect(changelog.appendedPosition == appended)
        changelog.close()
        // A crash now: reopening at the checkpoint's position drops what was written ahead.
        let reopened = try ChangelogFile(directory: dir.path, committed: committed)
        #expect(try Self.readAll(reopened.reader()) == Array(entries.prefix(100)))
        #expect(Files.size(reopened.path) == committed.offset)
    }

    @Test("positions encode to store metadata and back")
    func positionMetadata() {
        let position = ChangelogFilePosition(generation: 3, offset: 12_345)
        #expect(ChangelogFilePosition(metadataBytes: position.metadataBytes) == position)
        #expect(ChangelogFilePosition(metadataBytes: Array("3:".utf8)) == nil)
        #expect(ChangelogFilePosition(metadataBytes: Array("x:1".utf8)) == nil)
        #expect(ChangelogFilePosition(metadataBytes: Array("1:2:3".utf8)) == nil)
        // The same bytes the runtime records after a commit, so tools and the engine agree.
        #expect(position.metadataBytes == ChangelogPosition(position.packed).metadata)
        #expect(ChangelogFilePosition(packed: 0) == nil)
    }

    @Test("recovery plans: up to date, replay from the store's offset, rebuild")
    func recoveryPlans() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let changelog = try ChangelogFile(directory: dir.path, committed: nil)
        let start = changelog.position
        for entry in Self.sampleEntries(10) { changelog.append(entry) }
        try changelog.sync()
        let end = changelog.position
        #expect(changelog.recovery(forStoreAt: end) == .upToDate)
        #expect(changelog.recovery(forStoreAt: start) == .replay(from: start.offset))
        if case .rebuild = changelog.recovery(forStoreAt: nil) {} else { Issue.record("no position must rebuild") }
        if case .rebuild = changelog.recovery(forStoreAt: ChangelogFilePosition(generation: 1, offset: end.offset + 1))
        {
        } else {
            Issue.record("a store ahead of the changelog must rebuild")
        }
        if case .rebuild = changelog.recovery(forStoreAt: ChangelogFilePosition(generation: 7, offset: 100)) {
        } else {
            Issue.record("another generation must rebuild")
        }
    }

    @Test("replaying from the store's position catches an LMDB store up exactly")
    func replayIntoStore() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let configuration = WindowStoreConfiguration(name: "t", retention: .seconds(1_000_000))
        let storeDirectory = dir.file("store")
        let changelog = try ChangelogFile(directory: dir.file("changelog"), committed: nil)
        let store = try LMDBWindowStore(directory: storeDirectory, configuration: configuration)
        let logged = ChangeLoggingWindowStore(store, changelog: changelog)
        for i in 0..<100 { try logged.put(key: Array("k\(i)".utf8), timestampMs: Int64(i), value: [UInt8(i)]) }
        try changelog.sync()
        try store.commit(metadata: [ChangelogFilePosition.metadataKey: changelog.position.metadataBytes])
        // The next commit reaches the changelog and the checkpoint but not the store (a crash).
        for i in 100..<150 { try logged.put(key: Array("k\(i)".utf8), timestampMs: Int64(i), value: [UInt8(i)]) }
        try logged.delete(key: Array("k3".utf8), timestampMs: 3)
        try changelog.sync()
        let expected = Set(try store.allEntries())
        try store.abort()
        try store.close()

        let reopened = try LMDBWindowStore(directory: storeDirectory, configuration: configuration)
        let at = try reopened.metadata(forKey: ChangelogFilePosition.metadataKey).flatMap(
            ChangelogFilePosition.init(metadataBytes:))
        guard case .replay(let offset) = changelog.recovery(forStoreAt: at) else {
            Issue.record("expected a replay plan")
            return
        }
        #expect(try changelog.reader(from: offset).restore(into: reopened) == 51)
        try reopened.commit(metadata: [ChangelogFilePosition.metadataKey: changelog.position.metadataBytes])
        #expect(Set(try reopened.allEntries()) == expected)
        #expect(
            try changelog.recovery(
                forStoreAt: reopened.metadata(forKey: ChangelogFilePosition.metadataKey).flatMap(
                    ChangelogFilePosition.init(metadataBytes:))) == .upToDate)
    }
}
