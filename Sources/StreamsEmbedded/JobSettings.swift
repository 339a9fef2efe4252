internal import Foundation
internal import StreamsState

/// The settings a state directory was built with (`STATE/job.json`). A rerun with another key,
/// time field, window or grace would silently mix two semantics in one store, so it is refused.
///
/// The outputs are part of the state too: the checkpoint records how much of each output file is
/// committed, and a rerun cuts each back to that length, so a rerun with another `--output`,
/// `--duplicates` or `--invalid` is refused rather than cutting, or appending to, a file the
/// checkpoint does not describe. A `job.json` written before outputs were recorded adopts the
/// outputs of its next run.
struct JobSettings: Codable, Hashable {
    /// The output paths as given on the command line (`-` for standard output).
    struct Outputs: Codable, Hashable {
        var output: String
        var duplicates: String?
        var invalid: String?
    }

    var keyFields: [String]
    var timeField: String?
    var windowMs: Int64
    var graceMs: Int64
    var outputs: Outputs?

    init(_ configuration: DedupJobConfiguration) {
        keyFields = configuration.keyFields
        timeField = configuration.timeField
        windowMs = configuration.window.milliseconds
        graceMs = configuration.grace.milliseconds
        outputs = Outputs(
            output: configuration.output,
            duplicates: configuration.duplicatesOutput,
            invalid: configuration.invalidOutput
        )
    }

    static func path(in state: StateDirectory) -> String { state.path + "/job.json" }

    /// The settings stored in `state`, or `nil` for a new state directory.
    static func load(from state: StateDirectory) throws(DedupJobError) -> JobSettings? {
        let path = Self.path(in: state)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try JSONDecoder().decode(JobSettings.self, from: data)
        } catch {
            throw DedupJobError(.io, "\(path) is damaged (\(error)); delete the state directory to start over")
        }
    }

    /// Checks these settings against the stored ones.
    ///
    /// - Returns: Whether they must be saved with ``save(in:)`` (a new state directory, or one
    ///   whose `job.json` does not record outputs yet); the caller saves them once the run's
    ///   files are open, so that a run refused on the way leaves no settings behind.
    /// - Throws: ``DedupJobError/Kind/usage`` when they differ.
    func check(in state: StateDirectory) throws(DedupJobError) -> Bool {
        if let stored = try Self.load(from: state) {
            guard stored.keyFields == keyFields, stored.timeField == timeField, stored.windowMs == windowMs,
                stored.graceMs == graceMs
            else {
                throw DedupJobError(
                    .usage,
                    "the state directory \(state.path) was built with --key \(stored.keyFields.joined(separator: " --key ")), "
                        + "\(stored.timeField.map { "--time-field \($0)" } ?? "processing time"), window \(stored.windowMs) ms, grace \(stored.graceMs) ms; "
                        + "run with the same settings, or use a new --state"
                )
            }
            guard let storedOutputs = stored.outputs else { return true }  // written before outputs were recorded
            guard let outputs, Self.sameOutputs(storedOutputs, outputs) else {
                throw DedupJobError(
                    .usage,
                    "the state directory \(state.path) continues \(Self.describe(storedOutputs)) (its checkpoint records how much of each is committed); "
                        + "give the same outputs, or use a new --state to start other files"
                )
            }
            return false
        }
        return true
    }

    /// Writes these settings to `STATE/job.json` (atomically).
    func save(in state: StateDirectory) throws(DedupJobError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            let data = try encoder.encode(self)
            try data.write(to: URL(fileURLWithPath: Self.path(in: state)), options: .atomic)
        } catch {
            throw DedupJobError(.io, "cannot write \(Self.path(in: state)): \(error)")
        }
    }

    /// Whether each output names the same file in both: the same spelling, or the same file
    /// (``FileIdentity``), so that `out.jsonl` and `./out.jsonl` agree.
    private static func sameOutputs(_ a: Outputs, _ b: Outputs) -> Bool {
        func same(_ x: String?, _ y: String?) -> Bool {
            guard let x, let y else { return x == nil && y == nil }
            return x == y || FileIdentity(of: x) == FileIdentity(of: y)
        }
        return same(a.output, b.output) && same(a.duplicates, b.duplicates) && same(a.invalid, b.invalid)
    }

    private static func describe(_ outputs: Outputs) -> String {
        var parts = ["--output \(outputs.output)"]
        parts.append(outputs.duplicates.map { "--duplicates \($0)" } ?? "no --duplicates")
        parts.append(outputs.invalid.map { "--invalid \($0)" } ?? "no --invalid")
        return parts.joined(separator: ", ")
    }
}
