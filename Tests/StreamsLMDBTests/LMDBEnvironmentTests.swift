import Foundation
import Testing

@testable import StreamsLMDB
import StreamsTestSupport

@Suite("LMDB binding")
struct LMDBEnvironmentTests {
    @Test("put, get, overwrite rules and delete round-trip through a real file")
    func putGetDelete() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let env = try LMDBEnvironment(path: dir.path)
        let (db, results) = try env.withWriteTransaction { (txn) throws(LMDBError) in
            let db = try txn.openDatabase(named: "things")!
            let results = [
                try txn.put(key: [1, 2], value: [9], in: db),
                try txn.put(key: [1, 2], value: [8], in: db, flags: .noOverwrite),
                try txn.value(forKey: [1, 2], in: db) == [9],
                try txn.put(key: [3], value: [7], in: db),
                try txn.delete([3], in: db),
                try txn.delete([3], in: db),
            ]
            return (db, results)
        }
        #expect(results == [true, false, true, true, true, false])
        let (value, missing, count) = try env.withReadTransaction { (txn) throws(LMDBError) in
            (try txn.value(forKey: [1, 2], in: db), try txn.value(forKey: [3], in: db), try txn.count(of: db))
        }
        #expect(value == [9])
        #expect(missing == nil)
        #expect(count == 1)
    }

    @Test("a throwing write closure rolls everything back")
    func abortOnThrow() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let env = try LMDBEnvironment(path: dir.path)
        let db = try env.withWriteTransaction { (txn) throws(LMDBError) in try txn.openDatabase(named: "d")! }
        #expect(throws: LMDBError.self) {
            try env.withWriteTransaction { (txn) throws(LMDBError) in
                try txn.put(key: [1], value: [1], in: db)
                throw LMDBError(code: .other, operation: "test")
            }
        }
        let value = try env.withReadTransaction { (txn) throws(LMDBError) in try txn.value(forKey: [1], in: db) }
        #expect(value == nil)
    }

    @Test("cursors seek at-least, step both ways and delete in place")
    func cursors() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let env = try LMDBEnvironment(path: dir.path)
        let (steps, seen) = try env.withWriteTransaction { (txn) throws(LMDBError) in
            let db = try txn.openDatabase(named: "c")!
            for k: UInt8 in [10, 20, 30, 40] { try txn.put(key: [k], value: [k &+ 1], in: db) }
            let steps: [String] = try txn.withCursor(on: db) { (cursor) throws(LMDBError) in
                var steps: [String] = []
                func note(_ moved: Bool) { steps.append(moved ? "\(cursor.key.first!):\(cursor.value.first!)" : "end") }
                try withBytes([15]) { (k) throws(LMDBError) in note(try cursor.seek(atLeast: k)) }
                note(try cursor.next())
                try cursor.deleteCurrent()
                note(try cursor.next())
                note(try cursor.next())
                note(try cursor.last())
                note(try cursor.previous())
                try withBytes([41]) { (k) throws(LMDBError) in note(try cursor.seek(atLeast: k)) }
                return steps
            }
            var seen: [UInt8] = []
            try txn.forEach(in: db) { (k, _) throws(LMDBError) in
                seen.append(k[0])
                return true
            }
            return (steps, seen)
        }
        #expect(steps == ["20:21", "30:31", "40:41", "end", "40:41", "20:21", "end"])
        #expect(seen == [10, 20, 40])
    }

    @Test("MDB_APPEND rejects keys out of order with a stable code")
    func appendOrder() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let env = try LMDBEnvironment(path: dir.path)
        let error = #expect(throws: LMDBError.self) {
            try env.withWriteTransaction { (txn) throws(LMDBError) in
                let db = try txn.openDatabase(named: "a")!
                try txn.put(key: [1], value: [], in: db, flags: .append)
                try txn.put(key: [2], value: [], in: db, flags: .append)
                try txn.put(key: [0], value: [], in: db, flags: .append)
            }
        }
        #expect(error?.code == .keyExists)
    }

    @Test("dropping a database frees it; opening it again finds nothing")
    func drop() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let env = try LMDBEnvironment(path: dir.path)
        try env.withWriteTransaction { (txn) throws(LMDBError) in
            let db = try txn.openDatabase(named: "gone")!
            for i in 0..<1000 { try txn.put(key: [UInt8(i % 256), UInt8(i / 256)], value: [0], in: db) }
        }
        try env.withWriteTransaction { (txn) throws(LMDBError) in
            try txn.drop(try txn.existingDatabase(named: "gone")!)
        }
        let gone = try env.withReadTransaction { (txn) throws(LMDBError) in try txn.existingDatabase(named: "gone") }
        #expect(gone == nil)
    }

    @Test("a full map grows by doubling and the work is retried")
    func mapGrowth() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let env = try LMDBEnvironment(path: dir.path, configuration: .init(mapSize: 1 << 20))
        let before = env.info.mapSize
        var attempts = 0
        try env.withWriteTransaction { (txn) throws(LMDBError) in
            attempts += 1
            let db = try txn.openDatabase(named: "big")!
            for i in 0..<20_000 {
                try txn.put(
                    key: withUnsafeBytes(of: i.bigEndian) { Array($0) }, value: [UInt8](repeating: 7, count: 100),
                    in: db)
            }
        }
        #expect(attempts > 1)
        #expect(env.info.mapSize > before)
        let count = try env.withReadTransaction { (txn) throws(LMDBError) in
            try txn.count(of: try txn.existingDatabase(named: "big")!)
        }
        #expect(count == 20_000)
    }

    @Test("the map stops growing at its maximum with a clear mapFull error")
    func mapMaximum() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let env = try LMDBEnvironment(path: dir.path, configuration: .init(mapSize: 1 << 20, maxMapSize: 2 << 20))
        let error = #expect(throws: LMDBError.self) {
            try env.withWriteTransaction { (txn) throws(LMDBError) in
                let db = try txn.openDatabase(named: "big")!
                for i in 0..<100_000 {
                    try txn.put(
                        key: withUnsafeBytes(of: i.bigEndian) { Array($0) }, value: [UInt8](repeating: 7, count: 100),
                        in: db)
                }
            }
        }
        #expect(error?.code == .mapFull)
        #expect(error?.description.contains("maximum map size") == true)
    }

    @Test("a missing directory and a garbage file give actionable errors")
    func openErrors() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let missing = #expect(throws: LMDBError.self) { _ = try LMDBEnvironment(path: dir.path + "/nope") }
        #expect(missing?.code == .noSuchFile)
        #expect(missing?.description.contains("create it first") == true)

        var garbage = [UInt8](repeating: 0, count: 64 * 1024)
        var rng = SystemRandomNumberGenerator()
        for i in garbage.indices { garbage[i] = rng.next() }
        let file = dir.path + "/garbage"
        try Data(garbage).write(to: URL(fileURLWithPath: file + ".mdb"))
        let invalid = #expect(throws: LMDBError.self) {
            _ = try LMDBEnvironment(path: file + ".mdb", configuration: .init(flags: [.noSubdirectory]))
        }
        #expect(invalid?.code == .invalid)
    }

    @Test("read-only on an existing directory without a store says that, not that the directory is missing")
    func readOnlyWithoutStore() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let error = #expect(throws: LMDBError.self) {
            _ = try LMDBEnvironment(path: dir.path, configuration: .init(flags: [.readOnly, .noLock]))
        }
        #expect(error?.code == .noSuchFile)
        let text = error?.description ?? ""
        #expect(!text.contains("directory does not exist"), "\(text)")
        #expect(text.contains("\(dir.path) has no data.mdb"), "\(text)")
        #expect(text.contains("a read-only open cannot create one"), "\(text)")
        // A missing directory still says so, read-only or not.
        let missing = #expect(throws: LMDBError.self) {
            _ = try LMDBEnvironment(path: dir.path + "/nope", configuration: .init(flags: [.readOnly]))
        }
        #expect(missing?.description.contains("the directory does not exist") == true)
    }

    @Test(
        "a full file system (ENOSPC, real tmpfs) says the disk is full, naming the directory and the fix",
        .enabled(
            if: SmallFileSystem.isPermitted, "mounting a tmpfs is not permitted here (needs root with CAP_SYS_ADMIN)")
    )
    func diskFull() throws {
        let disk = try SmallFileSystem(size: "1m")
        defer { disk.unmount() }
        let env = try LMDBEnvironment(path: disk.path, configuration: .init(mapSize: 64 << 20, flags: [.noTLS]))
        let value = [UInt8](repeating: 7, count: 1_000)
        var error: LMDBError?
        outer: for batch in 0..<100 {
            do {
                try env.withWriteTransaction { (txn) throws(LMDBError) in
                    let db = try txn.openDatabase(named: "d")!
                    for i in 0..<100 { try txn.put(key: Array("key-\(batch)-\(i)".utf8), value: value, in: db) }
                }
            } catch let e {
                error = e
                break outer
            }
        }
        let failure = try #require(error, "1 MiB never filled up")
        #expect(failure.code == .diskFull, "\(failure)")
        #expect(failure.description.contains(disk.path), "\(failure)")
        #expect(failure.description.contains("file system is full"), "\(failure)")
        #expect(failure.description.contains("free space"), "\(failure)")
        #expect(!failure.description.contains("check the device"), "\(failure)")
    }

    @Test("every MDB_* code maps to its own stable code with a hint", arguments: -30799 ... -30780)
    func errorMapping(rc: Int32) {
        let error = LMDBError(rawValue: rc, operation: "op")
        #expect(error.code != .other)
        #expect(!error.hint.isEmpty)
        #expect(error.description.hasPrefix("op: "))
    }

    @Test("statistics and info describe the file")
    func statistics() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let env = try LMDBEnvironment(path: dir.path, configuration: .init(flags: [.noSync, .noTLS]))
        let entries = try env.withWriteTransaction { (txn) throws(LMDBError) in
            let db = try txn.openDatabase(named: "s")!
            for i: UInt8 in 0..<100 { try txn.put(key: [i], value: [i], in: db) }
            return try txn.statistics(of: db).entries
        }
        #expect(entries == 100)
        try env.sync(force: true)
        #expect(env.statistics.pageSize >= 4096)
        #expect(env.info.lastTransactionID >= 1)
        #expect(env.usedBytes > 0)
    }
}

/// Calls `body` with the bytes of `array`, keeping typed throws.
func withBytes<R>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(LMDBError) -> R) throws(LMDBError) -> R {
    let result: Result<R, LMDBError> = array.withUnsafeBytes { b in
        do throws(LMDBError) { return .success(try body(b)) } catch { return .failure(error) }
    }
    return try result.get()
}
