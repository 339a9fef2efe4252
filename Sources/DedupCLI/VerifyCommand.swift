import ArgumentParser
import StreamsEmbedded
import DedupApp

extension Dedup {
    /// `dedup verify`: whether the store holds exactly what the changelog says.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that a state directory's LMDB store agrees with its changelog.",
            discussion: """
                LMDB keeps no checksums: a damaged store file can answer lookups wrongly without an error. \
                This rebuilds the state the checksummed changelog describes in memory and compares it with \
                the store, both ways (every live entry of each in the other). Exit status: 0 when they agree \
                (or the next run rebuilds the store anyway), 65 naming the first difference (delete \
                STATE/store and the next run rebuilds it from the changelog), 64 usage, 74 I/O error.
                """
        )

        @Option(help: "The state directory of an earlier `dedup run` (not in use by a run).")
        var state: String

        func run() throws {
            do throws(DedupJobError) {
                let verification = try DedupVerification(stateDirectory: state)
                print(verification.report)
            } catch {
                printToStandardError("dedup: \(error.message)")
                throw ExitCode(error.exitCode)
            }
        }
    }
}
