internal import StreamsJSON
internal import StreamsState
internal import StreamsStateLMDB

/// Why the embedded engine judged an input line invalid. It carries only what was found; the
/// message a user reads (``reason``) is built when it is shown, so that a skipped line that is
/// not reported costs no string.
enum InvalidLine: Error {
    /// The line is not a JSON object, is malformed, or is nested too deep.
    case json(JSONFieldError)
    /// A key field is missing, `null`, an object or an array, or an unusable number (the error's
    /// message names the field).
    case key(JSONFieldError)
    /// The time field (named `field`) is missing, `null`, or not a valid time.
    case time(JSONFieldError, field: String)
    /// The encoded key has `bytes` bytes, more than the `limit` the store accepts.
    case keyTooLarge(bytes: Int, limit: Int)
    /// The event time is further ahead of the wall clock than `--max-future` allows.
    case tooFarAhead(timestampMs: Int64, wallClockMs: Int64, maxFuture: Duration)

    /// What is wrong, for people: one clause, no file or line (the caller adds them).
    var reason: String {
        switch self {
        case .json(let error):
            let at = error.offset.map { " at byte \($0)" } ?? ""
            switch error.code {
            case .tooDeep: return "nested too deep\(at): \(error.message)"
            case .emptyInput, .notAnObject: return "not a JSON object\(at): \(error.message)"
            default: return "not valid JSON\(at): \(error.message)"
            }
        case .key(let error):
            return error.message
        case .time(let error, let field):
            return "time field '\(field)': \(error.message)"
        case .keyTooLarge(let bytes, let limit):
            return "the key is \(bytes) bytes encoded, more than the \(limit) bytes the store accepts "
                + "(its limit is \(Self.storeKeyLimit >> 20) MiB with framing)"
        case .tooFarAhead(let timestampMs, let wallClockMs, let maxFuture):
            return "the event time \(formatTimestamp(timestampMs)) is "
                + "\(Self.describe(approximately: timestampMs.subtractingSaturated(wallClockMs))) ahead of the wall "
                + "clock, more than --max-future \(Self.describe(milliseconds: maxFuture.milliseconds))"
        }
    }

    /// What the user can do when the line stops the run (the `fail` policy).
    var fix: String {
        let skip = "run with --on-invalid skip (and --invalid FILE to keep such lines)"
        switch self {
        case .tooFarAhead: return "fix the line's time, give a larger --max-future, or \(skip)"
        case .keyTooLarge: return "fix the line, use shorter key fields, or \(skip)"
        default: return "fix the line, or \(skip)"
        }
    }

    /// The LMDB store's key limit in bytes (``LMDBWindowStore/Options/maxKeySize``'s default).
    static let storeKeyLimit = LMDBWindowStore.Options().maxKeySize

    /// A duration in the command line's form (`2d3h`, `1m30s`, `250ms`); `0ms` for zero.
    static func describe(milliseconds: Int64) -> String {
        describe(milliseconds, units: 5)
    }

    /// A duration in its two largest units, rounded down (`2912105d17h`, `3m12s`).
    static func describe(approximately milliseconds: Int64) -> String {
        describe(milliseconds, units: 2)
    }

    private static func describe(_ milliseconds: Int64, units: Int) -> String {
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

extension Int64 {
    /// `self - other`, clamped to `Int64`.
    func subtractingSaturated(_ other: Int64) -> Int64 {
        let (result, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other > 0 ? .min : .max) : result
    }

    /// `self + other`, clamped to `Int64`.
    func addingSaturated(_ other: Int64) -> Int64 {
        let (result, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : result
    }
}
