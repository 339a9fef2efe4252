import Foundation
import StreamsEmbedded
import Testing
import StreamsTestSupport

@Suite("OutputFile")
struct OutputFileTests {
    @Test("appends stay buffered until flush, then land in order; sync sets the committed length")
    func bufferedAppends() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("out.jsonl")
        let output = try OutputFile(path: path, mode: .truncate)
        var expected: [UInt8] = []
        for i in 0..<1_000 {
            let line = Array("{\"i\":\(i)}".utf8)
            try line.withUnsafeBytes { try output.appendLine($0) }
            expected += line + [10]
        }
        #expect(Files.size(path) == 0, "an append wrote to the file before flush")
        #expect(output.length == 0)
        #expect(output.appendedLength == Int64(expected.count))
        try output.flush()
        #expect(Files.read(path) == expected)
        #expect(output.length == 0, "length counts synced bytes only")
        try output.sync()
        #expect(output.length == Int64(expected.count))
        try output.close()
    }

    @Test("the buffer is written out when it passes the threshold, in few large writes")
    func threshold() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("out.jsonl")
        let output = try OutputFile(path: path, mode: .truncate, flushThreshold: 4_096)
        let record = [UInt8](repeating: UInt8(ascii: "x"), count: 100)
        for _ in 0..<40 { try output.append(record) }  // 4,000 bytes: below the threshold
        #expect(Files.size(path) == 0)
        try output.append(record)  // 4,100: written out in one go
        #expect(Files.size(path) == 4_100)
        try output.sync()
        #expect(output.length == 4_100)
    }

    @Test("resume cuts off what was written after the committed length; a shorter file is refused")
    func resume() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("out.jsonl")
        Files.write(Array("committed\nnot committed\n".utf8), to: path)
        let output = try OutputFile(path: path, mode: .resume(committedLength: 10))
        #expect(Files.read(path) == Array("committed\n".utf8))
        #expect(output.length == 10)
        try output.append(Array("more\n".utf8))
        try output.sync()
        #expect(Files.read(path) == Array("committed\nmore\n".utf8))
        #expect(output.length == 15)
        try output.close()

        let error = #expect(throws: EmbeddedError.self) {
            try OutputFile(path: path, mode: .resume(committedLength: 100))
        }
        #expect(error?.code == .positionMismatch)
        #expect(error?.message.contains(path) == true)
    }

    @Test("append mode keeps whole lines written after a commit but cuts a torn last line", arguments: [0, 1, 70_000])
    func appendCutsTornLine(longLine: Int) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("out.jsonl")
        let long = String(repeating: "x", count: longLine)
        Files.write(Array("one\n\(long)two\nthree-torn".utf8), to: path)
        let output = try OutputFile(path: path, mode: .append)
        #expect(Files.read(path) == Array("one\n\(long)two\n".utf8))
        #expect(output.length == Int64(8 + longLine))
        try output.append(Array("four\n".utf8))
        try output.sync()
        #expect(Files.read(path) == Array("one\n\(long)two\nfour\n".utf8))
        try output.close()

        Files.write(Array(String(repeating: "y", count: 70_000).utf8), to: path)  // no newline at all
        let empty = try OutputFile(path: path, mode: .append)
        #expect(empty.length == 0)
        #expect(Files.read(path).isEmpty)
        try empty.close()
    }

    @Test("truncate rolls back a failed commit to the committed length")
    func rollback() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("out.jsonl")
        let output = try OutputFile(path: path, mode: .truncate)
        try output.append(Array("a\n".utf8))
        try output.sync()
        try output.append(Array("b\n".utf8))
        try output.flush()
        try output.append(Array("c\n".utf8))
        try output.truncate(to: output.length)
        #expect(Files.read(path) == Array("a\n".utf8))
        #expect(output.appendedLength == 2)
    }

    @Test("truncate mode empties an existing file")
    func truncateMode() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("out.jsonl")
        Files.write(Array("old run\n".utf8), to: path)
        let output = try OutputFile(path: path, mode: .truncate)
        try output.close()
        #expect(Files.size(path) == 0)
    }

    @Test("unusable paths give errors that name the file and the fix")
    func openErrors() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let missing = dir.file("no-such-dir/out.jsonl")
        let notFound = #expect(throws: EmbeddedError.self) { try OutputFile(path: missing, mode: .truncate) }
        #expect(notFound?.code == .notFound)
        #expect(notFound?.message.contains(missing) == true)
        #expect(notFound?.message.contains("directory must exist") == true)

        let isDirectory = #expect(throws: EmbeddedError.self) { try OutputFile(path: dir.path, mode: .truncate) }
        #expect(isDirectory?.message.contains(dir.path) == true)
        #expect(isDirectory?.message.contains("directory") == true)

        // Root ignores file permissions, so use a file system that refuses writes for everyone.
        let readOnly = "/proc/version"
        let denied = #expect(throws: EmbeddedError.self) { try OutputFile(path: readOnly, mode: .truncate) }
        #expect(denied?.code == .permissionDenied || denied?.code == .io)
        #expect(denied?.message.contains(readOnly) == true)
    }

    @Test(
        "a full disk (ENOSPC, real tmpfs of 64 KiB) gives diskFull naming the file; the committed part is intact",
        .enabled(
            if: SmallFileSystem.isPermitted, "mounting a tmpfs is not permitted here (needs root with CAP_SYS_ADMIN)")
    )
    func diskFull() throws {
        let fs = try SmallFileSystem(size: "64k")
        defer { fs.unmount() }
        let path = fs.path + "/out.jsonl"
        let output = try OutputFile(path: path, mode: .truncate)
        let line = [UInt8](repeating: UInt8(ascii: "x"), count: 1_023) + [10]
        for _ in 0..<16 { try output.append(line) }
        try output.sync()
        #expect(output.length == 16 * 1_024)
        for _ in 0..<200 { try output.append(line) }  // 200 KiB more than the file system holds
        let error = #expect(throws: EmbeddedError.self) { try output.sync() }
        #expect(error?.code == .diskFull)
        #expect(error?.errno == ENOSPC)
        #expect(error?.message.contains(path) == true)
        #expect(error?.message.contains("free space") == true)
        #expect(output.length == 16 * 1_024, "the committed length moved on a failed sync")
        try output.truncate(to: output.length)
        #expect(Files.size(path) == 16 * 1_024)
        // And reopening for recovery works on the full file system (once this writer is closed:
        // an open output file is locked).
        try output.close()
        _ = try OutputFile(path: path, mode: .resume(committedLength: 16 * 1_024))
    }

    @Test("- is standard output: appends are written at flush, sync only flushes, nothing is truncated")
    func standardOutput() throws {
        let output = try OutputFile(path: "-", mode: .resume(committedLength: 42))
        #expect(output.isStandardOutput)
        #expect(output.length == 42, "checkpoint lengths keep counting on standard output")
        let line = Array("{\"from\":\"OutputFileTests.standardOutput\"}\n".utf8)
        try output.append(line)
        try output.sync()
        #expect(output.length == 42 + Int64(line.count))
        try output.close()
    }
}
