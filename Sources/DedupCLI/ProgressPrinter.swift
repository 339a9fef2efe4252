import Foundation
import StreamsEmbedded
import DedupApp
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The progress line on a terminal: rewritten in place, at most a few times a second (the job
/// calls ``show(_:)`` at most every 250 ms).
final class ProgressPrinter: Sendable {
    private let enabled: Bool
    private let shown = Atomic<Bool>(false)

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ progress: DedupJobProgress) {
        guard enabled else { return }
        let line: String
        switch progress.phase {
        case .restoring(let entries):
            line = "restoring the store from its changelog: \(entries) entries"
        case .running, .waiting:
            let rate = Int(progress.recordsPerSecond)
            let waiting = progress.phase == .waiting ? "  (waiting for input)" : ""
            line =
                "\(progress.recordsRead) records  \(rate) rec/s  \(progress.duplicates) duplicates  at \(progress.position)\(waiting)"
        }
        printToStandardError("\r\u{1B}[2K" + line, newline: false)
        shown.store(true, ordering: .relaxed)
    }

    func finish() {
        if enabled && shown.load(ordering: .relaxed) { printToStandardError("") }
    }
}

/// Writes `text` to standard error.
func printToStandardError(_ text: String, newline: Bool = true) {
    let data = Array((newline ? text + "\n" : text).utf8)
    data.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let n = write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
            if n <= 0 { return }
            offset += n
        }
    }
}

extension DedupJobSummary {
    /// The summary as one line of JSON, keys sorted.
    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
