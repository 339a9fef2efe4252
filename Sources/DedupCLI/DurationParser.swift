/// Parses the durations the command line accepts: `250ms`, `30s`, `15m`, `24h`, `7d`, and
/// concatenations such as `1h30m` or `1d12h` (each unit once, largest first). `0` alone is zero.
enum DurationParser {
    /// Why a text is not a duration; ``description`` is the sentence shown to the user.
    enum Failure: Error, Hashable, CustomStringConvertible {
        case empty
        case negative
        case fraction
        case missingUnit(String)
        case missingNumber
        case unknownUnit(String)
        case repeatedUnit(String)
        case unitsOutOfOrder
        case tooLarge

        var description: String {
            switch self {
            case .empty: return "a duration is needed, such as 250ms, 30s, 15m, 24h, 7d or 1h30m"
            case .negative: return "a duration cannot be negative"
            case .fraction: return "fractions are not supported; use a smaller unit (1500ms, not 1.5s)"
            case .missingUnit(let number):
                return "\(number) needs a unit: ms, s, m, h or d (for example \(number)s)"
            case .missingNumber: return "each unit needs a number before it, as in 30s or 1h30m"
            case .unknownUnit(let unit): return "unknown unit '\(unit)'; the units are ms, s, m, h and d"
            case .repeatedUnit(let unit):
                return "the unit \(unit) appears twice; give each unit once, largest first, as in 1h30m"
            case .unitsOutOfOrder: return "give the units largest first, as in 1h30m or 1d12h"
            case .tooLarge: return "too large (at most 106751991167d, and far less makes sense)"
            }
        }
    }

    /// The positive duration `text` denotes, or `nil` when it is not one (zero included).
    static func parse(_ text: String) -> Duration? {
        guard let duration = try? parseAllowingZero(text), duration > .zero else { return nil }
        return duration
    }

    /// The duration `text` denotes, zero included (`0`, `0s`, `0ms`).
    ///
    /// - Throws: ``Failure`` saying what is wrong with the text.
    static func parseAllowingZero(_ text: String) throws(Failure) -> Duration {
        var totalMs: Int64 = 0
        var digits: Int64? = nil
        var digitText = ""
        var characters = Array(text.utf8)[...]
        // Units seen so far, as their size in ms: each must be smaller than the one before.
        var previousUnitMs = Int64.max
        var previousUnitName = ""
        guard let first = characters.first else { throw .empty }
        if first == UInt8(ascii: "-") { throw .negative }
        if text == "0" { return .zero }
        while let c = characters.first {
            if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                let (shifted, o1) = (digits ?? 0).multipliedReportingOverflow(by: 10)
                let (value, o2) = shifted.addingReportingOverflow(Int64(c - UInt8(ascii: "0")))
                guard !o1, !o2 else { throw .tooLarge }
                digits = value
                digitText.append(Character(UnicodeScalar(c)))
                characters = characters.dropFirst()
                continue
            }
            if c == UInt8(ascii: ".") || c == UInt8(ascii: ",") { throw .fraction }
            if c == UInt8(ascii: "-") { throw .negative }
            guard let amount = digits else { throw .missingNumber }
            let letters = characters.prefix { !Self.isDigit($0) }
            let unitName = String(decoding: letters, as: UTF8.self)
            let unitMs: Int64
            switch unitName {
            case "ms": unitMs = 1
            case "s": unitMs = 1_000
            case "m": unitMs = 60_000
            case "h": unitMs = 3_600_000
            case "d": unitMs = 86_400_000
            default: throw .unknownUnit(unitName)
            }
            characters = characters.dropFirst(letters.count)
            if unitName == previousUnitName { throw .repeatedUnit(unitName) }
            guard unitMs < previousUnitMs else { throw .unitsOutOfOrder }
            previousUnitMs = unitMs
            previousUnitName = unitName
            let (part, o1) = amount.multipliedReportingOverflow(by: unitMs)
            let (sum, o2) = totalMs.addingReportingOverflow(part)
            guard !o1, !o2 else { throw .tooLarge }
            totalMs = sum
            digits = nil
            digitText = ""
        }
        if digits != nil { throw .missingUnit(digitText) }
        return .milliseconds(totalMs)
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
}
