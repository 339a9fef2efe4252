import ArgumentParser

/// The `dedup` command: exactly-once deduplication of JSON Lines files by business key.
@main
struct Dedup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dedup",
        abstract: "Deduplicate JSON Lines event files by business key, exactly once, across producers and restarts.",
        discussion: """
            Exit status: 0 when all inputs were consumed (dedup kafka: after SIGINT/SIGTERM, once committed), \
            64 usage error, 65 invalid data, 74 I/O error (disk full included), 70 internal error.
            """,
        version: DedupVersion.string,
        subcommands: [Run.self, Kafka.self, Inspect.self, Verify.self, Generate.self]
    )

    /// Runs the command; a usage error is one line on standard error (`dedup: …`), like every
    /// other error, instead of argument-parser's message followed by the usage.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help and --version: their text, on standard output.
                print(fullMessage(for: error))
            } else if !(error is ExitCode) {
                let arguments = CommandLine.arguments.dropFirst()
                let subcommand = configuration.subcommands.map { $0._commandName }.first { $0 == arguments.first }
                printToStandardError(
                    "dedup: \(message(for: error)) (see dedup \(subcommand.map { $0 + " " } ?? "")--help)")
            }
            exit(withError: code == .success ? nil : ExitCode(code.rawValue))
        }
    }
}

/// A `Duration` given as `250ms`, `30s`, `15m`, `24h`, `7d`, `1h30m` or `0`.
///
/// Parsing never fails here, so that `validate()` can say what is wrong with the text in a
/// sentence of its own (argument-parser only reports "the value is invalid"): check
/// ``problem`` before using ``duration``.
struct DurationArgument: ExpressibleByArgument, Sendable {
    /// The text as given.
    let text: String
    /// The duration, or zero when the text is not one.
    let duration: Duration
    /// Why the text is not a duration, if it is not.
    let problem: DurationParser.Failure?

    init?(argument: String) {
        text = argument
        do {
            duration = try DurationParser.parseAllowingZero(argument)
            problem = nil
        } catch {
            duration = .zero
            problem = error
        }
    }

    /// The duration, checked: a parse failure, or zero where `allowZero` is false, is a
    /// `ValidationError` naming `option` and saying why.
    func checked(_ option: String, allowZero: Bool, whyPositive: String = "") throws -> Duration {
        if let problem { throw ValidationError("\(option) \(text): \(problem)") }
        if !allowZero && duration == .zero {
            throw ValidationError("\(option) \(text): must be more than zero\(whyPositive)")
        }
        return duration
    }

    static var defaultCompletionKind: CompletionKind { .default }
}
