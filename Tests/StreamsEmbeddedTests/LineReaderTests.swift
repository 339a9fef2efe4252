import Foundation
import StreamsEmbedded
import Testing
import StreamsTestSupport

@Suite("LineReader")
struct LineReaderTests {
    struct Seen: Equatable, CustomStringConvertible {
        var text: String
        var offset: Int64
        var number: Int64
        var description: String { "\(number)@\(offset):\(text)" }
    }

    /// Reads every batch until the status is not `.lines`.
    static func drain(_ reader: LineReader, maxLines: Int = 4_096) throws -> (lines: [Seen], status: LineReadStatus) {
        var seen: [Seen] = []
        while true {
            let status = try reader.nextBatch(maxLines: maxLines)
            guard case .lines(let count) = status else { return (seen, status) }
            var inBatch = 0
            reader.forEachLine { line in
                seen.append(
                    Seen(text: String(decoding: line.bytes, as: UTF8.self), offset: line.offset, number: line.number))
                inBatch += 1
            }
            #expect(inBatch == count && count <= maxLines && count > 0)
        }
    }

    @Test(
        "CRLF, blank lines, a final line without newline; offsets and 1-based line numbers",
        arguments: [1, 3, 16, 1 << 20])
    func lines(chunkSize: Int) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("in.jsonl")
        Files.write(Array("{\"a\":1}\n\r\n{\"b\":2}\r\n\n  \t\n{\"c\":3}".utf8), to: path)
        let reader = try LineReader(path: path, chunkSize: chunkSize)
        let (seen, status) = try Self.drain(reader)
        #expect(status == .endOfInput)
        #expect(
            seen == [
                Seen(text: "{\"a\":1}", offset: 0, number: 1),
                Seen(text: "{\"b\":2}", offset: 10, number: 3),
                Seen(text: "{\"c\":3}", offset: 24, number: 6),
            ]
        )
        #expect(reader.byteOffset == 31)
        #expect(reader.lineNumber == 6)
        #expect(try reader.nextBatch() == .endOfInput)
    }

    @Test("resuming at a checkpointed position continues with the right offsets and numbers")
    func resume() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("in.jsonl")
        let text = (1...1_000).map { "{\"n\":\($0)}\n" }.joined()
        Files.write(Array(text.utf8), to: path)
        let first = try LineReader(path: path, chunkSize: 4_096)
        guard case .lines = try first.nextBatch(maxLines: 300) else {
            Issue.record("no lines")
            return
        }
        let (offset, number) = (first.byteOffset, first.lineNumber)
        #expect(number == 300)
        let second = try LineReader(path: path, offset: offset, lineNumber: number, chunkSize: 4_096)
        let (rest, _) = try Self.drain(second, maxLines: 77)
        #expect(rest.count == 700)
        #expect(rest.first == Seen(text: "{\"n\":301}", offset: offset, number: 301))
        #expect(rest.last?.number == 1_000)
        #expect(rest.map(\.text) == (301...1_000).map { "{\"n\":\($0)}" })
    }

    @Test("a line longer than the buffer grows it")
    func longLine() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("in.jsonl")
        let long = String(repeating: "x", count: 100_000)
        Files.write(Array("a\n\(long)\nb\n".utf8), to: path)
        let (seen, _) = try Self.drain(try LineReader(path: path, chunkSize: 64))
        #expect(seen.map(\.text) == ["a", long, "b"])
    }

    @Test("follow mode: no data yet at end of file, an incomplete line is held until its newline")
    func follow() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("in.jsonl")
        Files.write(Array("one\ntw".utf8), to: path)
        let reader = try LineReader(path: path, follow: true)
        var (seen, status) = try Self.drain(reader)
        #expect(seen.map(\.text) == ["one"])
        #expect(status == .noDataYet)
        #expect(reader.byteOffset == 4, "the incomplete line must not be consumed")
        #expect(try reader.nextBatch() == .noDataYet)
        Files.append(Array("o\nthree\nfo".utf8), to: path)
        (seen, status) = try Self.drain(reader)
        #expect(seen == [Seen(text: "two", offset: 4, number: 2), Seen(text: "three", offset: 8, number: 3)])
        #expect(status == .noDataYet)
        reader.stopFollowing()
        (seen, status) = try Self.drain(reader)
        #expect(seen == [Seen(text: "fo", offset: 14, number: 4)])
        #expect(status == .endOfInput)
        #expect(reader.byteOffset == 16)
    }

    @Test("a followed file that shrinks is reported")
    func followTruncated() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("in.jsonl")
        Files.write(Array("one\ntwo\n".utf8), to: path)
        let reader = try LineReader(path: path, follow: true)
        _ = try Self.drain(reader)
        Files.truncate(path, to: 2)
        let error = #expect(throws: EmbeddedError.self) { _ = try reader.nextBatch() }
        #expect(error?.code == .positionMismatch)
        #expect(error?.message.contains(path) == true)
    }

    @Test("errors name the input: missing file, offset past the end")
    func errors() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let missing = dir.file("missing.jsonl")
        let notFound = #expect(throws: EmbeddedError.self) { try LineReader(path: missing) }
        #expect(notFound?.code == .notFound)
        #expect(notFound?.message.contains(missing) == true)

        let path = dir.file("in.jsonl")
        Files.write(Array("a\n".utf8), to: path)
        let short = #expect(throws: EmbeddedError.self) { try LineReader(path: path, offset: 10, lineNumber: 3) }
        #expect(short?.code == .positionMismatch)
        #expect(short?.message.contains(path) == true)

        let stdin = #expect(throws: EmbeddedError.self) { try LineReader(path: "-", offset: 10, lineNumber: 3) }
        #expect(stdin?.code == .positionMismatch)
        #expect(stdin?.message.contains("standard input") == true)
    }

    @Test("- reads standard input: a real pipe on fd 0, not seekable, ended by closing it")
    func standardInput() throws {
        // No other test reads standard input, so this one may swap fd 0 for a pipe.
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let payload = Array("x\r\n\ny".utf8)
        _ = payload.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
        close(fds[1])
        let saved = dup(0)
        dup2(fds[0], 0)
        close(fds[0])
        defer {
            dup2(saved, 0)
            close(saved)
        }
        let reader = try LineReader(path: "-", follow: true)
        let (seen, status) = try Self.drain(reader)
        #expect(seen == [Seen(text: "x", offset: 0, number: 1), Seen(text: "y", offset: 4, number: 3)])
        #expect(status == .endOfInput, "a closed pipe ends the input even in follow mode")
    }

    @Test(
        "lines of every length from 0 to 300 bytes (the 16-byte words, the switch to memchr at 128), LF and CRLF",
        arguments: [7, 64, 1 << 20])
    func everyLength(chunkSize: Int) throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("in.jsonl")
        // Bytes next to '\n' in value, and '\n' with its high bit set, must not be taken for it.
        let filler: [UInt8] = [0x0B, 0x8A, 0x09, 0x61, 0x0C, 0x8B, 0x62, 0x4A]
        var input: [UInt8] = []
        var expected: [Seen] = []
        var number: Int64 = 0
        for length in 0...300 {
            for crlf in [false, true] {
                let offset = Int64(input.count)
                var line = (0..<length).map { filler[($0 &* 7 &+ length) % filler.count] }
                if length > 0 { line[0] = UInt8(ascii: "{") }
                input += line + (crlf ? [0x0D, 0x0A] : [0x0A])
                number += 1
                if length > 0 {
                    expected.append(Seen(text: String(decoding: line, as: UTF8.self), offset: offset, number: number))
                }
            }
        }
        let last = Array("{\"final\":true}".utf8)
        expected.append(
            Seen(text: String(decoding: last, as: UTF8.self), offset: Int64(input.count), number: number + 1))
        input += last
        Files.write(input, to: path)
        let reader = try LineReader(path: path, chunkSize: chunkSize)
        let (seen, status) = try Self.drain(reader, maxLines: 97)
        #expect(status == .endOfInput)
        #expect(seen.count == expected.count)
        for (got, want) in zip(seen, expected) where got != want {
            Issue.record("line \(want.number): got \(got), expected \(want)")
            break
        }
        #expect(reader.byteOffset == Int64(input.count))
        #expect(reader.lineNumber == number + 1)
    }

}
