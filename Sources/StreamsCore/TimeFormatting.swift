internal import Foundation

/// Times and durations for messages, in one form everywhere: engines, the runtime and the CLI
/// name event times and windows the same way.
public enum TimeFormatting {
    /// `2026-01-01T00:00:00.001Z`: an epoch-millisecond time in RFC 3339 (UTC, milliseconds).
    public static func iso8601(_ ms: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(ms) / 1000)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// `2026-01-01T00:00:00.001Z (1767225600001)`: ``iso8601(_:)`` with the raw milliseconds.
    public static func timestamp(_ ms: Int64) -> String { "\(iso8601(ms)) (\(ms))" }

    /// A duration in the command line's form (`2d3h`, `1m30s`, `250ms`), in at most `units` of
    /// its largest units, rounded down; `0ms` for zero, `-5ms` for a negative one.
    public static func duration(_ milliseconds: Int64, units: Int = 5) -> String {
        guard milliseconds > 0 else { return "\(milliseconds)ms" }
        var rest = milliseconds
        var text = ""
        var shown = 0
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
            let count = rest / size
            rest %= size
            if count > 0 || shown > 0 {
                if count > 0 { text += "\(count)\(unit)" }
                shown += 1
                if shown == units { break }
            }
        }
        return text
    }
}
