public import StreamsState
internal import Foundation

/// What the embedded engine needs to run a job over JSON Lines files: the inputs (the partitions
/// of its one source topic), the output file of each sink topic, how records get their key and
/// time, the invalid-line policy and the guarantee. The application (`dedup run`) builds it from
/// its own configuration; nothing here is specific to deduplication.
package struct EmbeddedEngineConfiguration: Sendable {
    /// Input files, in tie-break order; `-` is standard input.
    package var inputs: [String]
    /// The file the `output` sink topic writes.
    package var output: String
    /// The file the `duplicates` sink topic writes, if any.
    package var duplicatesOutput: String?
    /// The file the `invalid` (dead-letter) sink topic writes, if any.
    package var invalidOutput: String?
    /// Dotted paths of the key fields; the key is their canonical encoding (StreamsJSON).
    package var keyFields: [String]
    /// Dotted path of the event time, or `nil` for the wall clock when a line is read.
    package var timeField: String?
    /// How far ahead of the stream time an event time may run before the engine warns once.
    package var farFutureWarningAfter: Duration
    /// Event times further ahead of the wall clock than this are invalid lines.
    package var maxFuture: Duration?
    /// Whether an invalid line stops its input (`fail`) rather than becoming a keyless record
    /// the topology dead-letters (`skip`).
    package var failOnInvalid: Bool
    /// Whether outputs are cut back to the committed length on restart (exactly-once).
    package var exactlyOnce: Bool
    /// Whether state is durable (a state directory, changelog and checkpoint).
    package var durable: Bool
    /// Keep reading as inputs grow.
    package var follow: Bool
    /// The changelog is compacted once larger than this (and three times its base).
    package var compactionThresholdBytes: Int64
    /// The state directory, for messages.
    package var stateDirectory: String

    /// Creates a configuration.
    package init(
        inputs: [String], output: String, duplicatesOutput: String?, invalidOutput: String?, keyFields: [String],
        timeField: String?, farFutureWarningAfter: Duration, maxFuture: Duration?, failOnInvalid: Bool,
        exactlyOnce: Bool, durable: Bool, follow: Bool, compactionThresholdBytes: Int64, stateDirectory: String
    ) {
        self.inputs = inputs
        self.output = output
        self.duplicatesOutput = duplicatesOutput
        self.invalidOutput = invalidOutput
        self.keyFields = keyFields
        self.timeField = timeField
        self.farFutureWarningAfter = farFutureWarningAfter
        self.maxFuture = maxFuture
        self.failOnInvalid = failOnInvalid
        self.exactlyOnce = exactlyOnce
        self.durable = durable
        self.follow = follow
        self.compactionThresholdBytes = compactionThresholdBytes
        self.stateDirectory = stateDirectory
    }
}

/// Why the embedded engine stopped, sorted into classes the application maps to exit statuses:
/// a usage problem (the state does not fit the inputs), invalid data (a line under `fail`), or
/// an I/O failure.
package struct EngineFailure: Error, Sendable {
    /// The class of failure.
    package enum Kind: Sendable, Hashable {
        case usage
        case invalidData
        case io
    }

    /// The class.
    package var kind: Kind
    /// One line naming the file (and line) and what to do.
    package var message: String

    /// Creates a failure.
    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// Sorts a file error: a recorded position that does not fit the file is a usage problem,
    /// everything else I/O.
    package init(_ error: EmbeddedError) {
        self.init(error.code == .positionMismatch ? .usage : .io, error.message)
    }
}

/// `2026-01-01T00:00:00.001Z (1767225600001)`: an epoch-millisecond time for messages.
package func formatTimestamp(_ ms: Int64) -> String {
    let date = Date(timeIntervalSince1970: Double(ms) / 1000)
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return "\(formatter.string(from: date)) (\(ms))"
}
