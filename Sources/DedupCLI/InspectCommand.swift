import ArgumentParser
import StreamsEmbedded
import DedupApp

extension Dedup {
    /// `dedup inspect`: what a state directory holds.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a state directory's store and changelog; with --key, whether that key is live."
        )

        @Option(help: "The state directory of an earlier `dedup run`.")
        var state: String

        @Option(
            name: .customLong("key"),
            help:
                "A key value, as JSON (42, \"abc\") or plain text for a string; repeat for each field of a composite key."
        )
        var keys: [String] = []

        func run() throws {
            do throws(DedupJobError) {
                let inspection = try DedupInspection(stateDirectory: state, keyValues: keys.isEmpty ? nil : keys)
                print(inspection.report)
            } catch {
                printToStandardError("dedup: \(error.message)")
                throw ExitCode(error.exitCode)
            }
        }
    }
}
