import Foundation
import StreamsEmbedded
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
        #expect(error?.message.contains("--state") == true)

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
