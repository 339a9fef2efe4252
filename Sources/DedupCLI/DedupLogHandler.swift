import Logging

/// The CLI's log handler: one plain line per message on standard error, `dedup: warning: …`,
/// with no timestamp or label, so that a warning reads like the `dedup: …` error line README
/// promises. Standard output may be the `--output`, so nothing goes there.
struct DedupLogHandler: LogHandler {
    var logLevel: Logger.Level = .warning
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        printToStandardError("dedup: \(event.level): \(event.message)")
    }
}
