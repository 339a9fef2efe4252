import Foundation
import StreamsEmbedded
import StreamsState
import StreamsStateLMDB
import Testing
import StreamsTestSupport

@Suite("StateDirectory")
struct StateDirectoryTests {
    @Test("creates the layout and takes an exclusive lock; a second user gets a clear error")
    func lock() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("state")
        let first = try StateDirectory(path: path)
        var isDirectory: ObjCBool = false
        #expect(
            FileManager.default.fileExists(atPath: first.storePath, isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(
            FileManager.default.fileExists(atPath: first.changelogPath, isDirectory: &isDirectory)
                && isDirectory.boolValue)
        #expect(String(decoding: Files.read(first.lockPath), as: UTF8.self) == "\(getpid())\n")

        let error = #expect(throws: EmbeddedError.self) { try StateDirectory(path: path) }
        #expect(error?.code == .locked)
        #expect(error?.message.contains(path) == true)
        #expect(error?.message.contains("pid \(getpid())") == true)
        #expect(error?.message.contains("use another state directory") == true)

        first.unlock()
        let second = try StateDirectory(path: path)
        #expect(second.isLocked)
    }

    @Test("checkpoint and changelog helpers use the layout")
    func helpers() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let state = try StateDirectory(path: dir.file("state"))
        #expect(try state.loadCheckpoint() == nil)
        let changelog = try state.openChangelog(committed: nil)
        #expect(changelog.path.hasPrefix(state.changelogPath + "/"))
        let checkpoint = Checkpoint(
            generation: 1, inputs: [], outputs: [], changelog: changelog.position, streamTimeMs: nil)
        try state.save(checkpoint)
        #expect(try state.loadCheckpoint() == checkpoint)
        #expect(FileManager.default.fileExists(atPath: state.checkpointPath))
    }

    @Test("no checkpoint and nothing committed (a first run killed before its first commit): a fresh start")
    func nothingCommitted() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let state = try StateDirectory(path: dir.file("state"))
        // The changelog of generation 1 with records of the unfinished commit, synced.
        let changelog = try state.openChangelog(committed: nil)
        changelog.append(ChangelogEntry(key: [1, 2, 3], timestampMs: 5, value: [1]))
        try changelog.sync()
        changelog.close()
        // A store that was opened and written to, but never committed a changelog position.
        let store = try LMDBWindowStore(
            directory: state.storePath, configuration: WindowStoreConfiguration(name: "s", retention: .seconds(10)))
        try store.put(key: [1, 2, 3], timestampMs: 5, value: [1])
        try store.commit(metadata: [:])
        try store.close()
        #expect(try state.loadCheckpoint() == nil)
    }

    @Test(
        "no checkpoint but committed state: refused as a lost checkpoint, naming the file and the fix",
        arguments: ["store", "changelog generation 2"]
    )
    func checkpointLost(evidence: String) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let state = try StateDirectory(path: dir.file("state"))
        if evidence == "store" {
            let store = try LMDBWindowStore(
                directory: state.storePath, configuration: WindowStoreConfiguration(name: "s", retention: .seconds(10)))
            try store.put(key: [1, 2, 3], timestampMs: 5, value: [1])
            let position = ChangelogFilePosition(generation: 1, offset: 100)
            try store.commit(metadata: [ChangelogFilePosition.metadataKey: position.metadataBytes])
            try store.close()
        } else {
            // Only a compaction after a commit writes generation 2 (the name is what counts).
            let changelog = try state.openChangelog(committed: nil)
            changelog.close()
            try FileManager.default.moveItem(
                atPath: changelog.path, toPath: state.changelogPath + "/" + ChangelogFile.fileName(generation: 2))
        }
        let storeBytes = Files.exists(state.storePath + "/data.mdb") ? Files.read(state.storePath + "/data.mdb") : []
        let error = #expect(throws: EmbeddedError.self, "\(evidence)") { try state.loadCheckpoint() }
        #expect(error?.code == .corrupt)
        #expect(error?.message.contains(state.checkpointPath) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("delete the state directory") == true, "\(error?.message ?? "")")
        // Looking did not write to the store (its clean-shutdown mark and boot id stay).
        if !storeBytes.isEmpty { #expect(Files.read(state.storePath + "/data.mdb") == storeBytes) }
    }

    @Test("a state path that is a file is refused with its name")
    func notADirectory() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("state")
        Files.write([1], to: path)
        let error = #expect(throws: EmbeddedError.self) { try StateDirectory(path: path) }
        #expect(error?.message.contains(path) == true)
    }
}
