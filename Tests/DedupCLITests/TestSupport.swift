import Foundation
import StreamsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What a finished `dedup` process left behind.
struct DedupResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// The real `dedup` executable, run as a child process.
enum DedupCLI {
    /// The executable built next to the test bundle (`.build/<config>/dedup`).
    static let path = BuiltExecutable.path("dedup")

    /// Starts `dedup arguments` with standard output and error going to files in `directory`.
    static func launch(
        _ arguments: [String],
        in directory: String,
        standardInput: FileHandle? = nil
    ) throws -> (process: Process, stdout: String, stderr: String) {
        let id = UUID().uuidString.prefix(8)
        let stdoutPath = directory + "/.stdout-\(id)"
        let stderrPath = directory + "/.stderr-\(id)"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardInput = standardInput ?? FileHandle.nullDevice
        try process.run()
        return (process, stdoutPath, stderrPath)
    }

    /// Waits for `process` for at most `timeout` seconds (then kills it and records an issue). A
    /// process that already exited and only waits to be reaped (a zombie: Foundation notices the
    /// exit late on a loaded machine) is not a hang: its status is awaited.
    static func wait(_ process: Process, timeout: Double = 30) {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline && !hasExited(process.processIdentifier) {
                Issue.record("dedup \(process.arguments ?? []) did not finish within \(timeout) s; killed")
                kill(process.processIdentifier, SIGKILL)
                break
            }
            usleep(2_000)
        }
        process.waitUntilExit()
    }

    /// Whether process `pid` has exited and is waiting to be reaped (state `Z` in `/proc/<pid>/stat`).
    static func hasExited(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return false }
        return stat[end...].dropFirst(2).first == "Z"
    }

    /// Runs `dedup arguments` to the end.
    @discardableResult
    static func run(_ arguments: [String], in directory: String, timeout: Double = 30) throws -> DedupResult {
        let (process, stdoutPath, stderrPath) = try launch(arguments, in: directory)
        wait(process, timeout: timeout)
        defer {
            try? FileManager.default.removeItem(atPath: stdoutPath)
            try? FileManager.default.removeItem(atPath: stderrPath)
        }
        let status = process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
        return DedupResult(status: status, stdout: Files.text(stdoutPath), stderr: Files.text(stderrPath))
    }
}

extension Files {
    /// The committed checkpoint of a state directory, as JSON, if there is one.
    static func checkpoint(_ state: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: state + "/checkpoint.json") else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    /// The length of output `path` that the checkpoint counts as committed (durable), if listed.
    static func committedLength(_ state: String, of path: String) -> Int? {
        guard let outputs = checkpoint(state)?["outputs"] as? [[String: Any]] else { return nil }
        return (outputs.first { $0["path"] as? String == path }?["committedLength"] as? NSNumber)?.intValue
    }

    /// The sum of the checkpoint's input line numbers: how many lines it covers.
    static func committedLines(_ state: String) -> Int? {
        guard let inputs = checkpoint(state)?["inputs"] as? [[String: Any]] else { return nil }
        return inputs.reduce(0) { $0 + (($1["lineNumber"] as? NSNumber)?.intValue ?? 0) }
    }
}
