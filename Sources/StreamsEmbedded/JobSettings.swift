internal import Foundation
internal import StreamsState

/// The settings a state directory was built with (`STATE/job.json`). A rerun with another key,
/// time field, window or grace would silently mix two semantics in one store, so it is refused.
struct JobSettings: Codable, Hashable {
    var keyFields: [String]
    var timeField: String?
    var windowMs: Int64
    var graceMs: Int64

    init(_ configuration: DedupJobConfiguration) {
        keyFields = configuration.keyFields
        timeField = configuration.timeField
        windowMs = configuration.window.milliseconds
        graceMs = configuration.grace.milliseconds
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

    /// Stores these settings in a new state directory, or checks that they match the stored ones.
    func verify(in state: StateDirectory) throws(DedupJobError) {
        if let stored = try Self.load(from: state) {
            guard stored == self else {
                throw DedupJobError(
                    .usage,
                    "the state directory \(state.path) was built with --key \(stored.keyFields.joined(separator: " --key ")), "
                        + "\(stored.timeField.map { "--time-field \($0)" } ?? "processing time"), window \(stored.windowMs) ms, grace \(stored.graceMs) ms; "
                        + "run with the same settings, or use a new --state"
                )
            }
            return
        }
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
