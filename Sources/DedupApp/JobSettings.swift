internal import StreamsEmbedded
internal import Foundation
internal import StreamsState

/// The settings a state directory was built with (`STATE/job.json`). A rerun with another key,
/// time field, window or grace would silently mix two semantics in one store, so it is refused.
///
/// The outputs are part of the state too: the checkpoint records how much of each output file is
/// committed, and a rerun cuts each back to that length. So each role (`--output`, `--duplicates`,
/// `--invalid`) is bound to its file once used: a rerun naming another file for it is refused
/// rather than cutting, or appending to, a file the checkpoint does not describe. A rerun may
/// leave `--duplicates` or `--invalid` out (that file then keeps its committed lines, and the
/// checkpoint keeps its length for a later run that names it again), and may add one never used
/// before, which starts empty like a new state's outputs. A `job.json` written before outputs
/// were recorded adopts the outputs of its next run.
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

    /// Locks an existing state directory for a tool that reads it (`dedup inspect`, `verify`)
    /// and loads its settings.
    ///
    /// - Returns: The locked directory (unlock it when done) and its settings.
    /// - Throws: ``DedupJobError``: usage when `path` is not a state directory written by
    ///   `dedup run`, I/O when it is locked by a run or cannot be read.
    static func openExisting(_ path: String) throws(DedupJobError) -> (StateDirectory, JobSettings) {
        guard FileManager.default.fileExists(atPath: path + "/job.json") else {
            throw DedupJobError(
                .usage, "\(path) is not a dedup state directory (no job.json); give the --state of an earlier dedup run"
            )
        }
        let state = try DedupJobError.wrap { () throws(EmbeddedError) in try StateDirectory(path: path) }
        guard let settings = try load(from: state) else {
            state.unlock()
            throw DedupJobError(.usage, "\(path) has no job.json")
        }
        return (state, settings)
    }

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
    /// - Returns: The settings to save with ``save(in:)``, or `nil` when `job.json` needs no
    ///   change: these for a new state directory, the stored ones with the outputs this run adds
    ///   otherwise. The caller saves them once the run's files are open, so that a run refused on
    ///   the way leaves no settings behind.
    /// - Throws: ``DedupJobError/Kind/usage`` when the semantics or an output's file differ.
    func check(in state: StateDirectory) throws(DedupJobError) -> JobSettings? {
        guard let stored = try Self.load(from: state) else { return self }
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
        guard let storedOutputs = stored.outputs else { return self }  // written before outputs were recorded
        guard let outputs else { return nil }
        var merged = storedOutputs
        func bind(_ flag: String, _ recorded: String?, _ given: String?, optional: Bool) throws(DedupJobError)
            -> String?
        {
            guard let given else { return recorded }
            guard let recorded else { return given }
            guard recorded == given || FileIdentity(of: recorded) == FileIdentity(of: given) else {
                throw DedupJobError(
                    .usage,
                    "the state directory \(state.path) writes \(flag) \(recorded) (its checkpoint records how much of it is committed), not \(given); "
                        + "give \(flag) \(recorded)\(optional ? " or leave \(flag) out" : ""), or use a new --state to start other files"
                )
            }
            return recorded
        }
        merged.output = try bind("--output", storedOutputs.output, outputs.output, optional: false) ?? outputs.output
        merged.duplicates = try bind("--duplicates", storedOutputs.duplicates, outputs.duplicates, optional: true)
        merged.invalid = try bind("--invalid", storedOutputs.invalid, outputs.invalid, optional: true)
        guard merged != storedOutputs else { return nil }
        var updated = stored
        updated.outputs = merged
        return updated
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
}
