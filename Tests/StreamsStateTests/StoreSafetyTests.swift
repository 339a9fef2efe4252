import Foundation
import StreamsState
import StreamsStateLMDB
import StreamsTestSupport
import Testing

/// Mistakes a library user can make with the window stores (issue 11): each must be a clear
/// ``StateStoreError``, never a corrupted store, a hang or a trap.
@Suite("Window store misuse")
struct StoreSafetyTests {
    let configuration = WindowStoreConfiguration(name: "t", retention: .seconds(10), segmentInterval: .seconds(1))

    @Test("a second LMDBWindowStore on one directory in one process is refused, also by another path")
    func secondOpenInProcess() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let first = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        try first.put(key: [1], timestampMs: 1, value: [1])
        try first.commit(metadata: [:])
        for path in [dir.path, dir.path + "/.", dir.path + "/../" + (dir.path as NSString).lastPathComponent] {
            #expect {
                _ = try LMDBWindowStore(directory: path, configuration: configuration)
            } throws: { error in
                let error = error as! StateStoreError
                return error.code == .inUse && error.message.contains(dir.path)
                    && error.message.contains("already open in this process")
            }
        }
        // The first store is unharmed, and once it is closed the directory opens again.
        #expect(try first.firstTimestamp(key: [1], from: 0, to: 10) == 1)
        try first.close()
        let again = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        #expect(try again.firstTimestamp(key: [1], from: 0, to: 10) == 1)
        try again.close()
    }

    @Test("a store open in another process is refused, naming the directory and the holder's pid")
    func secondProcess() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BuiltExecutable.path("StreamsTestSupportTools"))
        process.arguments = ["store-holder", dir.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let line = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        #expect(line == "open\n")
        #expect {
            _ = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        } throws: { error in
            let error = error as! StateStoreError
            return error.code == .inUse && error.message.contains(dir.path)
                && error.message.contains("process \(process.processIdentifier)")
        }
        #expect {
            try LMDBWindowStore.destroy(directory: dir.path)
        } throws: { error in
            (error as! StateStoreError).code == .inUse
        }
        // Once the holder is gone (killed: the kernel drops its lock), the store opens.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let store = try LMDBWindowStore(
            directory: dir.path, configuration: WindowStoreConfiguration(name: "holder", retention: .seconds(60)))
        try store.close()
    }

    @Test("destroy(directory:) while the store is open in this process is refused, and the store keeps working")
    func destroyWhileOpen() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        try store.put(key: [1], timestampMs: 1, value: [1])
        #expect {
            try LMDBWindowStore.destroy(directory: dir.path)
        } throws: { error in
            let error = error as! StateStoreError
            return error.code == .inUse && error.message.contains(dir.path) && error.message.contains("close it first")
        }
        try store.commit(metadata: ["m": [7]])
        try store.close()
        let reopened = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        #expect(try reopened.metadata(forKey: "m") == [7])
        #expect(try reopened.firstTimestamp(key: [1], from: 0, to: 10) == 1)
        try reopened.close()
        // Closed, it can be destroyed.
        try LMDBWindowStore.destroy(directory: dir.path)
        let fresh = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        #expect(fresh.integrity == .new)
        try fresh.close()
    }
}
