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

    @Test(
        "close() closes the LMDB files at once: none stays open, and the directory reopens (and can be destroyed) while the closed store lives"
    )
    func closeReleasesFiles() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let first = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        try first.put(key: [1], timestampMs: 1, value: [1])
        try first.commit(metadata: [:])
        #expect(Self.openFiles(in: dir.path).contains(dir.file("data.mdb")))
        try first.close()
        #expect(Self.openFiles(in: dir.path) == [])
        #expect(first.usedBytes > 0)  // the size at close, not a read of a closed environment
        let again = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        #expect(try again.firstTimestamp(key: [1], from: 0, to: 10) == 1)
        try again.put(key: [2], timestampMs: 2, value: [2])
        try again.commit(metadata: [:])
        try again.close()
        try LMDBWindowStore.destroy(directory: dir.path)
        #expect(!FileManager.default.fileExists(atPath: dir.file("data.mdb")))
        withExtendedLifetime(first) {}
    }

    /// The files under `directory` this process has open, from `/proc/self/fd`.
    static func openFiles(in directory: String) -> [String] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0) }
            .filter { $0.hasPrefix(directory + "/") }.sorted()
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

// MARK: Use after close (item 10)

extension StoreSafetyTests {
    /// Calls every public operation of `store`; what did not throw `code`.
    static func everyOperation(of store: any WindowStore, throws code: StateStoreError.Code) -> [String] {
        var failures: [String] = []
        func expectCode(_ what: String, _ body: () throws -> Void) {
            do {
                try body()
                failures.append("\(what) did not throw")
            } catch let error as StateStoreError {
                if error.code != code { failures.append("\(what): \(error)") }
            } catch {
                failures.append("\(what) threw \(error)")
            }
        }
        expectCode("put") { try store.put(key: [1], timestampMs: 1, value: [1]) }
        expectCode("insertIfAbsent") {
            _ = try store.insertIfAbsent(key: [1], timestampMs: 1, value: [1], conflictRange: 0...1)
        }
        expectCode("firstTimestamp") { _ = try store.firstTimestamp(key: [1], from: 0, to: 9) }
        expectCode("fetch") { _ = try store.fetch(key: [1], from: 0, to: 9) }
        expectCode("forEachEntry") { try store.forEachEntry { _ in } }
        expectCode("delete") { try store.delete(key: [1], timestampMs: 1) }
        expectCode("advanceStreamTime") { try store.advanceStreamTime(to: 100) }
        expectCode("restore") {
            try store.restore(from: [ChangelogEntry(key: [2], timestampMs: 2, value: [2])])
        }
        expectCode("approximateEntryCount") { _ = try store.approximateEntryCount }
        expectCode("approximateEntryCount(key:)") { _ = try store.approximateEntryCount(key: [1]) }
        expectCode("metadata") { _ = try store.metadata(forKey: "m") }
        expectCode("commit") { try store.commit(metadata: [:]) }
        expectCode("abort") { try store.abort() }
        return failures
    }

    @Test("every operation of a closed store throws .closed, in both stores; close() again is a no-op")
    func useAfterClose() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let lmdb = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        let memory = try InMemoryWindowStore(configuration: configuration)
        for store in [lmdb, memory] as [any WindowStore] {
            try store.put(key: [1], timestampMs: 1, value: [1])
            try store.commit(metadata: [:])
            _ = try store.firstTimestamp(key: [1], from: 0, to: 9)  // a batch open at close
            try store.close()
            #expect(Self.everyOperation(of: store, throws: .closed) == [])
            try store.close()
        }
    }
}

// MARK: Threads (item 2)

/// Carries a non-Sendable store into another thread or task, as the tests below mean to.
final class Handed<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Runs `body` on a new thread and waits at most `seconds`: `nil` if it has not returned by then
/// (it hangs: the thread is left behind, the test fails instead of hanging the suite).
func onNewThread<R>(within seconds: Double = 20, _ body: @escaping () throws -> R) -> Result<R, any Error>? {
    let done = DispatchSemaphore(value: 0)
    let result = Handed(NSLock())
    nonisolated(unsafe) var outcome: Result<R, any Error>?
    nonisolated(unsafe) let body = body
    let thread = Thread {
        let r = Result { try body() }
        result.value.withLock { outcome = r }
        done.signal()
    }
    thread.start()
    guard done.wait(timeout: .now() + seconds) == .success else { return nil }
    return result.value.withLock { outcome }
}

/// A thread that runs `first`, then waits (alive, so its id is not reused) until ``finish(_:)``
/// runs a second closure on it.
final class ParkedThread: @unchecked Sendable {
    private let startedSignal = DispatchSemaphore(value: 0)
    private let go = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var firstResult: Result<Void, any Error>?
    private var second: (() throws -> Void)?
    private var secondResult: Result<Void, any Error>?

    init(_ first: @escaping () throws -> Void) {
        nonisolated(unsafe) let first = first
        Thread { [self] in
            let r = Result { try first() }
            lock.withLock { firstResult = r }
            startedSignal.signal()
            go.wait()
            let body = lock.withLock { second }!
            let r2 = Result { try body() }
            lock.withLock { secondResult = r2 }
            finished.signal()
        }.start()
    }

    /// Whether `first` returned without error within 20 s.
    func started() -> Bool {
        guard startedSignal.wait(timeout: .now() + 20) == .success else { return false }
        return lock.withLock { (try? firstResult?.get()) != nil }
    }

    /// Runs `body` on the thread; `nil` if it has not returned within 20 s.
    func finish(_ body: @escaping () throws -> Void) -> Result<Void, any Error>? {
        lock.withLock { second = body }
        go.signal()
        guard finished.wait(timeout: .now() + 20) == .success else { return nil }
        return lock.withLock { secondResult }
    }
}

/// Runs `body` in a detached task and waits at most `seconds`: `nil` if it has not finished.
/// Generous: under the full suite the cooperative pool (one thread per core) can be busy with
/// other tests' blocking waits for many seconds before the task starts.
func inDetachedTask(within seconds: Double = 300, _ body: @escaping @Sendable () async throws -> Void) async -> Result<
    Void, any Error
>? {
    final class Once: @unchecked Sendable {
        let lock = NSLock()
        var continuation: CheckedContinuation<Result<Void, any Error>?, Never>?
        func finish(_ value: Result<Void, any Error>?) {
            lock.withLock {
                continuation?.resume(returning: value)
                continuation = nil
            }
        }
    }
    let once = Once()
    return await withCheckedContinuation { continuation in
        once.lock.withLock { once.continuation = continuation }
        Task.detached {
            do {
                try await body()
                once.finish(.success(()))
            } catch {
                once.finish(.failure(error))
            }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { once.finish(nil) }
    }
}

actor StoreUser {
    let store: Handed<LMDBWindowStore>
    init(_ store: Handed<LMDBWindowStore>) { self.store = store }
    func insertAndCommit(_ key: UInt8) throws {
        _ = try store.value.insertIfAbsent(key: [key], timestampMs: 1, value: [1], conflictRange: 0...1)
        try store.value.commit(metadata: [:])
    }
}

extension StoreSafetyTests {
    static func isWrongThread<T>(_ result: Result<T, any Error>?) -> Bool {
        guard case .failure(let error as StateStoreError) = result else { return false }
        return error.code == .wrongThread && error.message.contains("must stay on one thread")
    }

    @Test("a store opened on one thread works in a detached task (no batch stays open after opening)")
    func detachedTask() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = Handed(try LMDBWindowStore(directory: dir.path, configuration: configuration))
        let result = await inDetachedTask {
            for i in 0..<3 {
                _ = try store.value.insertIfAbsent(key: [UInt8(i)], timestampMs: 1, value: [1], conflictRange: 0...1)
                try store.value.commit(metadata: [:])
            }
        }
        guard let result else {
            Issue.record("the detached task hangs")
            return
        }
        try result.get()
        #expect(try store.value.fetch(key: [2], from: 0, to: 9).count == 1)
        try store.value.close()
    }

    @Test(
        "a batch begun on one thread and continued on another throws .wrongThread, and the first thread can commit it")
    func batchAcrossThreads() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = try LMDBWindowStore(directory: dir.path, configuration: configuration)
        // Thread A begins the batch with a read and a write, and stays alive until told to commit.
        let threadA = ParkedThread {
            try store.put(key: [1], timestampMs: store.firstTimestamp(key: [1], from: 0, to: 9) ?? 1, value: [1])
        }
        try #require(threadA.started(), "hangs")
        let onB = onNewThread { () throws -> Void in
            _ = try store.insertIfAbsent(key: [2], timestampMs: 1, value: [1], conflictRange: 0...1)
            try store.commit(metadata: [:])
        }
        #expect(onB != nil, "hangs instead of throwing")
        #expect(Self.isWrongThread(onB))
        // Every entry point refuses on another thread, none hangs.
        let others = onNewThread { Self.everyOperation(of: store, throws: .wrongThread) }
        #expect(others != nil, "hangs")
        #expect((try? others?.get()) == [])
        // Thread A commits its batch; then the store is free for any thread.
        let committed = threadA.finish { try store.commit(metadata: [:]) }
        #expect(committed != nil, "hangs")
        try committed?.get()
        let afterwards = onNewThread { () throws -> Int in
            let count = try store.fetch(key: [1], from: 0, to: 9).count
            try store.abort()  // a read begins a batch too
            return count
        }
        #expect((try afterwards?.get()) == 1)
        try store.close()
    }

    @Test(
        "a store released on another thread than its open batch's stays mapped: that thread's next store works, the directory stays claimed"
    )
    func releasedAwayFromItsBatch() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        final class Box: @unchecked Sendable { var store: LMDBWindowStore? }
        let box = Box()
        box.store = try LMDBWindowStore(directory: dir.file("a"), configuration: configuration)
        let thread = ParkedThread {
            _ = try box.store!.insertIfAbsent(key: [1], timestampMs: 1, value: [1], conflictRange: 0...1)
        }
        try #require(thread.started())
        box.store = nil  // the last reference, released here while the batch is open on `thread`
        // LMDB's writer mutex of the released store is still in that thread's robust-mutex list:
        // had its lock file been unmapped, the next lock there (another store's batch) would crash.
        let other = thread.finish {
            // First a robust mutex of the thread's own (no new mapping could take the old one's place).
            let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
            defer { mutex.deallocate() }
            var attributes = pthread_mutexattr_t()
            pthread_mutexattr_init(&attributes)
            pthread_mutexattr_setrobust(&attributes, Int32(PTHREAD_MUTEX_ROBUST))
            pthread_mutex_init(mutex, &attributes)
            pthread_mutex_lock(mutex)
            pthread_mutex_unlock(mutex)
            pthread_mutex_destroy(mutex)
            let store = try LMDBWindowStore(directory: dir.file("b"), configuration: self.configuration)
            _ = try store.insertIfAbsent(key: [2], timestampMs: 1, value: [1], conflictRange: 0...1)
            try store.commit(metadata: [:])
            try store.close()
        }
        try #require(other != nil, "hangs")
        try other?.get()
        let error = #expect(throws: StateStoreError.self) {
            try LMDBWindowStore(directory: dir.file("a"), configuration: self.configuration)
        }
        #expect(error?.code == .inUse)
    }

    @Test("read, await Task.sleep, insert and commit: works or throws .wrongThread, never hangs")
    func awaitBetweenCalls() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = Handed(try LMDBWindowStore(directory: dir.path, configuration: configuration))
        for _ in 0..<5 {
            let result = await inDetachedTask {
                _ = try store.value.firstTimestamp(key: [1], from: 0, to: 9)
                try await Task.sleep(for: .milliseconds(5))
                _ = try store.value.insertIfAbsent(key: [1], timestampMs: 1, value: [1], conflictRange: 0...1)
                try store.value.commit(metadata: [:])
            }
            #expect(result != nil, "hangs")
            if case .failure = result { #expect(Self.isWrongThread(result)) }
            if Self.isWrongThread(result) { return }  // the batch stays with the thread that began it
        }
    }

    @Test(
        "a store read on one thread then used inside an actor throws .wrongThread; opened elsewhere and used only there, it works"
    )
    func insideAnActor() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let store = Handed(try LMDBWindowStore(directory: dir.path, configuration: configuration))
        let user = StoreUser(store)
        let fine = await inDetachedTask { try await user.insertAndCommit(1) }
        #expect(fine != nil, "hangs")
        try fine?.get()
        // A read on a thread of its own leaves its batch bound to that thread.
        let reader = ParkedThread { _ = try store.value.metadata(forKey: "m") }
        try #require(reader.started())
        let refused = await inDetachedTask { try await user.insertAndCommit(2) }
        #expect(refused != nil, "hangs instead of throwing")
        #expect(Self.isWrongThread(refused))
        let aborted = reader.finish { try store.value.abort() }
        try #require(aborted != nil)
        try aborted?.get()
        // Released by the reader's thread, the store works in the actor again.
        let again = await inDetachedTask { try await user.insertAndCommit(3) }
        try #require(again != nil)
        try again?.get()
    }
}

// MARK: Timestamps (item 4)

extension StoreSafetyTests {
    @Test(
        "timestamps at the edges of the valid range behave alike in both stores; Int64.min and Int64.max throw",
        arguments: [Int64.min + 1, Int64.min + 2, -1, 0, Int64.max - 2, Int64.max - 1]
    )
    func timestampEdges(t: Int64) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let options = LMDBWindowStore.Options(longKeyThreshold: 16)
        let lmdb = try LMDBWindowStore(directory: dir.path, configuration: configuration, options: options)
        let memory = try InMemoryWindowStore(configuration: configuration)
        let long = [UInt8](repeating: 0x6C, count: 40)
        let range = t.saturatingSubtract(9_999)...t.saturatingAdd(9_999)
        for store in [lmdb, memory] as [any WindowStore] {
            for key in [[UInt8(1)], long] {
                #expect(
                    try store.insertIfAbsent(key: key, timestampMs: t, value: [1], conflictRange: range) == .inserted)
                #expect(
                    try store.insertIfAbsent(key: key, timestampMs: t, value: [2], conflictRange: range)
                        == .conflict(earliestTimestampMs: t))
                #expect(try store.firstTimestamp(key: key, from: .min, to: .max) == t)
                #expect(
                    try store.fetch(key: key, from: range.lowerBound, to: range.upperBound).map(\.timestampMs) == [t])
            }
            try store.commit(metadata: [:])
            #expect(try store.allEntries().count == 2)
            for bad in [Int64.min, .max] {
                for (what, body) in [
                    ("put", { () throws -> Void in try store.put(key: [3], timestampMs: bad, value: [1]) }),
                    (
                        "insertIfAbsent",
                        {
                            _ = try store.insertIfAbsent(
                                key: [3], timestampMs: bad, value: [1], conflictRange: bad...bad)
                        }
                    ),
                    ("delete", { try store.delete(key: [3], timestampMs: bad) }),
                    ("restore", { try store.restore(from: [ChangelogEntry(key: [3], timestampMs: bad, value: [1])]) }),
                ] {
                    #expect(throws: StateStoreError.self, "\(what) at \(bad)") { try body() }
                    do { try body() } catch let error as StateStoreError {
                        #expect(error.code == .invalidTimestamp && error.message.contains("validTimestamps"))
                    }
                }
            }
            #expect(try store.allEntries().count == 2)
        }
        try lmdb.close()
    }
}
