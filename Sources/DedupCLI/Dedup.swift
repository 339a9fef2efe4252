import ArgumentParser

/// The `dedup` command: exactly-once deduplication of JSON Lines files by business key.
@main
struct Dedup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dedup",
        abstract: "Deduplicate JSON Lines event files by business key, exactly once, across producers and restarts.",
        discussion: """
            Exit status: 0 when all inputs were consumed (or after SIGINT/SIGTERM, once committed), \
            64 usage error, 65 invalid data, 74 I/O error (disk full included), 70 internal error.
            """,
        subcommands: [Run.self, Inspect.self, Verify.self, Generate.self]
    )
}

/// A `Duration` given as `250ms`, `30s`, `15m`, `24h`, `7d` or `1h30m`.
struct DurationArgument: ExpressibleByArgument, Sendable {
    let duration: Duration

    init?(argument: String) {
        guard let duration = DurationParser.parse(argument) else { return nil }
        self.duration = duration
    }

    static var defaultCompletionKind: CompletionKind { .default }
}
