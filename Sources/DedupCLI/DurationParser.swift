/// Parses the durations the command line accepts: `250ms`, `30s`, `15m`, `24h`, `7d`, and
/// concatenations such as `1h30m` or `1d12h`.
enum DurationParser {
    /// The duration `text` denotes, or `nil` when it is not of that form or is zero.
    static func parse(_ text: String) -> Duration? {
        var totalMs: Int64 = 0
        var digits: Int64? = nil
        var characters = Array(text.utf8)[...]
        guard !characters.isEmpty else { return nil }
        while let c = characters.first {
            if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                let (shifted, o1) = (digits ?? 0).multipliedReportingOverflow(by: 10)
                let (value, o2) = shifted.addingReportingOverflow(Int64(c - UInt8(ascii: "0")))
                guard !o1, !o2 else { return nil }
                digits = value
                characters = characters.dropFirst()
                continue
            }
            guard let amount = digits else { return nil }
            let unitMs: Int64
            if characters.starts(with: "ms".utf8) {
                unitMs = 1
                characters = characters.dropFirst(2)
            } else {
                switch c {
                case UInt8(ascii: "s"): unitMs = 1_000
                case UInt8(ascii: "m"): unitMs = 60_000
                case UInt8(ascii: "h"): unitMs = 3_600_000
                case UInt8(ascii: "d"): unitMs = 86_400_000
                default: return nil
                }
                characters = characters.dropFirst()
            }
            let (part, o1) = amount.multipliedReportingOverflow(by: unitMs)
            let (sum, o2) = totalMs.addingReportingOverflow(part)
            guard !o1, !o2 else { return nil }
            totalMs = sum
            digits = nil
        }
        guard digits == nil, totalMs > 0 else { return nil }
        return .milliseconds(totalMs)
    }
}
